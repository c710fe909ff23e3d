//! The device authorization grant (RFC 8628) through the real actix app: the
//! device's requests, the user's code entry, login and consent pages with a
//! cookie-keeping browser, deny, expiry, slow_down, another client's poll, and
//! wrong codes throttled.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::TestRequest;
use oauth_server::Config;
use oauth_server::testing::{Browser, Page};

use crate::support::{CONFIG, app};

/// The public device client `tv`, and another public device client `radio`.
pub const DEVICE_CLIENTS: &str = r#"
[[clients]]
id = "tv"
name = "Living-room TV"
auth_method = "none"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
scopes = "openid email"

[[clients]]
id = "radio"
auth_method = "none"
grant_types = ["urn:ietf:params:oauth:grant-type:device_code"]
scopes = "email"
"#;

pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn device_config(env: &[(&str, &str)]) -> Config {
    let mut vars = vec![("OAUTH__DEVICE__INTERVAL".to_owned(), "1".to_owned())];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Config::from_toml(&format!("{CONFIG}\n{DEVICE_CLIENTS}"), vars).unwrap()
}

fn form(uri: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body.to_owned())
}

/// The device asks for a code: (device code, user code).
async fn start<S, B>(app: &S, client: &str, scope: &str) -> (String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let r = Browser::new()
        .send(app, form("/oauth/device_authorization", &format!("client_id={client}&scope={scope}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    (body["device_code"].as_str().unwrap().to_owned(), body["user_code"].as_str().unwrap().to_owned())
}

async fn poll<S, B>(app: &S, device_code: &str, client: &str) -> Page
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let body = format!("grant_type={GRANT}&device_code={device_code}&client_id={client}");
    Browser::new().send(app, form("/oauth/token", &body)).await
}

#[track_caller]
fn assert_error(r: &Page, code: &str) {
    assert_eq!((r.status, r.json()["error"].as_str()), (400, Some(code)), "{}", r.body);
}

/// The user's part: the code entry page (from `verification_uri_complete`),
/// login as admin, and the consent page, answered `approval`. Returns the
/// final page.
async fn user_answers<S, B>(app: &S, browser: &mut Browser, user_code: &str, approval: &str) -> Page
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let page = browser.get(app, &format!("/device?user_code={user_code}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("value=\"{user_code}\"")), "pre-filled: {}", page.body);
    assert!(page.body.contains("Confirm"), "still to be confirmed: {}", page.body);
    // What the user types back: case and dashes do not matter.
    let typed = user_code.replace('-', " ").to_lowercase();
    let r = browser.post_form(app, "/device", &page.submit(&format!("user_code={typed}"))).await;
    assert_eq!((r.status, r.location_path()), (303, Some("/login")), "{}", r.body);
    let r = browser.login_at(app, &r.next(), "admin", "admin").await;
    assert_eq!((r.status, r.location_path()), (303, Some("/approve")), "{}", r.body);
    let consent = browser.get(app, &r.next()).await;
    assert_eq!(consent.status, 200);
    assert!(consent.body.contains("A device is asking to connect: Living-room TV"), "{}", consent.body);
    assert!(!consent.body.contains("Remember my decision"), "a device is never remembered: {}", consent.body);
    browser.post_form(app, "/approve", &consent.submit(&format!("approval={approval}"))).await
}

#[actix_web::test]
async fn the_whole_flow_through_the_pages() {
    let app = app(device_config(&[])).await;
    let r = Browser::new().send(&app, form("/oauth/device_authorization", "client_id=tv&scope=openid%20email")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    let user_code = body["user_code"].as_str().unwrap().to_owned();
    assert_eq!(body["verification_uri"], "http://localhost:8000/device");
    assert_eq!(body["verification_uri_complete"], format!("http://localhost:8000/device?user_code={user_code}"));
    assert_eq!((body["expires_in"].as_u64(), body["interval"].as_u64()), (Some(600), Some(1)));
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    assert!(device_code.len() >= 4 + 1 + 22, "at least 128 bits: {device_code}");

    let mut browser = Browser::new();
    let done = user_answers(&app, &mut browser, &user_code, "1").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Device connected") && done.body.contains("return to your device"), "{}", done.body);

    let r = poll(&app, &device_code, "tv").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = r.json();
    assert_eq!(tokens["scope"], "email openid");
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string(), "{tokens}");

    // Issued once; the code cannot be entered again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_error(&poll(&app, &device_code, "tv").await, "invalid_grant");
    let page = browser.get(&app, "/device").await;
    let r = browser.post_form(&app, "/device", &page.submit(&format!("user_code={user_code}"))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("That code is not valid"), "{}", r.body);

    // A logged-in user goes from the code straight to the consent page.
    let (_, second) = start(&app, "tv", "email").await;
    let page = browser.get(&app, "/device").await;
    let r = browser.post_form(&app, "/device", &page.submit(&format!("user_code={second}"))).await;
    assert_eq!((r.status, r.location_path()), (303, Some("/approve")), "{}", r.body);
    let consent = browser.get(&app, &r.next()).await;
    assert!(consent.body.contains("A device is asking to connect"), "{}", consent.body);

    // Counted in /metrics, advertised in metadata.
    let metrics = Browser::new().get(&app, "/metrics").await.body;
    assert!(metrics.contains(r#"oauth_tokens_issued_total{grant_type="device_code"} 1"#), "{metrics}");
    for op in ["put_device", "find_device", "decide_device", "poll_device"] {
        let series = format!(r#"oauth_store_operation_duration_seconds_count{{operation="{op}",outcome="ok"}} "#);
        let count = metrics.lines().find_map(|l| l.strip_prefix(series.as_str())).unwrap_or("0");
        assert_ne!(count, "0", "{op} is timed: {metrics}");
    }
    let metadata = Browser::new().get(&app, "/.well-known/oauth-authorization-server").await.json();
    assert_eq!(metadata["device_authorization_endpoint"], "http://localhost:8000/oauth/device_authorization");
    assert!(metadata["grant_types_supported"].as_array().unwrap().contains(&GRANT.into()), "{metadata}");
}

#[actix_web::test]
async fn pending_slow_down_deny_and_another_client() {
    let app = app(device_config(&[])).await;
    let (device_code, user_code) = start(&app, "tv", "email").await;
    assert_error(&poll(&app, &device_code, "tv").await, "authorization_pending");
    assert_error(&poll(&app, &device_code, "tv").await, "slow_down");
    assert_error(&poll(&app, &device_code, "radio").await, "invalid_grant");
    assert_error(&poll(&app, "0000.nothing", "tv").await, "invalid_grant");

    let done = user_answers(&app, &mut Browser::new(), &user_code, "0").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Device not connected"), "{}", done.body);
    // The interval is now 6 s (1 s, raised by 5): wait it out.
    std::thread::sleep(std::time::Duration::from_millis(6100));
    assert_error(&poll(&app, &device_code, "tv").await, "access_denied");

    // A device client without the grant, a scope it may not ask for.
    let r = Browser::new().send(&app, form("/oauth/device_authorization", "client_id=radio&scope=openid")).await;
    assert_error(&r, "invalid_scope");
    let r = Browser::new()
        .send(
            &app,
            form("/oauth/device_authorization", "client_id=test_client")
                .insert_header(("Authorization", crate::support::basic("test_client", "password"))),
        )
        .await;
    assert_error(&r, "unauthorized_client");
}

#[actix_web::test]
async fn an_expired_code_is_refused_on_both_sides() {
    let app = app(device_config(&[("OAUTH__DEVICE__CODE_LIFETIME", "1")])).await;
    let (device_code, user_code) = start(&app, "tv", "email").await;
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_error(&poll(&app, &device_code, "tv").await, "expired_token");
    let mut browser = Browser::new();
    let page = browser.get(&app, "/device").await;
    let r = browser.post_form(&app, "/device", &page.submit(&format!("user_code={user_code}"))).await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[actix_web::test]
async fn wrong_codes_are_throttled_per_session_and_forms_need_their_token() {
    let app = app(device_config(&[("OAUTH__THROTTLE__USERNAME_FAILURES", "3")])).await;
    let (_, user_code) = start(&app, "tv", "email").await;
    let mut browser = Browser::new();
    let page = browser.get(&app, "/device").await;
    let wrong = if user_code.starts_with('B') { "CCCC-CCCC" } else { "BBBB-BBBB" };
    for i in 0..3 {
        let r = browser.post_form(&app, "/device", &page.submit(&format!("user_code={wrong}"))).await;
        assert_eq!(r.status, 400, "wrong code {i}: {}", r.body);
    }
    let r = browser.post_form(&app, "/device", &page.submit(&format!("user_code={user_code}"))).await;
    assert_eq!(r.status, 429, "the right code is refused too while throttled: {}", r.body);
    assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| (1..=900).contains(&s))));
    assert!(r.body.contains("Too many wrong codes"), "{}", r.body);
    // Another browser (session) from the same address still gets in.
    let mut other = Browser::new();
    let page = other.get(&app, "/device").await;
    let r = other.post_form(&app, "/device", &page.submit(&format!("user_code={user_code}"))).await;
    assert_eq!((r.status, r.location_path()), (303, Some("/login")), "{}", r.body);

    // Without the form's token: refused.
    let r = Browser::new().post_form(&app, "/device", &format!("user_code={user_code}")).await;
    assert_eq!(r.status, 403);
    let r = Browser::new().send(&app, TestRequest::put().uri("/device")).await;
    assert_eq!(r.status, 405);
}

/// The user's part over real HTTP with a cookie-keeping client: the page of
/// `verification_uri_complete` and its confirmation, login on `start`, the
/// consent page on `finish` (another instance, or the same), answered
/// `approval`. Returns the final page's text.
async fn user_answers_over_http(start: &str, finish: &str, complete: &str, approval: &str) -> String {
    use crate::support::{browser, submit};
    let browser = browser();
    let page = browser.get(complete).send().await.unwrap().text().await.unwrap();
    let form = |body: String| ("Content-Type", "application/x-www-form-urlencoded", body);
    let post = |url: String, body: String| {
        let (name, value, body) = form(body);
        browser.post(url).header(name, value).body(body).send()
    };
    // The browser submits the text field as pre-filled.
    let prefilled = page.split("name=\"user_code\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let r = post(format!("{start}/device"), submit(&page, &format!("user_code={prefilled}"))).await.unwrap();
    assert_eq!(r.status(), 303, "the pre-filled code, confirmed");
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(format!("{start}{login}")).send().await.unwrap().text().await.unwrap();
    let r = post(format!("{start}/login"), submit(&page, "username=admin&password=admin")).await.unwrap();
    assert_eq!(r.status(), 303);
    let approve = r.headers()["location"].to_str().unwrap().to_owned();
    let page = browser.get(format!("{finish}{approve}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("A device is asking to connect"), "{page}");
    let r = post(format!("{finish}/approve"), submit(&page, &format!("approval={approval}"))).await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The `oauth2` crate's device flow against the binary: it asks for a code
/// and polls (honouring `interval` and `slow_down`) while the user approves
/// over HTTP; then again while the user denies.
#[tokio::test]
async fn the_oauth2_crate_runs_the_device_flow_against_the_binary() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        ClientId, DeviceAuthorizationUrl, RequestTokenError, Scope, StandardDeviceAuthorizationResponse, TokenResponse,
        TokenUrl,
    };
    let server = crate::support::spawn_with_extra_config(DEVICE_CLIENTS, &[("OAUTH__DEVICE__INTERVAL", "1")]).await;
    let base = server.base.clone();
    let client = BasicClient::new(ClientId::new("tv".into()))
        .set_token_uri(TokenUrl::new(format!("{base}/oauth/token")).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!("{base}/oauth/device_authorization")).unwrap(),
        );
    let http = crate::support::http();

    for approval in ["1", "0"] {
        let details: StandardDeviceAuthorizationResponse =
            client.exchange_device_code().add_scope(Scope::new("email".into())).request_async(&http).await.unwrap();
        assert_eq!(details.verification_uri().as_str(), format!("{base}/device"));
        assert_eq!(details.interval(), std::time::Duration::from_secs(1));
        let complete = details.verification_uri_complete().unwrap().secret().to_owned();
        assert_eq!(complete, format!("{base}/device?user_code={}", details.user_code().secret()));
        let user = {
            let base = base.clone();
            tokio::spawn(async move {
                // The device polls a few times before the user gets there.
                tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
                user_answers_over_http(&base, &base, &complete, approval).await
            })
        };
        let result = client
            .exchange_device_access_token(&details)
            .request_async(&http, tokio::time::sleep, Some(std::time::Duration::from_secs(60)))
            .await;
        let page = user.await.unwrap();
        if approval == "1" {
            assert!(page.contains("Device connected"), "{page}");
            let tokens = result.unwrap();
            assert_eq!(tokens.scopes().map(|s| s[0].to_string()), Some("email".into()));
            assert!(tokens.refresh_token().is_some());
            let introspected = crate::support::http()
                .post(format!("{base}/oauth/introspect"))
                .basic_auth("test_client", Some("password"))
                .form(&[("token", tokens.access_token().secret().as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(introspected.status(), 200);
        } else {
            assert!(page.contains("Device not connected"), "{page}");
            match result {
                Err(RequestTokenError::ServerResponse(e)) => {
                    assert_eq!(e.error().as_ref(), "access_denied", "{e:?}");
                }
                other => panic!("the denial reaches the client: {other:?}"),
            }
        }
    }
}

/// Two server processes on one Redis: the code is asked for on one, entered
/// and approved across both, then 32 concurrent polls (16 to each) after
/// the approval: exactly one gets tokens.
#[tokio::test]
async fn two_instances_issue_a_device_code_once() {
    use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};
    let Some(url) = redis_url_or_skip("two_instances_issue_a_device_code_once") else { return };
    let prefix = unique_prefix();
    let mut env = vec![
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str()),
        ("OAUTH__STORAGE__TIMEOUT_MS", "2000"),
        ("OAUTH__SESSION__COOKIE_KEY", crate::redis::KEY),
        ("OAUTH__DEVICE__INTERVAL", "1"),
    ];
    let a = crate::support::spawn_with_extra_config(DEVICE_CLIENTS, &env).await;
    env.push(("OAUTH__SERVER__ISSUER", a.base.as_str()));
    let b = crate::support::spawn_with_extra_config(DEVICE_CLIENTS, &env).await;
    let http = crate::support::http();
    for round in 0..3 {
        let r = http
            .post(format!("{}/oauth/device_authorization", b.base))
            .form(&[("client_id", "tv"), ("scope", "email")])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        let complete = body["verification_uri_complete"].as_str().unwrap();
        assert!(complete.starts_with(&a.base), "{complete}");
        let device_code = body["device_code"].as_str().unwrap().to_owned();
        let page = user_answers_over_http(&a.base, &b.base, complete, "1").await;
        assert!(page.contains("Device connected"), "{page}");
        let polls: Vec<_> = (0..32)
            .map(|i| {
                let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
                let device_code = device_code.clone();
                tokio::spawn(async move {
                    let r = crate::support::http()
                        .post(format!("{base}/oauth/token"))
                        .form(&[("grant_type", GRANT), ("device_code", device_code.as_str()), ("client_id", "tv")])
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    (status, r.json::<serde_json::Value>().await.unwrap())
                })
            })
            .collect();
        let mut issued = 0;
        for poll in polls {
            let (status, body) = poll.await.unwrap();
            match status {
                200 => issued += 1,
                400 => assert!(
                    ["slow_down", "invalid_grant"].contains(&body["error"].as_str().unwrap()),
                    "round {round}: {body}"
                ),
                _ => panic!("round {round}: {status} {body}"),
            }
        }
        assert_eq!(issued, 1, "round {round}: exactly one poll gets tokens");
    }

    // Denied on one instance, answered on the other.
    let r =
        http.post(format!("{}/oauth/device_authorization", a.base)).form(&[("client_id", "tv")]).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let page = user_answers_over_http(&b.base, &a.base, body["verification_uri_complete"].as_str().unwrap(), "0").await;
    assert!(page.contains("Device not connected"), "{page}");
    let r = http
        .post(format!("{}/oauth/token", b.base))
        .form(&[("grant_type", GRANT), ("device_code", body["device_code"].as_str().unwrap()), ("client_id", "tv")])
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["error"], "access_denied", "{answer}");
}

/// `client create --grant-type urn:ietf:params:oauth:grant-type:device_code`
/// registers a device client that the running server serves at once.
#[tokio::test]
async fn the_cli_registers_a_device_client() {
    use oauth_storage_redis::testing::{redis_url_or_skip, unique_prefix};
    let Some(url) = redis_url_or_skip("the_cli_registers_a_device_client") else { return };
    let prefix = unique_prefix();
    let server = crate::redis::redis_server(&url, &prefix, None).await;
    let args = ["create", "--id", "cli-tv", "--auth-method", "none", "--grant-type", GRANT, "--scope", "email"];
    let (ok, _, err) = crate::redis::cli("client", &args, &url, &prefix);
    assert!(ok, "{err}");
    let (_, shown, _) = crate::redis::cli("client", &["show", "cli-tv"], &url, &prefix);
    assert!(shown.contains(GRANT), "{shown}");
    let r = crate::support::http()
        .post(format!("{}/oauth/device_authorization", server.base))
        .form(&[("client_id", "cli-tv"), ("scope", "email")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["interval"], 5, "{body}");
    let (ok, _, err) =
        crate::redis::cli("client", &["create", "--id", "bad", "--grant-type", "device_code"], &url, &prefix);
    assert!(!ok && err.contains("unknown grant type"), "the URN is the grant type's name: {err}");
}
