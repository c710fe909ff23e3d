//! The benchmark's own HTTP client, for everything outside wrk: minting the
//! inputs of a run (tokens, authorization codes), complete browser flows,
//! and checking after a run that the tokens it got are still usable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dpop::Prover;
use crate::report::Stats;
use crate::server::Target;

/// The client `bench` (and `bench-flow`, which has the same secret).
pub(crate) struct Client {
    pub(crate) secret: String,
    pub(crate) http: reqwest::Client,
}

impl Client {
    /// The client's credentials as form fields.
    pub(crate) fn form_auth(&self) -> String {
        format!("client_id=bench&client_secret={}", self.secret)
    }

    /// The client_credentials request of every issuance run, the baseline's included.
    pub(crate) fn cc_body(&self) -> String {
        format!("grant_type=client_credentials&scope=read&{}", self.form_auth())
    }

    /// Posts a form; returns the status and the JSON body (null if none).
    pub(crate) async fn post(&self, base: &str, path: &str, body: String) -> (u16, serde_json::Value) {
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

    /// One access token from the client_credentials grant.
    pub(crate) async fn client_credentials(&self, base: &str) -> String {
        let (status, body) = self.post(base, "/oauth/token", self.cc_body()).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// About `n` access tokens from the client_credentials grant, 32 requests at a time.
    pub(crate) async fn mint_tokens(&self, base: &str, n: usize) -> Vec<String> {
        let mut tokens = Vec::with_capacity(n);
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (http, base, body) = (self.http.clone(), base.to_owned(), self.cc_body());
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
        tokens
    }

    /// About `n` device codes of the public client `bench-device`, each
    /// waiting for a user, 32 requests at a time.
    pub(crate) async fn mint_device_codes(&self, base: &str, n: usize) -> Vec<String> {
        let mut codes = Vec::with_capacity(n);
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (http, base) = (self.http.clone(), base.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..n / 32 {
                    let r = http
                        .post(format!("{base}/oauth/device_authorization"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body("client_id=bench-device&scope=read")
                        .send()
                        .await
                        .unwrap();
                    let v: serde_json::Value = r.json().await.unwrap();
                    out.push(v["device_code"].as_str().unwrap_or_else(|| panic!("no device_code: {v}")).to_owned());
                }
                out
            }));
        }
        for t in tasks {
            codes.extend(t.await.unwrap());
        }
        codes
    }

    /// Introspects every token through the server; returns (active, total).
    pub(crate) async fn verify(&self, base: &str, tokens: &[String]) -> (usize, usize) {
        self.verify_as(base, tokens, &self.form_auth()).await
    }

    /// Introspects every token as the client `auth` names; returns (active, total).
    pub(crate) async fn verify_as(&self, base: &str, tokens: &[String], auth: &str) -> (usize, usize) {
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
    pub(crate) async fn mint_codes(&self, base: &str, n: usize) -> Vec<String> {
        self.mint_codes_for(base, "read", n).await
    }

    /// Authorization codes for `scope` (form-encoded), as [`Client::mint_codes`].
    pub(crate) async fn mint_codes_for(&self, base: &str, scope: &str, n: usize) -> Vec<String> {
        let browser =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let authorize = format!(
            "{base}/oauth/authorize?client_id=bench&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope={scope}"
        );
        let r = browser.get(&authorize).send().await.unwrap();
        let login = browser.get(format!("{base}{}", location(&r))).send().await.unwrap().text().await.unwrap();
        let form = |path: &str, body: String| {
            browser.post(format!("{base}{path}")).header("Content-Type", "application/x-www-form-urlencoded").body(body)
        };
        let r = form("/login", format!("username=admin&password=bench-password&{}", hidden_fields(&login)))
            .send()
            .await
            .unwrap();
        // A consent remembered by an earlier mint on this store sends the
        // login straight back to the client: no consent page then.
        let next = location(&r);
        if next.starts_with('/') {
            let consent = browser.get(format!("{base}{next}")).send().await.unwrap().text().await.unwrap();
            form("/approve", format!("approval=1&remember=1&{}", hidden_fields(&consent))).send().await.unwrap();
        }
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

    /// A DPoP-bound access token of a user, with the `openid` scope: a code
    /// exchanged with a proof of `prover`'s key.
    /// `n` numbers the exchange's proof (its `jti`).
    pub(crate) async fn dpop_user_token(&self, base: &str, prover: &Prover, n: usize) -> String {
        let code = self.mint_codes_for(base, "openid+read", 1).await.pop().unwrap();
        let proof = prover.proof("POST", &format!("{base}/oauth/token"), None, n);
        let r = self
            .http
            .post(format!("{base}/oauth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("DPoP", proof)
            .body(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://app.example/cb&{}",
                self.form_auth()
            ))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP", "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Asserts, through introspection, that `token` is bound to `jkt`.
    pub(crate) async fn assert_bound(&self, base: &str, token: &str, jkt: &str) {
        let (status, body) = self.post(base, "/oauth/introspect", format!("token={token}&{}", self.form_auth())).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["cnf"]["jkt"], jkt, "a DPoP-bound token carries its key's thumbprint: {body}");
    }

    /// Complete browser flows (authorize, login, consent, token) with 16
    /// concurrent browsers for `seconds`; returns the stats per flow and the tokens.
    pub(crate) async fn browser_flows(&self, target: &Target, seconds: u64) -> (Stats, Vec<String>) {
        let cpu_before = target.proc.cpu_seconds();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(seconds);
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

/// One browser flow of the client `bench-flow`, with a fresh cookie jar; the access token.
async fn one_flow(base: &str, auth: &str) -> Option<String> {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().ok()?;
    // `bench-flow` has no remembered consent: every flow shows both pages.
    let authorize = format!(
        "{base}/oauth/authorize?client_id=bench-flow&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=read&state=s"
    );
    let r = browser.get(&authorize).send().await.ok()?;
    let login = browser.get(format!("{base}{}", location(&r))).send().await.ok()?.text().await.ok()?;
    let post = |path: &str, body: String| {
        browser.post(format!("{base}{path}")).header("Content-Type", "application/x-www-form-urlencoded").body(body)
    };
    let r = post("/login", format!("username=admin&password=bench-password&{}", hidden_fields(&login)))
        .send()
        .await
        .ok()?;
    let consent = browser.get(format!("{base}{}", location(&r))).send().await.ok()?.text().await.ok()?;
    let r = post("/approve", format!("approval=1&{}", hidden_fields(&consent))).send().await.ok()?;
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

/// The value of the hidden form field `name` in `html` (empty if absent).
/// The `Location` of a response (`/login?request=…`), or empty.
fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned()
}

/// The hidden fields of the login or consent form (CSRF token, request id,
/// scopes shown), form-encoded; their values need no escaping here (random
/// tokens and the scope `read`).
fn hidden_fields(html: &str) -> String {
    ["csrf_token", "request", "scope"]
        .iter()
        .filter(|name| html.contains(&format!("name=\"{name}\" value=\"")))
        .map(|name| format!("{name}={}", hidden(html, name).replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
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
