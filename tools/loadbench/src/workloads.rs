//! The workloads, in the order of the table: client_credentials issuance
//! (the baseline first), introspection, revocation, device code polling,
//! token exchange, DPoP-bound
//! client_credentials issuance, DPoP-protected UserInfo, code exchange,
//! chained refresh, browser flows, and Redis with many live tokens.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::baseline;
use crate::client::Client;
use crate::dpop::Prover;
use crate::process::{CLIENT_CORE, SERVER_CORE};
use crate::redis::Redis;
use crate::report::{self, Row, Stats, Summary, rate_of};
use crate::server::{self, Target};
use crate::wrk::{Script, Wrk};

/// A run: the drivers, the baseline, and the rows measured so far.
struct Bench {
    wrk: Wrk,
    client: Client,
    baseline: Target,
    table: Vec<Row>,
    /// The DPoP key of the DPoP workloads.
    prover: Prover,
    /// The number of the next proof's `jti`.
    next_proof: usize,
    /// [`Prover::max_rate`], measured once.
    proof_rate: f64,
}

impl Bench {
    /// Runs the baseline's client_credentials load at `connections`, then
    /// `script` against `target`; the target's stats carry the baseline's as `paired`.
    async fn paired(&self, target: &Target, name: &str, script: Script<'_>, connections: u32) -> (Stats, Vec<String>) {
        let script = self.wrk.script(name, script);
        let base_name = format!("baseline_cc_{connections}");
        let cc_body = self.client.cc_body();
        let base_script = self.wrk.script(&base_name, Script::post("/oauth/token", &cc_body));
        let (base, _) = self.wrk.run(&self.baseline, &base_name, &base_script, connections).await;
        let (mut stats, lines) = self.wrk.run(target, name, &script, connections).await;
        stats.paired = Some(Box::new(base));
        (stats, lines)
    }

    fn push(&mut self, workload: &'static str, server: &'static str, connections: u32, stats: Stats) {
        self.table.push(Row { workload, server, connections, stats });
    }

    /// The access tokens among the lines a run collected.
    fn access_tokens(lines: &[String]) -> Vec<String> {
        lines.iter().filter_map(|l| l.strip_prefix("A ")).map(str::to_owned).collect()
    }

    /// client_credentials issuance, the baseline first; every token is checked after its run.
    async fn issuance(&mut self, targets: [&Target; 2], connections: &[u32]) -> BTreeMap<u32, Stats> {
        let cc_body = self.client.cc_body();
        let mut baseline_by_conn = BTreeMap::new();
        for &c in connections {
            let script = self.wrk.script("baseline_cc", Script::post("/oauth/token", &cc_body));
            let (stats, _) = self.wrk.run(&self.baseline, "baseline_cc", &script, c).await;
            baseline_by_conn.insert(c, stats.clone());
            self.push("client_credentials", "baseline", c, stats);
        }
        for target in targets {
            for &c in connections {
                let name = format!("{}_cc_{c}", target.name);
                let script = Script::post("/oauth/token", &cc_body).collecting();
                let (mut stats, lines) = self.paired(target, &name, script, c).await;
                stats.verified = Some(self.client.verify(&target.base, &Self::access_tokens(&lines)).await);
                self.push("client_credentials", target.name, c, stats);
            }
        }
        baseline_by_conn
    }

    /// Introspection of one live token.
    async fn introspection(&mut self, targets: [&Target; 2], connections: &[u32]) {
        for target in targets {
            let token = self.client.client_credentials(&target.base).await;
            let form = format!("{}&token={token}", self.client.form_auth());
            for &c in connections {
                let name = format!("{}_introspect_{c}", target.name);
                let (stats, _) = self.paired(target, &name, Script::post("/oauth/introspect", &form), c).await;
                self.push("introspection", target.name, c, stats);
            }
        }
    }

    /// Revocation of pre-minted tokens (each request revokes a different one), 16 connections.
    async fn revocation(&mut self, targets: [&Target; 2]) {
        for target in targets {
            // Enough tokens for the whole run: a revocation is a lookup and a
            // delete, so the run's introspection rate (a lookup) with a margin
            // bounds it. Revoking an unknown token is also a 200 (RFC 7009 §2.2),
            // so running out would go unnoticed in the error count.
            let n = (rate_of(&self.table, "introspection", target.name) * 1.5 * self.wrk.seconds as f64) as usize;
            let tokens = self.client.mint_tokens(&target.base, n).await;
            let file = self.wrk.dir.join(format!("{}_revoke.in", target.name));
            std::fs::write(&file, tokens.join("\n")).unwrap();
            let name = format!("{}_revoke", target.name);
            let form = format!("{}&token=", self.client.form_auth());
            let (stats, _) = self.paired(target, &name, Script::post("/oauth/revoke", &form).reading(&file), 16).await;
            if stats.requests as usize > tokens.len() {
                println!("note: {} revocation used all {} tokens", target.name, tokens.len());
            }
            self.push("revocation", target.name, 16, stats);
        }
    }

    /// Device code polling, 16 connections: each request polls a different
    /// device code, waiting for its user, for the first time (so within its
    /// interval): `authorization_pending`, after the one store call that
    /// checks the client, the expiry and the polling rate.
    async fn device_polling(&mut self, targets: [&Target; 2]) {
        for target in targets {
            // A poll is a client lookup and one store call, as introspection
            // is: that run's rate, with a margin, bounds what a run can use.
            let n = (rate_of(&self.table, "introspection", target.name) * 1.25 * self.wrk.seconds as f64) as usize;
            let codes = self.client.mint_device_codes(&target.base, n).await;
            let file = self.wrk.dir.join(format!("{}_device.in", target.name));
            std::fs::write(&file, codes.join("\n")).unwrap();
            let name = format!("{}_device_poll", target.name);
            let prefix = "grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=bench-device&device_code=";
            let script = Script::post("/oauth/token", prefix).reading(&file).expecting("authorization_pending");
            let (stats, _) = self.paired(target, &name, script, 16).await;
            if stats.requests as usize > codes.len() {
                println!("note: {} device polling used all {} device codes", target.name, codes.len());
            }
            self.push("device code polling", target.name, 16, stats);
        }
    }

    /// Token exchange, 16 connections: each request exchanges a different
    /// live access token of `bench` for a new one (impersonation, no actor
    /// token), which joins the subject token's family in one store call.
    async fn token_exchange(&mut self, targets: [&Target; 2]) {
        for target in targets {
            // An exchange looks a token up and issues one: no faster than
            // that run's introspection (a lookup), so its rate with a margin
            // bounds what a run can use (the client_credentials rate did
            // not: on Redis, exchanges outran it).
            let n = (rate_of(&self.table, "introspection", target.name) * 1.25 * self.wrk.seconds as f64) as usize;
            let subjects = self.client.mint_tokens(&target.base, n).await;
            let file = self.wrk.dir.join(format!("{}_exchange.in", target.name));
            std::fs::write(&file, subjects.join("\n")).unwrap();
            let name = format!("{}_exchange", target.name);
            let prefix = format!(
                "grant_type=urn:ietf:params:oauth:grant-type:token-exchange\
                 &subject_token_type=urn:ietf:params:oauth:token-type:access_token&{}&subject_token=",
                self.client.form_auth()
            );
            let script = Script::post("/oauth/token", &prefix).reading(&file).collecting();
            let (mut stats, lines) = self.paired(target, &name, script, 16).await;
            let exhausted = stats.requests as usize > subjects.len();
            stats.verified = Some(self.client.verify(&target.base, &Self::access_tokens(&lines)).await);
            if exhausted {
                println!("note: {} token exchange used all {} subject tokens", target.name, subjects.len());
            }
            self.push("token exchange", target.name, 16, stats);
        }
    }

    /// `count` proofs for `method` on `uri` (with `ath` of `access_token`),
    /// written to `<dir>/<name>.in`, one per line.
    fn proof_file(
        &mut self,
        name: &str,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        count: usize,
    ) -> std::path::PathBuf {
        let proofs = self.prover.proofs(method, uri, access_token, self.next_proof, count);
        self.next_proof += count;
        let file = self.wrk.dir.join(format!("{name}.in"));
        std::fs::write(&file, proofs.join("\n")).unwrap();
        file
    }

    /// DPoP-bound client_credentials issuance, 16 connections: every request
    /// carries its own proof (signed before the run, a fresh `jti` each), so
    /// each one verifies an ES256 signature and stores a `jti`.
    async fn dpop_issuance(&mut self, targets: [&Target; 2]) {
        let cc_body = self.client.cc_body();
        for target in targets {
            // Enough proofs for the whole run: a DPoP request does all a
            // client_credentials request does and verifies a proof, so the
            // lower of that run's rate and the proof verification rate (with
            // a margin) bounds it.
            let rate = rate_of(&self.table, "client_credentials", target.name).min(self.proof_rate);
            let n = (rate * 1.25 * self.wrk.seconds as f64) as usize;
            let name = format!("{}_dpop_cc", target.name);
            let file = self.proof_file(&name, "POST", &format!("{}/oauth/token", target.base), None, n);
            let script = Script::post("/oauth/token", &cc_body).proofs(&file).collecting();
            let (mut stats, lines) = self.paired(target, &name, script, 16).await;
            let tokens = Self::access_tokens(&lines);
            if let Some(first) = tokens.first() {
                self.client.assert_bound(&target.base, first, &self.prover.jkt).await;
            }
            stats.verified = Some(self.client.verify(&target.base, &tokens).await);
            if stats.requests as usize > n {
                println!("note: {} DPoP issuance used all {n} proofs", target.name);
            }
            self.push("DPoP client_credentials", target.name, 16, stats);
        }
    }

    /// DPoP-protected UserInfo, 16 connections: one DPoP-bound token of a
    /// user (`Authorization: DPoP`), and a proof with its `ath` per request.
    async fn dpop_userinfo(&mut self, targets: [&Target; 2]) {
        for target in targets {
            let token = self.client.dpop_user_token(&target.base, &self.prover, self.next_proof).await;
            self.next_proof += 1;
            // A UserInfo request does a token lookup as introspection does,
            // and verifies a proof: the lower rate of the two bounds it.
            let rate = rate_of(&self.table, "introspection", target.name).min(self.proof_rate);
            let n = (rate * 1.25 * self.wrk.seconds as f64) as usize;
            let name = format!("{}_dpop_userinfo", target.name);
            let uri = format!("{}/oauth/userinfo", target.base);
            let file = self.proof_file(&name, "GET", &uri, Some(&token), n + 1);
            // The first proof checks the setup outside wrk: 200 with the user's `sub`.
            let mut lines = std::fs::read_to_string(&file).unwrap();
            let first = lines.lines().next().unwrap().to_owned();
            lines.drain(..first.len() + 1);
            std::fs::write(&file, lines).unwrap();
            let r = self
                .client
                .http
                .get(&uri)
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", first)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "DPoP UserInfo: {:?}", r.text().await);
            let authorization = format!("DPoP {token}");
            let script = Script::get("/oauth/userinfo", &authorization).proofs(&file);
            let (stats, _) = self.paired(target, &name, script, 16).await;
            if stats.requests as usize > n {
                println!("note: {} DPoP UserInfo used all {n} proofs", target.name);
            }
            self.push("DPoP UserInfo", target.name, 16, stats);
        }
    }

    /// Authorization code exchange with pre-minted codes, 16 connections.
    async fn code_exchange(&mut self, targets: [&Target; 2]) {
        for target in targets {
            // Enough codes for the whole run: a code exchange costs more than a
            // client_credentials request, whose rate on this store this run has
            // measured, so that rate (with a margin) bounds what a run can use.
            let cc_rate = rate_of(&self.table, "client_credentials", target.name);
            let codes = self.client.mint_codes(&target.base, (cc_rate * 1.25 * self.wrk.seconds as f64) as usize).await;
            let file = self.wrk.dir.join(format!("{}_codes.in", target.name));
            std::fs::write(&file, codes.join("\n")).unwrap();
            let name = format!("{}_code", target.name);
            let prefix = format!(
                "grant_type=authorization_code&redirect_uri=https://app.example/cb&{}&code=",
                self.client.form_auth()
            );
            let script = Script::post("/oauth/token", &prefix).reading(&file).collecting();
            let (mut stats, lines) = self.paired(target, &name, script, 16).await;
            // Codes run out if the server is faster than codes were minted: those answers are expected errors.
            let exhausted = stats.requests as usize > codes.len();
            stats.verified = Some(self.client.verify(&target.base, &Self::access_tokens(&lines)).await);
            if exhausted {
                println!("note: {} code exchange used all {} codes", target.name, codes.len());
            }
            self.push("code exchange", target.name, 16, stats);
        }
    }

    /// Chained refresh: each response's refresh token is used next. wrk calls
    /// request() once before connecting, so there are spare chains.
    async fn chained_refresh(&mut self, targets: [&Target; 2]) {
        for target in targets {
            let codes = self.client.mint_codes(&target.base, 20).await;
            let mut refresh = Vec::new();
            for code in codes {
                let (status, body) = self
                    .client
                    .post(
                        &target.base,
                        "/oauth/token",
                        format!(
                            "grant_type=authorization_code&code={code}&redirect_uri=https://app.example/cb&{}",
                            self.client.form_auth()
                        ),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                refresh.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
            let file = self.wrk.dir.join(format!("{}_refresh.in", target.name));
            std::fs::write(&file, refresh.join("\n")).unwrap();
            let name = format!("{}_refresh", target.name);
            let prefix = format!("grant_type=refresh_token&{}&refresh_token=", self.client.form_auth());
            let script = Script::post("/oauth/token", &prefix).reading(&file).collecting().chained();
            let (mut stats, lines) = self.paired(target, &name, script, 16).await;
            let access = Self::access_tokens(&lines);
            let finals: Vec<String> = lines.iter().filter_map(|l| l.strip_prefix("R ")).map(str::to_owned).collect();
            // The last access token of every chain must be usable, and so must each chain's last refresh token.
            let (mut ok, mut total) =
                self.client.verify(&target.base, &access[access.len().saturating_sub(20)..]).await;
            for r in &finals {
                let (status, _) = self
                    .client
                    .post(
                        &target.base,
                        "/oauth/token",
                        format!("grant_type=refresh_token&refresh_token={r}&{}", self.client.form_auth()),
                    )
                    .await;
                ok += usize::from(status == 200);
                total += 1;
            }
            stats.verified = Some((ok, total));
            self.push("chained refresh", target.name, 16, stats);
        }
    }

    /// Complete browser flows (authorize, login with Argon2id, consent, token).
    async fn browser_flows(&mut self, targets: [&Target; 2]) {
        for target in targets {
            let (mut stats, tokens) = self.client.browser_flows(target, self.wrk.seconds).await;
            let auth = self.client.form_auth().replace("client_id=bench&", "client_id=bench-flow&");
            stats.verified = Some(self.client.verify_as(&target.base, &tokens, &auth).await);
            self.push("browser flows (per flow)", target.name, 16, stats);
        }
    }

    /// Throughput with many live tokens in Redis: 10,000 versus 1,000,000;
    /// and Redis memory per live token. Returns the line to print.
    async fn scaling(&self, redis: &Redis, target: &Target) -> String {
        let cc_body = self.client.cc_body();
        let store = Arc::new(
            oauth_storage_redis::RedisStore::builder(redis.url()).key_prefix("oauth").pool_size(16).build().unwrap(),
        );
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        redis.flush_all();
        fill(&store, now, 0, 10_000).await;
        let script = self.wrk.script("scale_10k", Script::post("/oauth/token", &cc_body));
        let (small, _) = self.wrk.run(target, "scale_10k", &script, 16).await;
        let memory_before = redis.info("used_memory");
        let keys_before = redis.keys();
        fill(&store, now, 10_000, 1_000_000).await;
        let per_token = (redis.info("used_memory") - memory_before) / (redis.keys() - keys_before).max(1.0);
        let script = self.wrk.script("scale_1m", Script::post("/oauth/token", &cc_body));
        let (large, _) = self.wrk.run(target, "scale_1m", &script, 16).await;
        format!(
            "client_credentials on Redis, 16 connections: {:.0} req/s with ~10,000 live tokens, {:.0} req/s with ~1,000,000 (ratio {:.2}); Redis used_memory per live access token: {:.0} bytes",
            small.rps,
            large.rps,
            large.rps / small.rps,
            per_token
        )
    }
}

/// Stores live access tokens number `from..to` (each with its grant) through
/// `store`, 32 writers at a time: much faster than issuing them over HTTP.
/// The one place that uses the storage API.
async fn fill(store: &Arc<oauth_storage_redis::RedisStore>, now: u64, from: usize, to: usize) {
    use oauth_core::storage::{GrantRecord, NewTokens, TokenRecord, TokenStore as _};
    use oauth_core::types::{ClientId, GrantId, ScopeSet, TokenHash};
    let mut tasks = Vec::new();
    for w in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (from + w..to).step_by(32) {
                let id = GrantId::new(format!("fill{i:0>18}"));
                let grant = GrantRecord {
                    id: id.clone(),
                    client_id: ClientId::new("bench"),
                    subject: None,
                    scope: ScopeSet::parse("read").unwrap(),
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
                    jkt: None,
                    exchange: None,
                };
                let hash = TokenHash::of(&format!("{id}.{i}"));
                store.create_grant(&grant, &NewTokens { access: (hash, record), refresh: None }).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The whole run: starts the servers, measures every workload, prints the report.
pub(crate) async fn run() {
    let server_binary = server::binary();
    let seconds: u64 = std::env::var("LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let quick = std::env::var_os("LOAD_QUICK").is_some();
    let connections: &[u32] = if quick { &[16] } else { &[1, 16, 64] };
    let dir = std::env::temp_dir().join(format!("oauth-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (secret, hash) = oauth_core::generate::client_secret();
    let client = Client {
        secret: secret.secret().to_owned(),
        http: reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap(),
    };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("# oauth-server load benchmark");
    println!(
        "machine: {} cores; server (and Redis) pinned to CPU {SERVER_CORE}, wrk -t1 pinned to CPU {CLIENT_CORE}; {seconds} s per run",
        cores
    );

    let baseline = baseline::start().await;
    let redis = Arc::new(Redis::start());
    let password_hash = oauth_core::user::hash_password("bench-password").into_string();
    // Proofs are signed before a run and must stay acceptable through the
    // baseline's run, the run itself, and their signing.
    let dpop_max_age = (2 * seconds + 60).min(3600);
    let config = |storage: &str| server::config_text(&hash.to_stored(), &password_hash, storage, "oauth", dpop_max_age);
    let memory = server::start(&server_binary, &dir, "memory", &config("memory"), None).await;
    let on_redis = server::start(&server_binary, &dir, "redis", &config(&redis.url()), Some(redis.clone())).await;
    let targets = [&memory, &on_redis];

    let prover = Prover::new();
    let proof_rate = prover.max_rate();
    let mut bench = Bench {
        wrk: Wrk { dir: dir.clone(), seconds },
        client,
        baseline,
        table: Vec::new(),
        prover,
        next_proof: 0,
        proof_rate,
    };
    let baseline_by_conn = bench.issuance(targets, connections).await;
    bench.introspection(targets, connections).await;
    bench.revocation(targets).await;
    // Peak memory before any login: minting codes logs a user in, and
    // Argon2 takes 19 MiB per login.
    let token_peak: Vec<f64> = targets.iter().map(|t| t.proc.peak_rss_mib()).collect();
    bench.device_polling(targets).await;
    bench.token_exchange(targets).await;
    // After the peak above: a DPoP-bound user token needs a login.
    bench.dpop_issuance(targets).await;
    bench.dpop_userinfo(targets).await;
    bench.code_exchange(targets).await;
    bench.chained_refresh(targets).await;
    bench.browser_flows(targets).await;
    let scaling = bench.scaling(&redis, &on_redis).await;

    let peak_rss =
        targets.iter().zip(token_peak).map(|(t, tokens_only)| (t.name, tokens_only, t.proc.peak_rss_mib())).collect();
    report::print(&bench.table, &baseline_by_conn, &Summary { peak_rss, scaling });
    let _ = std::fs::remove_dir_all(&dir);
}
