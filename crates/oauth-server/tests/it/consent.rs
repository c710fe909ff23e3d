//! Each consent form answers exactly the request it was shown for, with the
//! scopes it showed; and what strangers can make the server keep is bounded
//! (issue 14).

use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use oauth_server::testing::{Browser, Page};
use oauth_server::{AppState, Config};

use crate::support::{AUTHORIZE, CONFIG, query_params, tokenize};

/// A second client, with wider scopes and its own redirect URI.
const OTHER: &str = "/oauth/authorize?client_id=other_client&redirect_uri=https%3A%2F%2Fother.example%2Fcb&response_type=code&state=other&scope=openid%20profile%20email";

fn config(env: &[(&str, &str)]) -> Config {
    let toml = format!(
        "{CONFIG}\n[[clients]]\nid = \"other_client\"\nname = \"Other App\"\nsecret = \"other-secret\"\nredirect_uris = [\"https://other.example/cb\"]\ngrant_types = [\"authorization_code\"]\nscopes = \"openid profile email\"\n"
    );
    Config::from_toml(&toml, env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

async fn app(
    config: Config,
) -> (
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    Arc<AppState>,
) {
    let state = oauth_server::build_state(&config).await.unwrap();
    let shared = state.clone();
    let app = test::init_service(App::new().configure(move |cfg| oauth_server::configure(&shared, cfg))).await;
    (app, state)
}

fn live_sessions(state: &AppState) -> usize {
    state.sessions.store().live_count().expect("memory sessions count themselves")
}

/// The `request` id in a page's Location.
fn request_id(page: &Page) -> String {
    query_params(&format!("http://x{}", page.next()))["request"].clone()
}

#[actix_web::test]
async fn two_requests_in_one_session_are_each_answered_by_their_own_form() {
    let (app, _) = app(config(&[])).await;
    let mut browser = Browser::new();
    // Request A (test_client, scope email): log in, get its consent form.
    let r = browser.get(&app, AUTHORIZE).await;
    let a = request_id(&r);
    let r = browser.login_at(&app, &r.next(), "admin", "admin").await;
    assert_eq!(r.location(), Some(format!("/approve?request={a}").as_str()));
    let form_a = browser.get(&app, &r.next()).await;
    assert!(form_a.body.contains("test_client would like permissions"), "{}", form_a.body);
    // Request B (another client, wider scopes), in the same browser session.
    let r = browser.get(&app, OTHER).await;
    let b = request_id(&r);
    assert_ne!(a, b);
    let form_b = browser.get(&app, &r.next()).await;
    assert!(form_b.body.contains("Other App would like permissions"), "{}", form_b.body);

    // A's form naming B, or claiming B's scopes, or naming nothing: refused, nothing consumed.
    let swapped_id = form_a.submit("approval=1").replace(&format!("request={a}"), &format!("request={b}"));
    let r = browser.post_form(&app, "/approve", &swapped_id).await;
    assert_eq!((r.status, r.location()), (403, None), "A's token does not approve B");
    let swapped_scope = form_a.submit("approval=1").replace("scope=email", "scope=openid+profile+email");
    assert!(swapped_scope.contains("scope=openid+profile+email"), "{swapped_scope}");
    let r = browser.post_form(&app, "/approve", &swapped_scope).await;
    assert_eq!((r.status, r.location()), (400, None), "only the scopes shown");
    let r =
        browser.post_form(&app, "/approve", &form_a.submit("approval=1").replace(&format!("request={a}&"), "")).await;
    assert_eq!((r.status, r.location()), (400, None), "a form naming no request approves nothing");
    assert!(r.body.contains("Nothing to approve"), "{}", r.body);

    // The old swap: A's form submitted after B arrived approves A, with A's scope, at A's client.
    let r = browser.post_form(&app, "/approve", &form_a.submit("approval=1&remember=1")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.next();
    assert!(location.starts_with("https://www.example.com/redirect?"), "{location}");
    let params = query_params(&location);
    assert_eq!((params["scope"].as_str(), params["state"].as_str()), ("email", "somestate"));
    // B's form approves B, with B's scopes.
    let r = browser.post_form(&app, "/approve", &form_b.submit("approval=1")).await;
    let location = r.next();
    assert!(location.starts_with("https://other.example/cb?"), "{location}");
    let params = query_params(&location);
    assert_eq!((params["scope"].as_str(), params["state"].as_str()), ("email openid profile", "other"));
    // Each was answered once.
    let r = browser.post_form(&app, "/approve", &form_a.submit("approval=1")).await;
    assert_eq!((r.status, r.location()), (400, None));

    // Remembered consent is what A's page showed: email for test_client, no more.
    let r = browser.get(&app, AUTHORIZE).await;
    assert_eq!(r.status, 302, "remembered: straight to the client");
    let wider = AUTHORIZE.replace("scope=email", "scope=openid%20email");
    assert_eq!(browser.get(&app, &wider).await.location_path(), Some("/approve"), "wider: asked again");
    let r = browser.get(&app, OTHER).await;
    assert_eq!(r.location_path(), Some("/approve"), "nothing remembered for the other client");
}

#[actix_web::test]
async fn a_session_keeps_the_newest_eight_requests() {
    let (app, _) = app(config(&[])).await;
    let mut browser = Browser::new();
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..9 {
            ids.push(request_id(&browser.get(&app, AUTHORIZE).await));
        }
        ids
    };
    let r = browser.get(&app, &format!("/login?request={}", ids[0])).await;
    assert_eq!(r.status, 400, "the oldest was dropped");
    assert!(r.body.contains("Unknown authorization request"), "{}", r.body);
    for id in &ids[1..] {
        assert_eq!(browser.get(&app, &format!("/login?request={id}")).await.status, 200);
    }
    assert_eq!(browser.get(&app, "/login?request=made-up").await.status, 400);
}

#[actix_web::test]
async fn strangers_without_a_cookie_store_nothing_until_a_request_is_valid_or_a_login_succeeds() {
    let (app, state) = app(config(&[])).await;
    for _ in 0..20 {
        let r = Browser::new().get(&app, "/login").await;
        assert_eq!(r.status, 200);
        assert!(r.header("set-cookie").is_some(), "a cookie ties the form's token");
        assert_eq!(Browser::new().get(&app, "/approve").await.status, 303);
        assert_eq!(Browser::new().get(&app, "/oauth/authorize?client_id=nobody&response_type=code").await.status, 400);
        let long_state = AUTHORIZE.replace("state=somestate", &format!("state={}", "s".repeat(2049)));
        let r = Browser::new().get(&app, &long_state).await;
        assert_eq!(query_params(&r.next())["error"], "invalid_request");
    }
    assert_eq!(live_sessions(&state), 0, "cookie-less pages and refused requests store no session");

    // The form of a page that stored nothing still logs in: its token is derived, not stored.
    let mut browser = Browser::new();
    let r = browser.login(&app, "admin", "admin").await;
    assert_eq!((r.status, r.location()), (303, Some("/approve")));
    assert_eq!(live_sessions(&state), 1, "stored at login");
    // A forged token against that cookie is still refused.
    let mut other = Browser::new();
    other.get(&app, "/login").await;
    let r = other.post_form(&app, "/login", "username=admin&password=admin&csrf_token=AAAA").await;
    assert_eq!(r.status, 403);
    // A validated authorization request is kept.
    Browser::new().get(&app, AUTHORIZE).await;
    assert_eq!(live_sessions(&state), 2);
}

#[actix_web::test]
async fn over_long_parameters_are_invalid_request() {
    let (app, state) = app(config(&[])).await;
    let cases = [
        AUTHORIZE.replace("state=somestate", &format!("state={}", "s".repeat(2049))),
        format!("{AUTHORIZE}&nonce={}", "n".repeat(513)),
        format!("{AUTHORIZE}&login_hint={}", "h".repeat(513)),
        AUTHORIZE.replace("scope=email", &format!("scope=email{}", "%20email".repeat(400))),
    ];
    for uri in &cases {
        let r = Browser::new().get(&app, uri).await;
        assert_eq!(r.status, 302, "{}", r.body);
        let params = query_params(&r.next());
        assert_eq!(params["error"], "invalid_request", "{params:?}");
    }
    // At the limit, accepted.
    let r =
        Browser::new().get(&app, &AUTHORIZE.replace("state=somestate", &format!("state={}", "s".repeat(2048)))).await;
    assert_eq!(r.location_path(), Some("/login"));
    // The whole query: an error page, never a redirect (the client is not verified yet).
    let r = Browser::new().get(&app, &format!("{AUTHORIZE}&pad={}", "p".repeat(16 * 1024))).await;
    assert_eq!((r.status, r.location()), (400, None));
    assert!(r.body.contains("invalid_request"), "{}", r.body);
    assert_eq!(live_sessions(&state), 1, "only the request at the limit was kept");
}

#[actix_web::test]
async fn full_memory_stores_answer_503() {
    // Sessions: one fits, the next stranger gets 503 temporarily_unavailable.
    let (app, _) = app(config(&[("OAUTH__SESSION__MEMORY_MAX_SESSIONS", "1")])).await;
    assert_eq!(Browser::new().get(&app, AUTHORIZE).await.status, 303);
    let r = Browser::new().get(&app, AUTHORIZE).await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("temporarily_unavailable"), "{}", r.body);

    // Records: the code fits, the grant and its tokens do not.
    let (app, _) = self::app(config(&[("OAUTH__STORAGE__MEMORY_MAX_RECORDS", "1")])).await;
    let mut browser = Browser::new();
    let login = browser.get(&app, AUTHORIZE).await.next();
    let approve = browser.login_at(&app, &login, "admin", "admin").await.next();
    let consent = browser.get(&app, &approve).await;
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    let code = query_params(&r.next())["code"].clone();
    let r = browser
        .send(
            &app,
            tokenize(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"
            )),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
}
