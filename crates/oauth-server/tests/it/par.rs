//! Pushed authorization requests (RFC 9126) through the real app: push,
//! then the browser flow with `request_uri` (login and consent pages
//! reloaded), the code exchanged; the server-wide requirement; and one
//! `request_uri` raced on two processes sharing Redis.

use actix_web::test;
use oauth_server::testing::Browser;
use serde_json::Value;

use crate::support::{AUTHORIZE, app, basic, config, http, query_params, spawn};

const REDIRECT: &str = "https%3A%2F%2Fwww.example.com%2Fredirect";

/// The demo client's authorization request as a form, with PKCE.
fn demo_request() -> String {
    let challenge = oauth_core::pkce::s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    format!(
        "client_id=test_client&redirect_uri={REDIRECT}&response_type=code&state=pushed&scope=email&code_challenge={challenge}&code_challenge_method=S256"
    )
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[actix_web::test]
async fn a_pushed_request_runs_the_browser_flow_and_survives_reloads() {
    let app = app(config(&[])).await;
    let req = test::TestRequest::post()
        .uri("/oauth/par")
        .insert_header(("Authorization", basic("test_client", "password")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(demo_request())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 201);
    let body: Value = test::read_body_json(res).await;
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{body}");
    // 256 random bits, base64url: at least 128 bits as RFC 9126 §2.2 asks.
    assert!(request_uri.len() - "urn:ietf:params:oauth:request_uri:".len() >= 22, "{request_uri}");
    assert_eq!(body["expires_in"], 60);

    let mut browser = Browser::new();
    let authorize = format!("/oauth/authorize?client_id=test_client&request_uri={}", enc(&request_uri));
    let page = browser.get(&app, &authorize).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let login = page.next();
    assert!(login.starts_with("/login?request="), "{login}");
    for _ in 0..2 {
        assert_eq!(browser.get(&app, &login).await.status, 200, "the login page reloads");
    }
    let again = browser.get(&app, &authorize).await;
    assert_eq!(again.status, 400, "the request_uri was consumed: {}", again.body);

    let page = browser.login_at(&app, &login, "admin", "admin").await;
    let consent = page.next();
    assert!(consent.starts_with("/approve?request="), "{consent}");
    let mut form = String::new();
    for _ in 0..2 {
        let page = browser.get(&app, &consent).await;
        assert_eq!(page.status, 200, "the consent page reloads");
        form = page.submit("approval=1");
    }
    let done = browser.post_form(&app, "/approve", &form).await;
    let params = query_params(&done.next());
    assert_eq!(params.get("state").map(String::as_str), Some("pushed"), "the pushed state");
    let code = &params["code"];

    let req = test::TestRequest::post()
        .uri("/oauth/token")
        .insert_header(("Authorization", basic("test_client", "password")))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(format!(
            "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 200, "the code of a pushed request is exchanged");
}

#[actix_web::test]
async fn the_server_wide_requirement_refuses_front_channel_requests() {
    let app = app(config(&[("OAUTH__SECURITY__REQUIRE_PUSHED_AUTHORIZATION_REQUESTS", "true")])).await;
    let mut browser = Browser::new();
    let page = browser.get(&app, AUTHORIZE).await;
    let location = page.next();
    assert!(location.starts_with("https://www.example.com/redirect"), "{location}");
    assert_eq!(query_params(&location).get("error").map(String::as_str), Some("invalid_request"));

    let req = test::TestRequest::get().uri("/.well-known/oauth-authorization-server").to_request();
    let doc: Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(doc["require_pushed_authorization_requests"], true);
    assert_eq!(doc["pushed_authorization_request_endpoint"], "http://localhost:8000/oauth/par");
}

/// Two processes on one Redis: one `request_uri` used 32 times at once,
/// half on each, leads to exactly one login redirect; the others get the
/// error page.
#[tokio::test]
async fn one_request_uri_raced_on_two_instances_is_used_once() {
    use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};
    let Some(url) = redis_url_or_skip("one_request_uri_raced_on_two_instances_is_used_once") else { return };
    let prefix = unique_prefix();
    let env = [("OAUTH__STORAGE__URL", url.as_str()), ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str())];
    let a = spawn(&env).await;
    let b = spawn(&env).await;
    let client = http();
    let r = client
        .post(format!("{}/oauth/par", a.base))
        .header("Authorization", basic("test_client", "password"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(demo_request())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    let query = format!("client_id=test_client&request_uri={}", enc(&request_uri));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let (client, query) = (client.clone(), query.clone());
        tasks.push(tokio::spawn(async move {
            client.get(format!("{base}/oauth/authorize?{query}")).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 31, "{statuses:?}");
}
