//! The wrk driver: writes a run's Lua script (`wrk.lua` behind a few
//! settings), runs `wrk -t1` pinned to the client core, and reads back its
//! RESULT line and the lines the script collected.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::CLIENT_CORE;
use crate::report::Stats;
use crate::server::Target;

/// What every run's script does; the settings of [`Script`] come first.
const LUA: &str = include_str!("wrk.lua");

/// What a wrk run sends and collects.
#[derive(Clone, Copy)]
pub(crate) struct Script<'a> {
    /// The method of every request: `POST`, or `GET` (no body).
    method: &'a str,
    /// The path of every request.
    path: &'a str,
    /// A fixed `Authorization` header for every request.
    authorization: Option<&'a str>,
    /// The form body, or its start when `input` adds a line per request.
    form: &'a str,
    /// A file of inputs, one line appended to `form` per request.
    input: Option<&'a Path>,
    /// Write the access token of every 200 answer to `<name>.tokens`.
    collect: bool,
    /// Refresh chains: `input` holds refresh tokens, each answer's refresh token is used next.
    chain: bool,
    /// `input` holds DPoP proofs: each line is the next request's `DPoP`
    /// header, and the form is sent as it is.
    proofs: bool,
    /// The error code every answer must carry (a 400 with it in the body),
    /// for workloads whose normal answer is an error (device polling).
    expect: Option<&'a str>,
}

impl<'a> Script<'a> {
    /// The same `form` posted to `path` by every request; only statuses are counted.
    pub(crate) fn post(path: &'a str, form: &'a str) -> Self {
        Self {
            method: "POST",
            path,
            authorization: None,
            form,
            input: None,
            collect: false,
            chain: false,
            proofs: false,
            expect: None,
        }
    }

    /// A `GET` of `path` with a fixed `Authorization` header (a protected resource).
    pub(crate) fn get(path: &'a str, authorization: &'a str) -> Self {
        Self { method: "GET", authorization: Some(authorization), ..Self::post(path, "") }
    }

    /// Each request sends the next line of `input`, a DPoP proof, as its `DPoP` header.
    pub(crate) fn proofs(self, input: &'a Path) -> Self {
        Self { input: Some(input), proofs: true, ..self }
    }

    /// Each request appends the next line of `input` to the form.
    pub(crate) fn reading(self, input: &'a Path) -> Self {
        Self { input: Some(input), ..self }
    }

    /// Collects the access token of every 200 answer.
    pub(crate) fn collecting(self) -> Self {
        Self { collect: true, ..self }
    }

    /// The input lines are refresh tokens that start chains: each answer's
    /// refresh token is used next.
    pub(crate) fn chained(self) -> Self {
        Self { chain: true, ..self }
    }

    /// Every answer must be a 400 with `error` `code`; anything else counts as an error.
    pub(crate) fn expecting(self, code: &'a str) -> Self {
        Self { expect: Some(code), ..self }
    }
}

/// A Lua string literal.
fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// Runs wrk in `dir` for `seconds` per run.
pub(crate) struct Wrk {
    pub(crate) dir: PathBuf,
    pub(crate) seconds: u64,
}

impl Wrk {
    /// Writes the script of run `name` to `<dir>/<name>.lua`.
    pub(crate) fn script(&self, name: &str, script: Script<'_>) -> PathBuf {
        let file = |ext: &str| lua_string(&self.dir.join(format!("{name}.{ext}")).display().to_string());
        let settings = format!(
            "local method = {}\nlocal path = {}\nlocal authorization = {}\nlocal form = {}\nlocal input = {}\nlocal chain = {}\nlocal proofs = {}\nlocal expect = {}\nlocal tokens = {}\nlocal out = {}\n",
            lua_string(script.method),
            lua_string(script.path),
            script.authorization.map_or("nil".to_owned(), lua_string),
            lua_string(script.form),
            script.input.map_or("nil".to_owned(), |p| lua_string(&p.display().to_string())),
            script.chain,
            script.proofs,
            script.expect.map_or("nil".to_owned(), |code| lua_string(&format!("\"error\":\"{code}\""))),
            if script.collect { file("tokens") } else { "nil".to_owned() },
            file("out"),
        );
        let path = self.dir.join(format!("{name}.lua"));
        std::fs::write(&path, settings + LUA).unwrap();
        path
    }

    /// Runs wrk pinned to the client core; returns the stats and the collected lines.
    pub(crate) async fn run(
        &self,
        target: &Target,
        name: &str,
        script: &Path,
        connections: u32,
    ) -> (Stats, Vec<String>) {
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
}
