//! The load benchmark behind `just bench-load`.
//!
//! In one run it starts, each pinned to CPU 0 (with Redis, when used, on the
//! same core: "one core for the whole service"):
//!
//! - a baseline actix-web handler (this same executable, `--serve-baseline`)
//!   that parses the token form and returns a fixed token-shaped JSON,
//! - `oauth-server` on the in-memory store,
//! - `oauth-server` on a private Redis,
//!
//! and drives them with `wrk` pinned to CPU 1 at 1, 16 and 64 connections.
//! It prints requests/s, p50 and p99 latency, errors, server (and Redis) CPU
//! time per request, peak RSS, and each figure as a ratio to the baseline
//! measured in the same run: the baseline is driven again, at the same number
//! of connections, just before every measured row, and each row is divided by
//! that run (this machine's speed drifts within minutes). After each run it
//! checks, through the server's introspection endpoint, that every token
//! answered with 200 is still usable.
//!
//! Run with: `just bench-load`, which builds `oauth-server` and this tool in
//! release mode and runs it. The tool runs the `oauth-server` executable
//! named by `LOAD_SERVER_BIN`, or else the one next to its own executable
//! (`target/release/oauth-server` when both are built with `--release`).
//! Environment: `LOAD_SECONDS` (default 5) per run, `LOAD_QUICK=1` for 16
//! connections only.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVER_CORE: &str = "0";
const CLIENT_CORE: &str = "1";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-baseline") {
        let port: u16 = args[i + 1].parse().expect("port");
        return baseline::serve(port);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

/// The baseline: parse the same form, answer a fixed token-shaped JSON.
mod baseline {
    use actix_web::{App, HttpResponse, HttpServer, web};

    async fn token(body: web::Bytes) -> HttpResponse {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        if !form.iter().any(|(k, _)| k == "grant_type") {
            return HttpResponse::BadRequest().finish();
        }
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .content_type("application/json")
            .body(r#"{"access_token":"AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB","token_type":"Bearer","expires_in":3600,"scope":"read"}"#)
    }

    pub(crate) fn serve(port: u16) {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(|| App::new().route("/oauth/token", web::post().to(token)))
                .workers(1)
                .bind(("127.0.0.1", port))
                .expect("bind")
                .run()
                .await
                .expect("serve");
        });
    }
}

struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds of the process so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        ticks / 100.0
    }

    /// Peak resident set size in MiB (VmHWM).
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn pinned(core: &str, program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c").arg(core).arg(program);
    c
}

async fn wait_http(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(url).send().await.is_err() {
        assert!(Instant::now() < deadline, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Redis {
    /// Kept for its `Drop`: the server stops with the benchmark.
    _proc: Proc,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = free_port();
        let child = pinned(SERVER_CORE, Path::new("redis-server"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { _proc: Proc { child }, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn info(&self, field: &str) -> f64 {
        let out = Command::new("redis-cli").args(["-p", &self.port.to_string(), "info"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn cpu_seconds(&self) -> f64 {
        self.info("used_cpu_user") + self.info("used_cpu_sys")
    }
}

/// One server under test.
struct Target {
    name: &'static str,
    base: String,
    proc: Proc,
    redis: Option<Arc<Redis>>,
}

#[derive(Clone, Debug, Default)]
struct Stats {
    requests: f64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    cpu_us_per_req: f64,
    redis_cpu_us_per_req: Option<f64>,
    verified: Option<(usize, usize)>,
    /// The baseline's run just before this one, at the same connections.
    paired: Option<Box<Stats>>,
}

/// wrk's Lua: count non-200 answers, optionally collect access tokens
/// (`collect`), and optionally draw request bodies from a file of tokens.
fn lua(
    dir: &Path,
    name: &str,
    path: &str,
    collect: bool,
    body_prefix: &str,
    input: Option<&Path>,
    chain: bool,
) -> PathBuf {
    let out = dir.join(format!("{name}.out"));
    let input_code = match input {
        // Chains live in a small table; other inputs are read a line per
        // request, so that no table of a million strings sits in wrk's heap.
        Some(file) if chain => format!(
            r#"
queue = {{}}
for line in io.lines("{}") do queue[#queue + 1] = line end
function request()
  local item = table.remove(queue) or "exhausted.exhausted"
  return wrk.format("POST", "{path}", headers, "{body_prefix}" .. item)
end
"#,
            file.display(),
        ),
        Some(file) => format!(
            r#"
local input = io.open("{}")
function request()
  local item = input:read("*l") or "exhausted.exhausted"
  return wrk.format("POST", "{path}", headers, "{body_prefix}" .. item)
end
"#,
            file.display(),
        ),
        None => format!(
            r#"
local body = "{body_prefix}"
function request() return wrk.format("POST", "{path}", headers, body) end
"#
        ),
    };
    let script = format!(
        r#"
headers = {{ ["Content-Type"] = "application/x-www-form-urlencoded" }}
{input_code}
errors = 0
-- Tokens go to a file as they come (wrk runs one thread, -t1; the C library
-- flushes the file when wrk exits). Kept in a Lua table, they made the
-- garbage collector pause wrk long enough to multiply the measured p99.
local tokens_file
function response(status, hdrs, body)
  if status ~= 200 then
    errors = errors + 1
    return
  end
  {collect_access}
  {chain_push}
end
local threads = {{}}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local errs = 0
  local f = io.open("{out}", "w")
  for _, thread in ipairs(threads) do
    errs = errs + thread:get("errors")
    {chain_dump}
  end
  f:close()
  local e = summary.errors
  errs = errs + e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errs))
end
"#,
        out = out.display(),
        collect_access = if collect {
            format!(
                r#"local t = body:match('"access_token":"([^"]+)"')
  if t then
    tokens_file = tokens_file or io.open("{}", "w")
    tokens_file:write("A ", t, "\n")
  end"#,
                dir.join(format!("{name}.tokens")).display()
            )
        } else {
            String::new()
        },
        chain_push = if chain {
            "local r = body:match('\"refresh_token\":\"([^\"]+)\"'); if r then table.insert(queue, r) end"
        } else {
            ""
        },
        chain_dump = if chain {
            "for _, r in ipairs(thread:get(\"queue\") or {}) do f:write(\"R \", r, \"\\n\") end"
        } else {
            ""
        },
    );
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script).unwrap();
    path
}

struct Bench {
    dir: PathBuf,
    seconds: u64,
    secret: String,
    http: reqwest::Client,
}

impl Bench {
    /// Runs wrk pinned to the client core; returns the stats and the collected lines.
    async fn wrk(&self, target: &Target, name: &str, script: &Path, connections: u32) -> (Stats, Vec<String>) {
        let cpu_before = target.proc.cpu_seconds();
        let redis_before = target.redis.as_ref().map(|r| r.cpu_seconds());
        let out = Command::new("taskset")
            .args(["-c", CLIENT_CORE, "wrk", "-t1"])
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", self.seconds))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(script)
            .arg(&target.base)
            .output()
            .expect("wrk (install it: apt-get install wrk)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .unwrap_or_else(|| panic!("wrk failed: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
        let v: Vec<f64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
        let requests = v[0];
        let cpu = target.proc.cpu_seconds() - cpu_before;
        let redis_cpu = target.redis.as_ref().zip(redis_before).map(|(r, b)| r.cpu_seconds() - b);
        let stats = Stats {
            requests,
            rps: requests / (v[1] / 1e6),
            p50_us: v[2],
            p99_us: v[3],
            errors: v[4] as u64,
            cpu_us_per_req: cpu * 1e6 / requests.max(1.0),
            redis_cpu_us_per_req: redis_cpu.map(|c| c * 1e6 / requests.max(1.0)),
            verified: None,
            paired: None,
        };
        let mut lines = std::fs::read_to_string(self.dir.join(format!("{name}.out"))).unwrap_or_default();
        lines.push_str(&std::fs::read_to_string(self.dir.join(format!("{name}.tokens"))).unwrap_or_default());
        (stats, lines.lines().map(str::to_owned).collect())
    }

    /// Runs the baseline's client_credentials load at `connections`, then
    /// `target`'s; the target's stats carry the baseline's as `paired`.
    async fn paired(
        &self,
        baseline: &Target,
        target: &Target,
        name: &str,
        script: &Path,
        connections: u32,
    ) -> (Stats, Vec<String>) {
        let base_name = format!("baseline_cc_{connections}");
        let base_script = lua(&self.dir, &base_name, "/oauth/token", false, &self.cc_body(), None, false);
        let (base, _) = self.wrk(baseline, &base_name, &base_script, connections).await;
        let (mut stats, lines) = self.wrk(target, name, script, connections).await;
        stats.paired = Some(Box::new(base));
        (stats, lines)
    }

    fn form_auth(&self) -> String {
        format!("client_id=bench&client_secret={}", self.secret)
    }

    /// The client_credentials request of every issuance run, the baseline's included.
    fn cc_body(&self) -> String {
        format!("grant_type=client_credentials&scope=read&{}", self.form_auth())
    }

    async fn post(&self, base: &str, path: &str, body: String) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn client_credentials(&self, base: &str) -> String {
        let (status, body) = self.post(base, "/oauth/token", self.cc_body()).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Introspects every token through the server; returns (active, total).
    async fn verify(&self, base: &str, tokens: &[String]) -> (usize, usize) {
        self.verify_as(base, tokens, &self.form_auth()).await
    }

    /// Introspects every token as the client `auth` names; returns (active, total).
    async fn verify_as(&self, base: &str, tokens: &[String], auth: &str) -> (usize, usize) {
        let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let chunks: Vec<Vec<String>> =
            tokens.chunks(tokens.len().div_ceil(48).max(1)).map(<[String]>::to_vec).collect();
        let mut tasks = Vec::new();
        for chunk in chunks {
            let (http, base, auth, active) = (self.http.clone(), base.to_owned(), auth.to_owned(), active.clone());
            tasks.push(tokio::spawn(async move {
                for t in chunk {
                    let r = http
                        .post(format!("{base}/oauth/introspect"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(format!("token={t}&{auth}"))
                        .send()
                        .await;
                    if let Ok(r) = r {
                        if r.json::<serde_json::Value>().await.map(|v| v["active"] == true).unwrap_or(false) {
                            active.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        (active.load(std::sync::atomic::Ordering::Relaxed), tokens.len())
    }

    /// Authorization codes minted through the browser flow (one login, then
    /// remembered consent: each authorize request is one redirect with a code).
    async fn mint_codes(&self, base: &str, n: usize) -> Vec<String> {
        let browser =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let authorize = format!(
            "{base}/oauth/authorize?client_id=bench&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=read"
        );
        browser.get(&authorize).send().await.unwrap();
        let login = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&login, "csrf_token");
        let form = |path: &str, body: String| {
            browser.post(format!("{base}{path}")).header("Content-Type", "application/x-www-form-urlencoded").body(body)
        };
        form("/login", format!("username=admin&password=bench-password&csrf_token={csrf}")).send().await.unwrap();
        let consent = browser.get(format!("{base}/approve")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&consent, "csrf_token");
        form("/approve", format!("approval=1&remember=1&csrf_token={csrf}")).send().await.unwrap();
        let mut codes = Vec::with_capacity(n);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (browser, authorize) = (browser.clone(), authorize.clone());
            let share = n / 16 + 1;
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(share);
                for _ in 0..share {
                    let r = browser.get(&authorize).send().await.unwrap();
                    let location =
                        r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
                    if let Some(code) = location.split("code=").nth(1).and_then(|c| c.split('&').next()) {
                        out.push(code.to_owned());
                    }
                }
                out
            }));
        }
        for t in tasks {
            codes.extend(t.await.unwrap());
        }
        codes.truncate(n);
        codes
    }

    /// Complete browser flows (authorize, login, consent, token) with 16 concurrent browsers.
    async fn browser_flows(&self, target: &Target) -> (Stats, Vec<String>) {
        let cpu_before = target.proc.cpu_seconds();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(self.seconds);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (base, auth) = (target.base.clone(), self.form_auth());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut tokens = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match one_flow(&base, &auth).await {
                        Some(token) => {
                            latencies.push(t0.elapsed().as_micros() as f64);
                            tokens.push(token);
                        }
                        None => errors += 1,
                    }
                }
                (latencies, tokens, errors)
            }));
        }
        let (mut latencies, mut tokens, mut errors) = (Vec::new(), Vec::new(), 0);
        for t in tasks {
            let (l, tk, e) = t.await.unwrap();
            latencies.extend(l);
            tokens.extend(tk);
            errors += e;
        }
        let elapsed = start.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        let flows = latencies.len() as f64;
        let cpu = target.proc.cpu_seconds() - cpu_before;
        let stats = Stats {
            requests: flows,
            rps: flows / elapsed,
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            errors,
            cpu_us_per_req: cpu * 1e6 / flows.max(1.0),
            redis_cpu_us_per_req: None,
            verified: None,
            paired: None,
        };
        (stats, tokens)
    }
}

async fn one_flow(base: &str, auth: &str) -> Option<String> {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().ok()?;
    // `bench-flow` has no remembered consent: every flow shows both pages.
    let authorize = format!(
        "{base}/oauth/authorize?client_id=bench-flow&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=read&state=s"
    );
    browser.get(&authorize).send().await.ok()?;
    let login = browser.get(format!("{base}/login")).send().await.ok()?.text().await.ok()?;
    let post = |path: &str, body: String| {
        browser.post(format!("{base}{path}")).header("Content-Type", "application/x-www-form-urlencoded").body(body)
    };
    post("/login", format!("username=admin&password=bench-password&csrf_token={}", hidden(&login, "csrf_token")))
        .send()
        .await
        .ok()?;
    let consent = browser.get(format!("{base}/approve")).send().await.ok()?.text().await.ok()?;
    let r = post("/approve", format!("approval=1&csrf_token={}", hidden(&consent, "csrf_token"))).send().await.ok()?;
    let location = r.headers().get("location")?.to_str().ok()?.to_owned();
    let code = location.split("code=").nth(1)?.split('&').next()?.to_owned();
    let auth = auth.replace("client_id=bench&", "client_id=bench-flow&");
    let r = post(
        "/oauth/token",
        format!("grant_type=authorization_code&code={code}&redirect_uri=https://app.example/cb&{auth}"),
    )
    .send()
    .await
    .ok()?;
    let body: serde_json::Value = r.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.find(&marker)
        .map(|i| {
            let start = i + marker.len();
            html[start..start + html[start..].find('"').unwrap_or(0)].to_owned()
        })
        .unwrap_or_default()
}

/// The servers' configuration. The user comes with an Argon2id hash, as in
/// production: a plain `password` would be hashed at start, and that one
/// hash (19 MiB) would be the peak of the process's memory.
fn config_text(secret_hash: &str, password_hash: &str, storage: &str, prefix: &str) -> String {
    format!(
        r#"
[server]
issuer = "http://127.0.0.1"
allow_insecure_transport = true
workers = 1

[tokens]
code_lifetime = 600
access_token_lifetime = 3600
refresh_token_lifetime = 3600

[storage]
url = "{storage}"
key_prefix = "{prefix}"

[session]
cookie_key = "YmVuY2gtY29va2llLWtleS1iZW5jaC1jb29raWUta2V5LWJlbmNoLWNvb2tpZS1rZXktYmVuY2gtY29va2llLWtleQ=="

[[clients]]
id = "bench"
secret_hash = "{secret_hash}"
auth_method = "client_secret_post"
redirect_uris = ["https://app.example/cb"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
scopes = "read write"

[[clients]]
id = "bench-flow"
secret_hash = "{secret_hash}"
auth_method = "client_secret_post"
redirect_uris = ["https://app.example/cb"]
grant_types = ["authorization_code"]
scopes = "read"

[[users]]
username = "admin"
password_hash = "{password_hash}"
"#
    )
}

async fn start_server(bench_dir: &Path, name: &'static str, config: &str, redis: Option<Arc<Redis>>) -> Target {
    let path = bench_dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = pinned(SERVER_CORE, &server_binary())
        .args(["serve", "--config"])
        .arg(&path)
        .env("OAUTH__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("OAUTH__SERVER__ISSUER", &base)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_http(&format!("{base}/healthz")).await;
    Target { name, base, proc: Proc { child }, redis }
}

/// The `oauth-server` executable: `LOAD_SERVER_BIN`, or the one next to this
/// tool's executable (cargo puts both in `target/release`).
fn server_binary() -> PathBuf {
    let path = match std::env::var_os("LOAD_SERVER_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe().unwrap().with_file_name("oauth-server"),
    };
    assert!(
        path.is_file(),
        "{} does not exist: build it with `cargo build --release -p oauth-server`, or set LOAD_SERVER_BIN",
        path.display()
    );
    path
}

/// The rate this run measured for `workload` on `server` at 16 connections.
fn rate_of(table: &[(String, String, u32, Stats)], workload: &str, server: &str) -> f64 {
    table.iter().find(|(w, s, c, _)| w == workload && s == server && *c == 16).map_or(50_000.0, |(.., stats)| stats.rps)
}

async fn run() {
    let seconds: u64 = std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let quick = std::env::var_os("LOAD_QUICK").is_some();
    let connections: &[u32] = if quick { &[16] } else { &[1, 16, 64] };
    let dir = std::env::temp_dir().join(format!("oauth-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (secret, hash) = oauth_core::generate::client_secret();
    let bench = Bench {
        dir: dir.clone(),
        seconds,
        secret: secret.secret().to_owned(),
        http: reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap(),
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("# oauth-server load benchmark");
    println!(
        "machine: {} cores; server (and Redis) pinned to CPU {SERVER_CORE}, wrk -t1 pinned to CPU {CLIENT_CORE}; {seconds} s per run",
        cores
    );

    let baseline_port = free_port();
    let baseline_proc = Proc {
        child: pinned(SERVER_CORE, &std::env::current_exe().unwrap())
            .args(["--serve-baseline", &baseline_port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let baseline = Target {
        name: "baseline",
        base: format!("http://127.0.0.1:{baseline_port}"),
        proc: baseline_proc,
        redis: None,
    };
    wait_http(&format!("{}/", baseline.base)).await;

    let redis = Arc::new(Redis::start());
    let password_hash = oauth_core::user::hash_password("bench-password").into_string();
    let config = |storage: &str| config_text(&hash.to_stored(), &password_hash, storage, "oauth");
    let memory = start_server(&dir, "memory", &config("memory"), None).await;
    let on_redis = start_server(&dir, "redis", &config(&redis.url()), Some(redis.clone())).await;

    let mut table: Vec<(String, String, u32, Stats)> = Vec::new();
    let mut baseline_by_conn: BTreeMap<u32, Stats> = BTreeMap::new();
    let cc_body = bench.cc_body();

    // client_credentials issuance, the baseline first.
    for &c in connections {
        let script = lua(&dir, "baseline_cc", "/oauth/token", false, &cc_body, None, false);
        let (stats, _) = bench.wrk(&baseline, "baseline_cc", &script, c).await;
        baseline_by_conn.insert(c, stats.clone());
        table.push(("client_credentials".into(), "baseline".into(), c, stats));
    }
    for target in [&memory, &on_redis] {
        for &c in connections {
            let name = format!("{}_cc_{c}", target.name);
            let script = lua(&dir, &name, "/oauth/token", true, &cc_body, None, false);
            let (mut stats, lines) = bench.paired(&baseline, target, &name, &script, c).await;
            let tokens: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("A ")).map(str::to_owned).collect();
            stats.verified = Some(bench.verify(&target.base, &tokens).await);
            table.push(("client_credentials".into(), target.name.into(), c, stats));
        }
    }

    // Introspection of one live token.
    for target in [&memory, &on_redis] {
        let token = bench.client_credentials(&target.base).await;
        for &c in connections {
            let name = format!("{}_introspect_{c}", target.name);
            let script = lua(
                &dir,
                &name,
                "/oauth/introspect",
                false,
                &format!("{}&token={token}", bench.form_auth()),
                None,
                false,
            );
            let (stats, _) = bench.paired(&baseline, target, &name, &script, c).await;
            table.push(("introspection".into(), target.name.into(), c, stats));
        }
    }

    // Revocation of pre-minted tokens (each request revokes a different one), 16 connections.
    for target in [&memory, &on_redis] {
        // Enough tokens for the whole run: a revocation is a lookup and a
        // delete, so the run's introspection rate (a lookup) with a margin
        // bounds it. Revoking an unknown token is also a 200 (RFC 7009 §2.2),
        // so running out would go unnoticed in the error count.
        let n = (rate_of(&table, "introspection", target.name) * 1.5 * seconds as f64) as usize;
        let mut tokens = Vec::with_capacity(n);
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (http, base, body) = (bench.http.clone(), target.base.clone(), cc_body.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..n / 32 {
                    let r = http
                        .post(format!("{base}/oauth/token"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let v: serde_json::Value = r.json().await.unwrap();
                    out.push(v["access_token"].as_str().unwrap().to_owned());
                }
                out
            }));
        }
        for t in tasks {
            tokens.extend(t.await.unwrap());
        }
        let file = dir.join(format!("{}_revoke.in", target.name));
        std::fs::write(&file, tokens.join("\n")).unwrap();
        let name = format!("{}_revoke", target.name);
        let script =
            lua(&dir, &name, "/oauth/revoke", false, &format!("{}&token=", bench.form_auth()), Some(&file), false);
        let (stats, _) = bench.paired(&baseline, target, &name, &script, 16).await;
        if stats.requests as usize > tokens.len() {
            println!("note: {} revocation used all {} tokens", target.name, tokens.len());
        }
        table.push(("revocation".into(), target.name.into(), 16, stats));
    }

    // Peak memory before any login: minting codes logs a user in, and
    // Argon2 takes 19 MiB per login.
    let token_peak: Vec<f64> = [&memory, &on_redis].iter().map(|t| t.proc.peak_rss_mib()).collect();

    // Authorization code exchange with pre-minted codes, 16 connections.
    for target in [&memory, &on_redis] {
        // Enough codes for the whole run: a code exchange costs more than a
        // client_credentials request, whose rate on this store this run has
        // measured, so that rate (with a margin) bounds what a run can use.
        let cc_rate = rate_of(&table, "client_credentials", target.name);
        let codes = bench.mint_codes(&target.base, (cc_rate * 1.25 * seconds as f64) as usize).await;
        let file = dir.join(format!("{}_codes.in", target.name));
        std::fs::write(&file, codes.join("\n")).unwrap();
        let name = format!("{}_code", target.name);
        let prefix =
            format!("grant_type=authorization_code&redirect_uri=https://app.example/cb&{}&code=", bench.form_auth());
        let script = lua(&dir, &name, "/oauth/token", true, &prefix, Some(&file), false);
        let (mut stats, lines) = bench.paired(&baseline, target, &name, &script, 16).await;
        // Codes run out if the server is faster than codes were minted: those answers are expected errors.
        let exhausted = stats.requests as usize > codes.len();
        let tokens: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("A ")).map(str::to_owned).collect();
        stats.verified = Some(bench.verify(&target.base, &tokens).await);
        if exhausted {
            println!("note: {} code exchange used all {} codes", target.name, codes.len());
        }
        table.push(("code exchange".into(), target.name.into(), 16, stats));
    }

    // Chained refresh: each response's refresh token is used next. wrk calls
    // request() once before connecting, so there are spare chains.
    for target in [&memory, &on_redis] {
        let codes = bench.mint_codes(&target.base, 20).await;
        let mut refresh = Vec::new();
        for code in codes {
            let (status, body) = bench
                .post(
                    &target.base,
                    "/oauth/token",
                    format!(
                        "grant_type=authorization_code&code={code}&redirect_uri=https://app.example/cb&{}",
                        bench.form_auth()
                    ),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            refresh.push(body["refresh_token"].as_str().unwrap().to_owned());
        }
        let file = dir.join(format!("{}_refresh.in", target.name));
        std::fs::write(&file, refresh.join("\n")).unwrap();
        let name = format!("{}_refresh", target.name);
        let script = lua(
            &dir,
            &name,
            "/oauth/token",
            true,
            &format!("grant_type=refresh_token&{}&refresh_token=", bench.form_auth()),
            Some(&file),
            true,
        );
        let (mut stats, lines) = bench.paired(&baseline, target, &name, &script, 16).await;
        let access: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("A ")).map(str::to_owned).collect();
        let finals: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("R ")).map(str::to_owned).collect();
        // The last access token of every chain must be usable, and so must each chain's last refresh token.
        let (mut ok, mut total) = bench.verify(&target.base, &access[access.len().saturating_sub(20)..]).await;
        for r in &finals {
            let (status, _) = bench
                .post(
                    &target.base,
                    "/oauth/token",
                    format!("grant_type=refresh_token&refresh_token={r}&{}", bench.form_auth()),
                )
                .await;
            ok += usize::from(status == 200);
            total += 1;
        }
        stats.verified = Some((ok, total));
        table.push(("chained refresh".into(), target.name.into(), 16, stats));
    }

    // Complete browser flows (authorize, login with Argon2id, consent, token).
    for target in [&memory, &on_redis] {
        let (mut stats, tokens) = bench.browser_flows(target).await;
        let auth = bench.form_auth().replace("client_id=bench&", "client_id=bench-flow&");
        stats.verified = Some(bench.verify_as(&target.base, &tokens, &auth).await);
        table.push(("browser flows (per flow)".into(), target.name.into(), 16, stats));
    }

    // Throughput with many live tokens in Redis: 10,000 versus 1,000,000.
    let scale = scaling(&bench, &redis, &on_redis, &cc_body, &dir).await;

    let peak: Vec<(String, f64)> =
        [&memory, &on_redis].iter().map(|t| (t.name.to_owned(), t.proc.peak_rss_mib())).collect();
    print_table(&table, &baseline_by_conn);
    println!();
    let mut paired: Vec<f64> =
        table.iter().filter(|row| row.2 == 16).filter_map(|row| row.3.paired.as_ref()).map(|b| b.rps).collect();
    paired.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (paired.first(), paired.last()) {
        println!(
            "baseline at 16 connections, run before each row: {} runs, {low:.0}–{high:.0} req/s (median {:.0})",
            paired.len(),
            paired[paired.len() / 2]
        );
    }
    for ((name, mib), tokens_only) in peak.iter().zip(&token_peak) {
        println!(
            "peak RSS of oauth-server ({name} store): {tokens_only:.1} MiB over client_credentials, \
             introspection and revocation (before any login), {mib:.1} MiB over the whole run"
        );
    }
    println!("{scale}");
    let _ = std::io::stdout().flush();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn scaling(bench: &Bench, redis: &Redis, target: &Target, cc_body: &str, dir: &Path) -> String {
    use oauth_core::storage::{GrantRecord, NewTokens, TokenRecord, TokenStore as _};
    let store = Arc::new(
        oauth_storage_redis::RedisStore::builder(redis.url()).key_prefix("oauth").pool_size(16).build().unwrap(),
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let fill = |from: usize, to: usize| {
        let store = store.clone();
        async move {
            let mut tasks = Vec::new();
            for w in 0..32 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for i in (from + w..to).step_by(32) {
                        let id = oauth_core::types::GrantId::new(format!("fill{i:0>18}"));
                        let grant = GrantRecord {
                            id: id.clone(),
                            client_id: oauth_core::types::ClientId::new("bench"),
                            subject: None,
                            scope: oauth_core::types::ScopeSet::parse("read").unwrap(),
                            issued_at: now,
                            expires_at: now + 7200,
                            auth_time: None,
                        };
                        let record = TokenRecord {
                            grant_id: id.clone(),
                            client_id: grant.client_id.clone(),
                            subject: None,
                            scope: grant.scope.clone(),
                            issued_at: now,
                            expires_at: now + 7200,
                            grant_expires_at: now + 7200,
                            auth_time: None,
                        };
                        let hash = oauth_core::types::TokenHash::of(&format!("{id}.{i}"));
                        store.create_grant(&grant, &NewTokens { access: (hash, record), refresh: None }).await.unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    let _ = Command::new("redis-cli").args(["-p", &redis.port.to_string(), "flushall"]).output();
    fill(0, 10_000).await;
    let script = lua(dir, "scale_10k", "/oauth/token", false, cc_body, None, false);
    let (small, _) = bench.wrk(target, "scale_10k", &script, 16).await;
    let memory_before = redis.info("used_memory");
    let keys_before = redis_keys(redis);
    fill(10_000, 1_000_000).await;
    let per_token = (redis.info("used_memory") - memory_before) / (redis_keys(redis) - keys_before).max(1.0);
    let script = lua(dir, "scale_1m", "/oauth/token", false, cc_body, None, false);
    let (large, _) = bench.wrk(target, "scale_1m", &script, 16).await;
    format!(
        "client_credentials on Redis, 16 connections: {:.0} req/s with ~10,000 live tokens, {:.0} req/s with ~1,000,000 (ratio {:.2}); Redis used_memory per live access token: {:.0} bytes",
        small.rps,
        large.rps,
        large.rps / small.rps,
        per_token
    )
}

fn redis_keys(redis: &Redis) -> f64 {
    let out = Command::new("redis-cli").args(["-p", &redis.port.to_string(), "dbsize"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0.0)
}

fn print_table(table: &[(String, String, u32, Stats)], baseline: &BTreeMap<u32, Stats>) {
    println!();
    println!(
        "| workload | server | conns | req/s | × baseline | p50 ms | p99 ms | p99 × baseline | errors | server CPU µs/req | × baseline | Redis CPU µs/req | tokens still usable |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (workload, server, c, s) in table {
        // The baseline's run just before this row; the first baseline run
        // at these connections for rows without one (the baseline's own).
        let b = s.paired.as_deref().or_else(|| baseline.get(c));
        let ratio =
            |x: f64, base: Option<f64>| base.filter(|b| *b > 0.0).map_or("".to_owned(), |b| format!("{:.2}", x / b));
        println!(
            "| {workload} | {server} | {c} | {:.0} | {} | {:.2} | {:.2} | {} | {} | {:.1} | {} | {} | {} |",
            s.rps,
            ratio(s.rps, b.map(|b| b.rps)),
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            ratio(s.p99_us, b.map(|b| b.p99_us)),
            s.errors,
            s.cpu_us_per_req,
            ratio(s.cpu_us_per_req, b.map(|b| b.cpu_us_per_req)),
            s.redis_cpu_us_per_req.map_or("".to_owned(), |r| format!("{r:.1}")),
            s.verified.map_or("".to_owned(), |(ok, total)| format!("{ok}/{total}")),
        );
    }
}
