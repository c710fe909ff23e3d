//! prompt, max_age and remembered consent through the real app, with a fixed clock.

use std::sync::Arc;

use actix_web::{App, test};
use oauth_core::clock::FixedClock;
use oauth_core::testing::T0;
use oauth_server::testing::Browser;

use crate::support::{AUTHORIZE, config, query_params};

const OPENID: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=st&scope=openid%20email&nonce=n1";

macro_rules! app_with_clock {
    ($clock:expr) => {{
        let state = oauth_server::build_state_with_clock(&config(&[]), $clock.clone()).await.unwrap();
        test::init_service(App::new().configure(move |cfg| oauth_server::configure(&state, cfg))).await
    }};
}

#[actix_web::test]
async fn prompt_none_never_shows_a_page() {
    let clock = Arc::new(FixedClock::new(T0));
    let app = app_with_clock!(clock);
    let mut browser = Browser::new();
    // Nobody logged in: login_required straight back to the client.
    let r = browser.get(&app, &format!("{OPENID}&prompt=none")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let params = query_params(r.location().unwrap());
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("login_required", "st"));

    // Logged in, but no consent remembered: consent_required.
    let login = browser.get(&app, OPENID).await.next();
    assert_eq!(browser.login_at(&app, &login, "admin", "admin").await.location_path(), Some("/approve"));
    let r = browser.get(&app, &format!("{OPENID}&prompt=none")).await;
    assert_eq!(query_params(r.location().unwrap())["error"], "consent_required");

    // Approve and remember: later requests skip the consent page, and prompt=none succeeds.
    let next = browser.get(&app, OPENID).await.next();
    let consent = browser.get(&app, &next).await;
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1&remember=1")).await;
    assert!(query_params(r.location().unwrap()).contains_key("code"));
    let r = browser.get(&app, OPENID).await;
    assert_eq!(r.status, 302, "remembered consent: straight to the client");
    assert!(query_params(r.location().unwrap()).contains_key("code"));
    let r = browser.get(&app, &format!("{OPENID}&prompt=none")).await;
    assert!(query_params(r.location().unwrap()).contains_key("code"), "prompt=none with a session and consent");

    // prompt=consent shows the page anyway.
    let r = browser.get(&app, &format!("{OPENID}&prompt=consent")).await;
    assert_eq!(r.location_path(), Some("/approve"));
    // A wider scope than remembered asks again.
    let r = browser.get(&app, &OPENID.replace("openid%20email", "openid%20email%20profile")).await;
    assert_eq!(r.location_path(), Some("/approve"));
}

#[actix_web::test]
async fn prompt_login_and_max_age_force_a_new_login() {
    let clock = Arc::new(FixedClock::new(T0));
    let app = app_with_clock!(clock);
    let mut browser = Browser::new();
    let login = browser.get(&app, OPENID).await.next();
    browser.login_at(&app, &login, "admin", "admin").await;
    clock.advance(100);

    // Logged in 100 s ago: the consent page comes straight away...
    assert_eq!(browser.get(&app, OPENID).await.location_path(), Some("/approve"));
    // ...unless the client says prompt=login,
    let login = browser.get(&app, &format!("{OPENID}&prompt=login")).await.next();
    assert!(login.starts_with("/login?request="), "{login}");
    let r = browser.get(&app, &login.replace("/login", "/approve")).await;
    assert_eq!(r.location(), Some(login.as_str()), "the consent page will not serve a stale login");
    let r = browser.login_at(&app, &login, "admin", "admin").await;
    assert_eq!(r.location_path(), Some("/approve"), "after a fresh login");

    // ...or max_age is shorter than the login's age.
    clock.advance(100);
    let login = browser.get(&app, &format!("{OPENID}&max_age=60")).await.next();
    assert!(login.starts_with("/login?request="), "{login}");
    let approve = browser.login_at(&app, &login, "admin", "admin").await.next();
    let consent = browser.get(&app, &approve).await;
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    assert!(query_params(r.location().unwrap()).contains_key("code"));
    let r = browser.get(&app, &format!("{OPENID}&max_age=60")).await;
    assert_eq!(r.location_path(), Some("/approve"), "fresh enough");
}

/// Regression (issue 14): `max_age=0` sent a user who waited before pressing
/// Approve back to the login page forever, and `prompt=login` was satisfied by
/// a login in the same second as the request.
#[actix_web::test]
async fn a_login_for_the_request_satisfies_max_age_zero_and_prompt_login_needs_one() {
    let clock = Arc::new(FixedClock::new(T0));
    let app = app_with_clock!(clock);
    let mut browser = Browser::new();
    let login = browser.get(&app, &format!("{OPENID}&max_age=0")).await.next();
    assert!(login.starts_with("/login?request="), "{login}");
    let approve = browser.login_at(&app, &login, "admin", "admin").await.next();
    clock.advance(30);
    let consent = browser.get(&app, &approve).await;
    clock.advance(30);
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    assert!(query_params(r.location().unwrap()).contains_key("code"), "the login for this request holds: {r:?}");

    // Logged in at this very second; a new request with prompt=login still asks.
    let mut browser = Browser::new();
    let login = browser.get(&app, OPENID).await.next();
    browser.login_at(&app, &login, "admin", "admin").await;
    assert_eq!(browser.get(&app, &format!("{OPENID}&prompt=login")).await.location_path(), Some("/login"));
}

#[actix_web::test]
async fn login_hint_prefills_the_form() {
    let clock = Arc::new(FixedClock::new(T0));
    let app = app_with_clock!(clock);
    let mut browser = Browser::new();
    let login = browser.get(&app, &format!("{}&login_hint=admin", AUTHORIZE)).await.next();
    let page = browser.get(&app, &login).await;
    assert!(page.body.contains("name=\"username\" value=\"admin\""), "{}", page.body);
}
