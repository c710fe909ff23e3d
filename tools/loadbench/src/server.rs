//! `oauth-server` under test: where its executable is, its configuration,
//! and starting it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use oauth_storage_redis::testing::free_port;

use crate::process::{Proc, SERVER_CORE, pinned, wait_http};
use crate::redis::Redis;

/// One server under test (the baseline is one too).
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) base: String,
    pub(crate) proc: Proc,
    pub(crate) redis: Option<Arc<Redis>>,
}

/// The `oauth-server` executable: `LOAD_SERVER_BIN`, or the one next to this
/// tool's executable (cargo puts both in `target/release`).
pub(crate) fn binary() -> PathBuf {
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

/// The servers' configuration. The user comes with an Argon2id hash, as in
/// production: a plain `password` would be hashed at start, and that one
/// hash (19 MiB) would be the peak of the process's memory. DPoP proofs are
/// signed before their run, so they are accepted for `dpop_max_age` seconds
/// (a baseline run, the run and the signing); OpenID Connect is on (an
/// ephemeral ES256 key) for the DPoP-protected UserInfo workload; `bench` may
/// exchange tokens, and `bench-device` polls device codes.
pub(crate) fn config_text(
    secret_hash: &str,
    password_hash: &str,
    storage: &str,
    prefix: &str,
    dpop_max_age: u64,
) -> String {
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
# A run keeps a few million tokens alive (an hour's lifetime); the default
# bound of the memory store (a million records) would answer 503 midway.
memory_max_records = 50000000

[dpop]
max_age = {dpop_max_age}

[oidc]
ephemeral_key = "ES256"

[session]
cookie_key = "YmVuY2gtY29va2llLWtleS1iZW5jaC1jb29raWUta2V5LWJlbmNoLWNvb2tpZS1rZXktYmVuY2gtY29va2llLWtleQ=="

[[clients]]
id = "bench"
secret_hash = "{secret_hash}"
auth_method = "client_secret_post"
redirect_uris = ["https://app.example/cb"]
grant_types = ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
scopes = "read write openid"

# The token exchange workload: `bench` exchanges its own tokens (impersonation).
[[token_exchange.clients]]
client_id = "bench"
impersonation = true

# The device polling workload: a public client, as devices are.
[[clients]]
id = "bench-device"
auth_method = "none"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
scopes = "read"

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

/// Starts `binary` pinned to the server core with `config` (written to
/// `<dir>/<name>.toml`) on a free port, and waits until it is healthy.
pub(crate) async fn start(
    binary: &Path,
    dir: &Path,
    name: &'static str,
    config: &str,
    redis: Option<Arc<Redis>>,
) -> Target {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = pinned(SERVER_CORE, binary)
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
    Target { name, base, proc: Proc::new(child), redis }
}
