//! `private_key_jwt` through the real app: a client registered in the
//! configuration file with an inline `jwks`, one with a `jwks_uri` served by
//! a local HTTP server (fetched, cached, fetched again on rotation, refused
//! when too large), and one assertion raced on two processes sharing Redis.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::test;
use oauth_core::assertion::ASSERTION_TYPE;
use oauth_core::jose::{SigningAlg, SigningKey};
use oauth_server::Config;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{CONFIG, app, basic, free_port, http, spawn_with_extra_config};

const ISSUER: &str = "http://localhost:8000";

pub fn key(kid: &str, alg: SigningAlg) -> SigningKey {
    SigningKey::generate(kid, alg).unwrap()
}

pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()})
}

/// A signed assertion from `client` for `aud`, valid for a minute.
pub fn assertion(key: &SigningKey, client: &str, aud: &str, jti: &str) -> String {
    let now = oauth_core::testing::wall_clock_now();
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"});
    let claims = json!({"iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + 60});
    key.sign_with_header(&header, &claims).unwrap()
}

/// The form fields of a client assertion.
pub fn assertion_form(assertion: &str) -> String {
    let ty: String = url::form_urlencoded::byte_serialize(ASSERTION_TYPE.as_bytes()).collect();
    format!("client_assertion_type={ty}&client_assertion={assertion}")
}

/// A `[[clients]]` table for a client_credentials client with private_key_jwt.
pub fn client_table(id: &str, keys: &str) -> String {
    format!(
        "[[clients]]\nid = \"{id}\"\nauth_method = \"private_key_jwt\"\n{keys}\ngrant_types = [\"client_credentials\"]\nscopes = \"read\"\ndefault_scopes = \"read\"\n"
    )
}

fn config_with(extra: &str) -> Config {
    Config::from_toml(&format!("{CONFIG}\n{extra}"), std::iter::empty()).unwrap()
}

fn post(uri: &str, body: String) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body)
}

#[actix_web::test]
async fn inline_jwks_from_the_config_file_authenticates_token_and_introspection() {
    let ec = key("ec-1", SigningAlg::ES256);
    let ed = key("ed-1", SigningAlg::EdDSA);
    let set = serde_json::to_string(&jwks(&[&ec, &ed])).unwrap();
    let table = client_table("robot", &format!("jwks = '{set}'"));
    let app = app(config_with(&table)).await;

    let token_url = format!("{ISSUER}/oauth/token");
    let first = assertion(&ec, "robot", &token_url, "jti-1");
    let body = format!("{}&grant_type=client_credentials", assertion_form(&first));
    let res = test::call_service(&app, post("/oauth/token", body.clone()).to_request()).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = test::read_body_json(res).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let res = test::call_service(&app, post("/oauth/token", body).to_request()).await;
    assert_eq!(res.status(), 401, "the same jti again");
    let error: Value = test::read_body_json(res).await;
    assert_eq!(error["error"], "invalid_client");

    // Introspection, with the issuer as audience and the Ed25519 key.
    let intro = assertion(&ed, "robot", ISSUER, "jti-2");
    let body = format!("{}&token={access}", assertion_form(&intro));
    let res = test::call_service(&app, post("/oauth/introspect", body).to_request()).await;
    assert_eq!(res.status(), 200);
    let answer: Value = test::read_body_json(res).await;
    assert_eq!(answer["active"], true);

    // Mixing methods: an assertion and HTTP Basic.
    let mixed = assertion(&ec, "robot", &token_url, "jti-3");
    let req = post("/oauth/token", format!("{}&grant_type=client_credentials", assertion_form(&mixed)))
        .insert_header(("Authorization", basic("robot", "x")));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), 400);
    let error: Value = test::read_body_json(res).await;
    assert_eq!(error["error"], "invalid_request");

    let req = test::TestRequest::get().uri("/.well-known/oauth-authorization-server").to_request();
    let doc: Value = test::call_and_read_body_json(&app, req).await;
    let methods = doc["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(methods.contains(&json!("private_key_jwt")), "{doc}");
    assert!(doc["token_endpoint_auth_signing_alg_values_supported"].as_array().unwrap().contains(&json!("ES256")));
}

/// A one-route HTTP server for a JWK Set whose body the test changes; counts requests.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    pub(crate) body: Arc<Mutex<String>>,
    pub(crate) hits: Arc<AtomicUsize>,
}

pub(crate) async fn jwks_server(body: String) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let body = Arc::new(Mutex::new(body));
    let hits = Arc::new(AtomicUsize::new(0));
    let (served, counter) = (body.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = served.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    JwksServer { url, body, hits }
}

#[actix_web::test]
async fn jwks_uri_is_fetched_cached_and_fetched_again_once_on_rotation() {
    let old = key("old", SigningAlg::ES256);
    let new = key("new", SigningAlg::EdDSA);
    let served = jwks_server(jwks(&[&old]).to_string()).await;
    let table = client_table("fetcher", &format!("jwks_uri = \"{}\"", served.url));
    let app = app(config_with(&format!("[private_key_jwt]\njwks_refetch_interval = 1\n{table}"))).await;
    let token_url = format!("{ISSUER}/oauth/token");
    let call = |jwt: String| post("/oauth/token", format!("{}&grant_type=client_credentials", assertion_form(&jwt)));

    for jti in ["a", "b"] {
        let res = test::call_service(&app, call(assertion(&old, "fetcher", &token_url, jti)).to_request()).await;
        assert_eq!(res.status(), 200, "old key, {jti}");
    }
    assert_eq!(served.hits.load(Ordering::SeqCst), 1, "fetched once, then cached");

    // Within the refetch interval an unknown kid causes no fetch.
    *served.body.lock().unwrap() = jwks(&[&new]).to_string();
    let res = test::call_service(&app, call(assertion(&new, "fetcher", &token_url, "early")).to_request()).await;
    assert_eq!(res.status(), 401, "new key, before the refetch interval passed");
    assert_eq!(served.hits.load(Ordering::SeqCst), 1, "no refetch within the interval");

    // After it, the client's new kid causes one fetch.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = test::call_service(&app, call(assertion(&new, "fetcher", &token_url, "c")).to_request()).await;
    assert_eq!(res.status(), 200, "new key after one refetch");
    assert_eq!(served.hits.load(Ordering::SeqCst), 2);

    // An unknown kid right after: no fetch within the refetch interval.
    let stranger = key("stranger", SigningAlg::ES256);
    let res = test::call_service(&app, call(assertion(&stranger, "fetcher", &token_url, "d")).to_request()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(served.hits.load(Ordering::SeqCst), 2, "a stranger's kid does not cause a fetch storm");
}

#[actix_web::test]
async fn an_oversized_jwks_uri_document_is_refused() {
    let ec = key("ec", SigningAlg::ES256);
    let mut big = jwks(&[&ec]);
    big["padding"] = json!("x".repeat(60 * 1024));
    let control = jwks_server(big.to_string()).await;
    big["padding"] = json!("x".repeat(70 * 1024));
    let served = jwks_server(big.to_string()).await;
    let tables = [
        client_table("bloated", &format!("jwks_uri = \"{}\"", served.url)),
        client_table("control", &format!("jwks_uri = \"{}\"", control.url)),
    ];
    let app = app(config_with(&tables.concat())).await;
    for (client, status) in [("control", 200), ("bloated", 401)] {
        let jwt = assertion(&ec, client, &format!("{ISSUER}/oauth/token"), "big-1");
        let body = format!("{}&grant_type=client_credentials", assertion_form(&jwt));
        let res = test::call_service(&app, post("/oauth/token", body).to_request()).await;
        assert_eq!(res.status(), status, "{client}: 60 KiB fits private_key_jwt.jwks_max_bytes (64 KiB), 70 KiB not");
    }
    assert_eq!(served.hits.load(Ordering::SeqCst), 1);
}

/// Two processes on one Redis: one assertion sent 32 times to both at
/// once is accepted exactly once (the jti replay store is shared).
#[tokio::test]
async fn one_assertion_raced_on_two_instances_is_accepted_once() {
    use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};
    let Some(url) = redis_url_or_skip("one_assertion_raced_on_two_instances_is_accepted_once") else { return };
    let prefix = unique_prefix();
    let ec = key("ec", SigningAlg::ES256);
    let set = serde_json::to_string(&jwks(&[&ec])).unwrap();
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let env = [
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str()),
        ("OAUTH__SERVER__ISSUER", issuer.as_str()),
    ];
    let table = client_table("racer", &format!("jwks = '{set}'"));
    let a = spawn_with_extra_config(&table, &env).await;
    let b = spawn_with_extra_config(&table, &env).await;
    let jwt = assertion(&ec, "racer", &issuer, "raced-jti");
    let body = format!("{}&grant_type=client_credentials", assertion_form(&jwt));
    let client = http();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let (client, body) = (client.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/oauth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401 || *s == 429), "{statuses:?}");
}

/// `client create --jwks` registers a private_key_jwt client without a
/// secret, which the running server (on the same Redis) then authenticates.
#[tokio::test]
async fn the_client_cli_registers_a_private_key_jwt_client() {
    use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};
    let Some(url) = redis_url_or_skip("the_client_cli_registers_a_private_key_jwt_client") else { return };
    let prefix = unique_prefix();
    let server = crate::redis::redis_server(&url, &prefix, None).await;
    let ed = key("cli-ed", SigningAlg::EdDSA);
    let set = jwks(&[&ed]).to_string();
    let args = ["create", "--id", "cli-robot", "--grant-type", "client_credentials", "--scope", "read", "--jwks", &set];
    let (ok, out, err) = crate::redis::cli("client", &args, &url, &prefix);
    assert!(ok, "{err}");
    assert!(out.contains("auth_method: private_key_jwt"), "{out}");
    assert!(!out.contains("client_secret:"), "no secret is generated: {out}");

    let mut private = jwks(&[&ed]);
    private["keys"][0]["d"] = json!("AAAA");
    let args = ["create", "--id", "leaky", "--grant-type", "client_credentials", "--jwks", &private.to_string()];
    let (ok, _, err) = crate::redis::cli("client", &args, &url, &prefix);
    assert!(!ok && err.contains("--jwks") && err.contains("private key material"), "{err}");

    let jwt = assertion(&ed, "cli-robot", &format!("{}/oauth/token", server.base), "cli-1");
    let r = http()
        .post(format!("{}/oauth/token", server.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("{}&grant_type=client_credentials", assertion_form(&jwt)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}
