//! The app under test.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use oauth_server::Config;
pub use oauth_server::testing::submit;

/// The demo's configuration (http on loopback), with overrides.
pub const CONFIG: &str = include_str!("../../../../examples/aioauth-demo/demo.toml");

pub const AUTHORIZE: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";

pub fn config(env: &[(&str, &str)]) -> Config {
    Config::from_toml(CONFIG, env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

pub async fn app(
    config: Config,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl actix_web::body::MessageBody>, Error = actix_web::Error>
{
    let state = oauth_server::build_state(&config).await.unwrap();
    test::init_service(oauth_server::app(state)).await
}

/// What `curl localhost:8000/oauth/tokenize -u test_client:password -d …` sends.
pub fn tokenize(body: String) -> actix_web::test::TestRequest {
    actix_web::test::TestRequest::post()
        .uri("/oauth/tokenize")
        .insert_header(("Authorization", basic("test_client", "password")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body)
}

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

pub fn query_params(location: &str) -> std::collections::BTreeMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

/// A running `oauth-server` binary; killed on drop.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the binary with the demo configuration on a free port, plus `env`
/// overrides; waits for `/healthz`. The issuer defaults to the server's own URL.
pub async fn spawn(env: &[(&str, &str)]) -> Server {
    spawn_with_stderr(env, std::process::Stdio::inherit()).await
}

/// [`spawn`], with the server's standard error (its log) sent to `stderr`.
pub async fn spawn_with_stderr(env: &[(&str, &str)], stderr: std::process::Stdio) -> Server {
    spawn_probed(env, stderr, None).await
}

/// [`spawn`], waiting for `/healthz` at `probe_base` (an admin listener)
/// instead of the public address when given.
pub async fn spawn_probed(env: &[(&str, &str)], stderr: std::process::Stdio, probe_base: Option<&str>) -> Server {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/aioauth-demo/demo.toml");
    spawn_config(config, env, stderr, probe_base).await
}

/// [`spawn`] with the demo configuration followed by `extra` TOML (more
/// `[[clients]]`, say), written to a file of its own.
pub async fn spawn_with_extra_config(extra: &str, env: &[(&str, &str)]) -> Server {
    let path = std::env::temp_dir().join(format!("oauth-server-test-{}-{}.toml", std::process::id(), free_port()));
    std::fs::write(&path, format!("{CONFIG}\n{extra}")).unwrap();
    let server = spawn_config(path.to_str().unwrap(), env, std::process::Stdio::inherit(), None).await;
    let _ = std::fs::remove_file(&path);
    server
}

/// Starts the binary with the configuration file at `config`.
async fn spawn_config(
    config: &str,
    env: &[(&str, &str)],
    stderr: std::process::Stdio,
    probe_base: Option<&str>,
) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_oauth-server"));
    command
        .args(["serve", "--config", config])
        .env("OAUTH__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("OAUTH__SERVER__ISSUER", &base)
        .env("OAUTH__SERVER__WORKERS", "2")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(stderr);
    for (k, v) in env {
        command.env(k, v);
    }
    let server = Server { child: command.spawn().unwrap(), base };
    let probe = format!("{}/healthz", probe_base.unwrap_or(&server.base));
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(&probe).send().await {
            if r.status() == 200 {
                return server;
            }
        }
        assert!(std::time::Instant::now() < deadline, "server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A cookie-keeping client that does not follow redirects: a browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A client that does not follow redirects: an OAuth client or a resource server.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The seed's browser steps over real HTTP: `authorize_url`, then the login
/// form (admin / admin) on `start`, then the consent form on `finish` (another
/// instance, or the same). Returns the query of the redirect to the client.
pub async fn browser_flow(
    start: &str,
    finish: &str,
    authorize_url: &str,
) -> std::collections::BTreeMap<String, String> {
    browser_flow_to(start, finish, authorize_url, "https://www.example.com/redirect").await
}

/// [`browser_flow`] for a client whose redirect (without its query) is `redirect`.
pub async fn browser_flow_to(
    start: &str,
    finish: &str,
    authorize_url: &str,
    redirect: &str,
) -> std::collections::BTreeMap<String, String> {
    browser_flow_redirect(start, finish, authorize_url, redirect).await.query_pairs().into_owned().collect()
}

/// [`browser_flow_to`], returning the whole URL the browser is sent to: what
/// a client's redirect endpoint would receive.
pub async fn browser_flow_redirect(start: &str, finish: &str, authorize_url: &str, redirect: &str) -> url::Url {
    let browser = browser();
    let r = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with("/login?request="), "{login}");
    let page = browser.get(format!("{start}{login}")).send().await.unwrap().text().await.unwrap();
    let r = browser
        .post(format!("{start}/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(submit(&page, "username=admin&password=admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let approve = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(approve.starts_with("/approve?request="), "{approve}");
    let consent = browser.get(format!("{finish}{approve}")).send().await.unwrap();
    assert_eq!(consent.status(), 200, "the consent page on {finish} must see the session made on {start}");
    let page = consent.text().await.unwrap();
    let r = browser
        .post(format!("{finish}/approve"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(submit(&page, "approval=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.as_str().split('?').next(), Some(redirect));
    location
}

/// A token request to the binary at `base` as the demo client
/// (`test_client:password`, Basic): status and JSON body.
pub async fn token(base: &str, body: String) -> (u16, serde_json::Value) {
    let r = http()
        .post(format!("{base}/oauth/token"))
        .header("Authorization", basic("test_client", "password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}
