//! oauth-server on Redis: two instances share flows, concurrency across
//! processes, a Redis outage, and client management with the CLI.

use std::time::{Duration, Instant};

use oauth_storage_redis::testing::{LocalRedis, redis_server_or_skip, redis_url_or_skip, unique_prefix};

use crate::support::{Server, basic, browser, browser_flow, http, spawn, submit, token};

pub const KEY: &str = "c2Vzc2lvbi1jb29raWUta2V5LWZvci10aGUtcmVkaXMtdGVzdHMtb2YtdGhlLXNlcnZlci0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==";

pub async fn redis_server(url: &str, prefix: &str, issuer: Option<&str>) -> Server {
    let mut env = vec![
        ("OAUTH__STORAGE__URL", url),
        ("OAUTH__STORAGE__KEY_PREFIX", prefix),
        ("OAUTH__STORAGE__TIMEOUT_MS", "500"),
        ("OAUTH__SESSION__COOKIE_KEY", KEY),
    ];
    if let Some(issuer) = issuer {
        env.push(("OAUTH__SERVER__ISSUER", issuer));
    }
    spawn(&env).await
}

const AUTHORIZE: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";

/// authorize and login on `a`, consent on `b`; returns the code.
async fn code_across(a: &str, b: &str) -> String {
    browser_flow(a, b, &format!("{a}{AUTHORIZE}")).await["code"].clone()
}

#[tokio::test]
async fn two_instances_share_flows_and_stay_atomic() {
    let Some(url) = redis_url_or_skip("two_instances_share_flows_and_stay_atomic") else { return };
    let prefix = unique_prefix();
    let a = redis_server(&url, &prefix, None).await;
    let b = redis_server(&url, &prefix, Some(&a.base)).await;
    let (a, b) = (a.base.clone(), b.base.clone());

    // A flow begun on one instance is finished on the other, token included.
    let code = code_across(&a, &b).await;
    let (status, tokens) =
        token(&b, format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"))
            .await;
    assert_eq!(status, 200, "{tokens}");

    // 32 parallel redemptions of one code over both instances: one take.
    let code = code_across(&b, &a).await;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let base = if i % 2 == 0 { a.clone() } else { b.clone() };
            let body = body.clone();
            tokio::spawn(async move { token(&base, body).await })
        })
        .collect();
    let mut ok = Vec::new();
    for t in tasks {
        let (status, json) = t.await.unwrap();
        if status == 200 {
            ok.push(json);
        } else {
            assert_eq!((status, json["error"].as_str()), (400, Some("invalid_grant")));
        }
    }
    // At most one redemption, and the replays revoked what it got: a replay
    // landing between its take of the code and its grant's creation makes it
    // fail too (then none succeeds), so no token of the code stays usable.
    assert!(ok.len() <= 1, "at most one redemption: {ok:?}");
    for tokens in &ok {
        let info = introspect(&a, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["active"], false, "a replayed code revokes its tokens");
    }

    // 32 parallel refreshes of one refresh token over both instances: exactly one success.
    let code = code_across(&a, &b).await;
    let (_, first) =
        token(&a, format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"))
            .await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let base = if i % 2 == 0 { a.clone() } else { b.clone() };
            let body = format!("grant_type=refresh_token&refresh_token={refresh}");
            tokio::spawn(async move { token(&base, body).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (status, json) = t.await.unwrap();
        if status == 200 {
            winners.push(json);
        } else {
            assert_eq!((status, json["error"].as_str()), (400, Some("invalid_grant")), "{json}");
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation");
    // Concurrent use is reuse: the family is revoked as a whole, on both instances.
    for base in [&a, &b] {
        for t in [&first["access_token"], &winners[0]["access_token"], &winners[0]["refresh_token"]] {
            assert_eq!(introspect(base, t.as_str().unwrap()).await["active"], false);
        }
    }
}

async fn introspect(base: &str, token: &str) -> serde_json::Value {
    let r = http()
        .post(format!("{base}/oauth/introspect"))
        .header("Authorization", basic("test_client", "password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn redis_outage_gives_503_and_service_resumes() {
    let Some(binary) = redis_server_or_skip("redis_outage_gives_503_and_service_resumes") else { return };
    let mut redis = LocalRedis::start(binary, &[]).unwrap();
    let server = redis_server(&redis.url(), "oauth", None).await;
    let base = server.base.clone();
    let cc = || async {
        let r = http()
            .post(format!("{base}/oauth/token"))
            .header("Authorization", basic("test_client", "password"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&refresh_token=abc.def")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };
    let (status, _) = cc().await;
    assert_eq!(status, 400, "Redis up: an unknown refresh token is invalid_grant");

    redis.stop();
    let (status, json) = cc().await;
    assert_eq!((status, json["error"].as_str()), (503, Some("temporarily_unavailable")));
    for endpoint in ["revoke", "introspect"] {
        let r = http()
            .post(format!("{base}/oauth/{endpoint}"))
            .header("Authorization", basic("test_client", "password"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("token=abc.def")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{endpoint}");
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "temporarily_unavailable");
    }
    assert_eq!(http().get(format!("{base}/readyz")).send().await.unwrap().status(), 503);
    assert_eq!(http().get(format!("{base}/healthz")).send().await.unwrap().status(), 200, "the process is alive");
    let page = http().get(format!("{base}{AUTHORIZE}")).send().await.unwrap();
    assert_eq!(page.status(), 503, "pages show an error");
    assert!(page.text().await.unwrap().contains("Temporarily unavailable"));

    redis.resume().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while http().get(format!("{base}/readyz")).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = cc().await;
    assert_eq!(status, 400, "back to normal answers");
    let code = code_across(&base, &base).await;
    let (status, _) = token(
        &base,
        format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"),
    )
    .await;
    assert_eq!(status, 200);
}

/// Runs `oauth-server <command> --config demo.toml <args>` against the Redis of the test.
pub fn cli(command: &str, args: &[&str], url: &str, prefix: &str) -> (bool, String, String) {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/aioauth-demo/demo.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oauth-server"))
        .args([command, "--config", config])
        .args(args)
        .env("OAUTH__STORAGE__URL", url)
        .env("OAUTH__STORAGE__KEY_PREFIX", prefix)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn cli_creates_and_deletes_clients() {
    let Some(url) = redis_url_or_skip("cli_creates_and_deletes_clients") else { return };
    let prefix = unique_prefix();
    let server = redis_server(&url, &prefix, None).await;

    let (ok, out, err) = cli(
        "client",
        &[
            "create",
            "--id",
            "robot",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read write",
            "--auth-method",
            "client_secret_post",
        ],
        &url,
        &prefix,
    );
    assert!(ok, "{err}");
    assert!(err.contains("event=\"client.created\"") && err.contains("client=\"robot\""), "audit line: {err}");
    let secret = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).unwrap().to_owned();
    assert!(!err.contains(&secret), "the secret is not in the audit line: {err}");
    assert!(secret.len() >= 43, "a generated high-entropy secret");
    let (_, listed, _) = cli("client", &["list"], &url, &prefix);
    assert!(listed.contains("robot") && listed.contains("test_client"), "{listed}");
    let (_, shown, _) = cli("client", &["show", "robot"], &url, &prefix);
    assert!(shown.contains("SHA-256 hash") && !shown.contains(&secret), "the secret is never shown again: {shown}");

    let request = || async {
        let r = http()
            .post(format!("{}/oauth/token", server.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&client_id=robot&client_secret={secret}&scope=read"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };
    let (status, json) = request().await;
    assert_eq!((status, json["scope"].as_str()), (200, Some("read")), "{json}");

    let (ok, _, err) = cli("client", &["delete", "robot"], &url, &prefix);
    assert!(ok, "{err}");
    assert!(err.contains("event=\"client.deleted\""), "audit line: {err}");
    let (status, json) = request().await;
    assert_eq!((status, json["error"].as_str()), (401, Some("invalid_client")));

    // Bad input names the flag; configured clients are read-only; memory has nothing to manage.
    let rows: &[(&[&str], &str)] = &[
        (&["create", "--redirect-uri", "https://a.example/cb#fragment"], "--redirect-uri"),
        (&["create"], "--redirect-uri: client "),
        (&["create", "--id", "a b", "--redirect-uri", "https://a.example/cb"], "--id"),
        (&["create", "--grant-type", "magic", "--redirect-uri", "https://a.example/cb"], "--grant-type"),
        (
            &["create", "--auth-method", "private_key_jwt", "--redirect-uri", "https://a.example/cb"],
            "--jwks or --jwks-uri",
        ),
        (&["create", "--grant-type", "client_credentials", "--auth-method", "none"], "--grant-type"),
        (&["create", "--id", "test_client", "--redirect-uri", "https://a.example/cb"], "--id"),
        (&["delete", "test_client"], "read-only"),
        (&["delete", "nobody"], "no client"),
    ];
    for (args, expected) in rows {
        let (ok, _, err) = cli("client", args, &url, &prefix);
        assert!(!ok && err.contains(expected), "{args:?}: {err}");
    }
    let (ok, _, err) = cli("client", &["list"], "memory", &prefix);
    assert!(!ok && err.contains("storage.url"), "{err}");
}

#[tokio::test]
async fn remembered_consent_is_revocable_from_the_cli() {
    let Some(url) = redis_url_or_skip("remembered_consent_is_revocable_from_the_cli") else { return };
    let prefix = unique_prefix();
    let server = redis_server(&url, &prefix, None).await;
    let base = server.base.clone();
    let browser = browser();
    let r = browser.get(format!("{base}{AUTHORIZE}")).send().await.unwrap();
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(format!("{base}{login}")).send().await.unwrap().text().await.unwrap();
    let form = |body: String| {
        browser
            .post(format!("{base}/{}", if body.contains("approval") { "approve" } else { "login" }))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let r = form(submit(&page, "username=admin&password=admin")).send().await.unwrap();
    let approve = r.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(format!("{base}{approve}")).send().await.unwrap().text().await.unwrap();
    let r = form(submit(&page, "approval=1&remember=1")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let again = browser.get(format!("{base}{AUTHORIZE}")).send().await.unwrap();
    assert_eq!(again.status(), 302, "remembered: no consent page");

    let (ok, out, err) = cli("consent", &["revoke", "--subject", "admin", "--client", "test_client"], &url, &prefix);
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    let again = browser.get(format!("{base}{AUTHORIZE}")).send().await.unwrap();
    assert_eq!(
        (again.status().as_u16(), again.headers()["location"].to_str().unwrap().split('?').next()),
        (303, Some("/approve")),
        "asked again"
    );
    let (ok, _, err) = cli("consent", &["revoke", "--subject", "admin", "--client", "test_client"], &url, &prefix);
    assert!(!ok && err.contains("no remembered consent"), "{err}");
}

/// Two processes on one Redis share the failure counters: failures on one
/// instance throttle the other, for client secrets and for logins.
#[tokio::test]
async fn two_instances_share_the_throttle() {
    let Some(url) = redis_url_or_skip("two_instances_share_the_throttle") else { return };
    let prefix = unique_prefix();
    let env = [
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str()),
        ("OAUTH__SESSION__COOKIE_KEY", KEY),
        ("OAUTH__THROTTLE__CLIENT_FAILURES", "3"),
        ("OAUTH__THROTTLE__USERNAME_FAILURES", "2"),
    ];
    let a = spawn(&env).await;
    let b = spawn(&env).await;
    let wrong_secret = |base: String| async move {
        let r = http()
            .post(format!("{base}/oauth/token"))
            .header("Authorization", basic("test_client", "wrong"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()))
    };
    for _ in 0..3 {
        assert_eq!(wrong_secret(a.base.clone()).await, (401, None), "counted on a");
    }
    let (status, retry_after) = wrong_secret(b.base.clone()).await;
    assert_eq!(status, 429, "b sees a's failures");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|n| (1..=60).contains(&n))));

    let login = |base: String, password: &'static str| async move {
        let browser = browser();
        let page = browser.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
        let r = browser
            .post(format!("{base}/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(submit(&page, &format!("username=admin&password={password}")))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    };
    assert_eq!(login(a.base.clone(), "wrong").await, 400);
    assert_eq!(login(b.base.clone(), "wrong").await, 400);
    assert_eq!(login(a.base.clone(), "admin").await, 429, "locked by failures on both");
    assert_eq!(login(b.base.clone(), "admin").await, 429, "on either instance");
}

/// `client delete` revokes every token of the client: UserInfo refuses its
/// access tokens and its refresh token is dead, even for a client registered
/// again under the same id, whose introspection finds the old tokens inactive.
#[tokio::test]
async fn deleting_a_client_revokes_its_tokens() {
    let Some(url) = redis_url_or_skip("deleting_a_client_revokes_its_tokens") else { return };
    let prefix = unique_prefix();
    let server = redis_server(&url, &prefix, None).await;
    let base = server.base.clone();
    let create = || {
        let (ok, out, err) = cli(
            "client",
            &[
                "create",
                "--id",
                "webapp",
                "--redirect-uri",
                "https://www.example.com/redirect",
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
                "--scope",
                "openid email",
                "--auth-method",
                "client_secret_basic",
            ],
            &url,
            &prefix,
        );
        assert!(ok, "{err}");
        out.lines().find_map(|l| l.strip_prefix("client_secret: ")).unwrap().to_owned()
    };
    let secret = create();
    let authorize = format!(
        "{base}/oauth/authorize?client_id=webapp&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=s&scope=openid%20email"
    );
    let code = browser_flow(&base, &base, &authorize).await["code"].clone();
    let post = |endpoint: &'static str, secret: String, body: String| {
        let base = base.clone();
        async move {
            let r = http()
                .post(format!("{base}/oauth/{endpoint}"))
                .header("Authorization", basic("webapp", &secret))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, tokens) = post(
        "token",
        secret.clone(),
        format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let userinfo = || async {
        http().get(format!("{base}/oauth/userinfo")).bearer_auth(&access).send().await.unwrap().status().as_u16()
    };
    assert_eq!(userinfo().await, 200, "valid before the deletion");
    let (_, info) = post("introspect", secret.clone(), format!("token={access}")).await;
    assert_eq!(info["active"], true);

    let (ok, out, err) = cli("client", &["delete", "webapp"], &url, &prefix);
    assert!(ok && out.contains("revoked 1 grant"), "{out}{err}");
    assert_eq!(userinfo().await, 401, "UserInfo refuses a deleted client's access token");
    let (status, json) = post("token", secret, format!("grant_type=refresh_token&refresh_token={refresh}")).await;
    assert_eq!((status, json["error"].as_str()), (401, Some("invalid_client")), "{json}");

    // Registered again under the same id: the old tokens stay dead.
    let secret = create();
    let (_, info) = post("introspect", secret.clone(), format!("token={access}")).await;
    assert_eq!(info["active"], false, "introspection: the old access token is inactive");
    let (_, info) = post("introspect", secret.clone(), format!("token={refresh}")).await;
    assert_eq!(info["active"], false, "introspection: the old refresh token is inactive");
    let (status, json) = post("token", secret, format!("grant_type=refresh_token&refresh_token={refresh}")).await;
    assert_eq!((status, json["error"].as_str()), (400, Some("invalid_grant")), "{json}");
}

/// `client rotate-secret`: the new secret is printed once; the old one keeps
/// working for the overlap, then only the new one does.
#[tokio::test]
async fn cli_rotates_a_secret_with_an_overlap() {
    let Some(url) = redis_url_or_skip("cli_rotates_a_secret_with_an_overlap") else { return };
    let prefix = unique_prefix();
    let server = redis_server(&url, &prefix, None).await;
    let args = ["create", "--id", "robot", "--grant-type", "client_credentials", "--auth-method", "client_secret_post"];
    let (ok, out, err) = cli("client", &args, &url, &prefix);
    assert!(ok, "{err}");
    let old = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).unwrap().to_owned();
    let (ok, out, err) = cli("client", &["rotate-secret", "robot", "--overlap", "3s"], &url, &prefix);
    assert!(ok, "{err}");
    let new = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).unwrap().to_owned();
    assert_ne!(old, new);
    let status = |secret: String| {
        let base = server.base.clone();
        async move {
            http()
                .post(format!("{base}/oauth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=client_credentials&client_id=robot&client_secret={secret}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(new.clone()).await, 200, "the new secret");
    assert_eq!(status(old.clone()).await, 200, "the old secret during the overlap");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(status(old).await, 401, "the old secret after the overlap");
    assert_eq!(status(new).await, 200, "the new secret after the overlap");
    let (ok, _, err) = cli("client", &["rotate-secret", "robot", "--overlap", "1y"], &url, &prefix);
    assert!(!ok && err.contains("--overlap"), "{err}");
}

/// `rediss://` with `storage.tls_ca_file`: the server trusts the private CA
/// of a TLS-only Redis, is ready, and a whole flow runs over it.
#[cfg(feature = "redis-tls")]
#[tokio::test]
async fn a_flow_over_redis_with_tls_and_a_private_ca() {
    use oauth_storage_redis::testing::{TlsRedis, skip_or_fail};
    let test = "a_flow_over_redis_with_tls_and_a_private_ca";
    let Some(binary) = redis_server_or_skip(test) else { return };
    let redis = match TlsRedis::start(binary) {
        Ok(redis) => redis,
        Err(e) => return skip_or_fail(test, &format!("redis-server does not serve TLS (built without it?): {e}")),
    };
    let (url, ca_file) = (redis.url(), redis.ca_file());
    let prefix = unique_prefix();
    let server = spawn(&[
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__TLS_CA_FILE", &ca_file.to_string_lossy()),
        ("OAUTH__STORAGE__KEY_PREFIX", &prefix),
        ("OAUTH__SESSION__COOKIE_KEY", KEY),
    ])
    .await;
    let ready = http().get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200, "Redis over TLS answers");
    let code = code_across(&server.base, &server.base).await;
    let (status, tokens) = token(
        &server.base,
        format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");

    // Without the CA, the same Redis is not trusted: the server is not ready.
    let untrusted = spawn(&[
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__KEY_PREFIX", &prefix),
        ("OAUTH__STORAGE__TIMEOUT_MS", "500"),
    ])
    .await;
    let ready = http().get(format!("{}/readyz", untrusted.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "a certificate from an unknown CA is refused");
}
