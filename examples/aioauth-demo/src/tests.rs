//! The seed's whole demo, step by step, against the embedded demo configuration.

use actix_web::App;
use actix_web::test::{self, TestRequest};
use oauth_server::testing::Browser;

const AUTHORIZE: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";

fn basic() -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("test_client:password"))
}

fn curl(body: String) -> TestRequest {
    // What `curl -u 'test_client:password' -d …` sends.
    TestRequest::post()
        .uri("/oauth/tokenize")
        .insert_header(("Authorization", basic()))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body)
}

#[actix_web::test]
async fn the_seed_demo_works_as_written() {
    let config = super::config().unwrap();
    assert_eq!(config.server.bind, "127.0.0.1:8000");
    let state = oauth_server::build_state(&config).await.unwrap();
    let app = test::init_service(App::new().configure(move |cfg| oauth_server::configure(&state, cfg))).await;
    let mut browser = Browser::new();

    // The authorize URL → the login form (for this request: /login?request=…).
    let r = browser.get(&app, AUTHORIZE).await;
    assert_eq!(r.location_path(), Some("/login"));
    let login = browser.get(&app, &r.next()).await;
    assert!(login.body.contains("Login Form"));
    // Log in as admin / admin → the approve form.
    let r = browser.post_form(&app, "/login", &login.submit("username=admin&password=admin")).await;
    assert_eq!(r.location_path(), Some("/approve"));
    let approve = browser.get(&app, &r.next()).await;
    assert!(approve.body.contains("would like permissions"));

    // Approve → https://www.example.com/redirect?state=somestate&code=…&scope=email
    let r = browser.post_form(&app, "/approve", &approve.submit("approval=1")).await;
    let location = r.location().unwrap().to_owned();
    assert!(location.starts_with("https://www.example.com/redirect?state=somestate&code="), "{location}");
    assert!(location.contains("&scope=email"), "{location}");
    let code: String = url::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into();

    // curl localhost:8000/oauth/tokenize -u 'test_client:password' -d grant_type=authorization_code -d code=… -d redirect_uri=…
    let r = browser
        .send(
            &app,
            curl(format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect")),
        )
        .await;
    let tokens = r.json();
    assert_eq!(r.status, 200, "{tokens}");
    for field in ["access_token", "refresh_token", "scope", "token_type", "expires_in", "refresh_token_expires_in"] {
        assert!(tokens.get(field).is_some(), "{field} missing from {tokens}");
    }
    assert_eq!((tokens["expires_in"].as_u64(), tokens["refresh_token_expires_in"].as_u64()), (Some(300), Some(900)));
    assert_eq!((tokens["scope"].as_str(), tokens["token_type"].as_str()), (Some("email"), Some("Bearer")));

    // curl … -d grant_type=refresh_token -d refresh_token=… → the same set of data with new tokens.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = browser.send(&app, curl(format!("grant_type=refresh_token&refresh_token={refresh}"))).await;
    let renewed = r.json();
    assert_eq!(r.status, 200, "{renewed}");
    assert_eq!(renewed["expires_in"], 300);
    assert_eq!(renewed["refresh_token_expires_in"], 900);
    assert_ne!(renewed["access_token"], tokens["access_token"]);

    // The error response of the seed: Deny → …?error=access_denied&state=somestate
    let next = browser.get(&app, AUTHORIZE).await.next();
    let approve = browser.get(&app, &next).await;
    let r = browser.post_form(&app, "/approve", &approve.submit("approval=0")).await;
    let location = r.location().unwrap();
    assert!(location.starts_with("https://www.example.com/redirect?error=access_denied"), "{location}");
    assert!(location.contains("&state=somestate"), "{location}");
}
