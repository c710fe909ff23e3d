//! The seed's flow through the real app, and what may go wrong in it.

use oauth_server::testing::Browser;

use crate::support::{AUTHORIZE, app, config, query_params, tokenize};

#[actix_web::test]
async fn seed_flow_approve_then_tokens_then_refresh() {
    let app = app(config(&[])).await;
    let mut browser = Browser::new();

    // 1. The authorize URL sends the user to the login form.
    let r = browser.get(&app, AUTHORIZE).await;
    assert_eq!((r.status, r.location_path()), (303, Some("/login")));
    let r = browser.get(&app, &r.next()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Login Form") && r.body.contains("name=\"password\""), "{}", r.body);
    assert!(r.body.contains("Demo credentials: admin"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));

    // 2. Login: 303 to the approve form.
    let r = browser.post_form(&app, "/login", &r.submit("username=admin&password=admin")).await;
    assert_eq!((r.status, r.location_path()), (303, Some("/approve")));
    let r = browser.get(&app, &r.next()).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("test_client would like permissions."), "{}", r.body);
    assert!(r.body.contains("See your email address"), "scopes in words");
    assert!(r.body.contains("https:&#x2F;&#x2F;www.example.com&#x2F;redirect"), "where the user will be sent");
    let consent = r;

    // 3. Approve: 302 to the client with state, code and scope (and iss).
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    assert_eq!(r.status, 302);
    let location = r.location().unwrap();
    assert!(location.starts_with("https://www.example.com/redirect?state=somestate&code="), "{location}");
    let params = query_params(location);
    assert_eq!(params["scope"], "email");
    assert_eq!(params["iss"], "http://localhost:8000");
    let code = &params["code"];

    // 4. The curl call: -u test_client:password -d grant_type=authorization_code ...
    let r = Browser::new()
        .send(
            &app,
            tokenize(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_token_expires_in"], 900);
    assert_eq!(body["scope"], "email");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().len() >= 43);

    // 5. The refresh grant returns the same shape with new tokens.
    let refresh = body["refresh_token"].as_str().unwrap();
    let r = Browser::new().send(&app, tokenize(format!("grant_type=refresh_token&refresh_token={refresh}"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body2 = r.json();
    assert_eq!((body2["expires_in"].clone(), body2["refresh_token_expires_in"].clone()), (300.into(), 900.into()));
    assert_ne!(body2["refresh_token"], body["refresh_token"]);

    // The pending authorization was used once: approving again is refused.
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Unknown authorization request"), "{}", r.body);
    let r = browser.get(&app, "/approve").await;
    assert!(r.body.contains("No authorization request is waiting"), "{}", r.body);
}

/// The consent page of a new authorization request, logged in as admin.
async fn logged_in_consent<S, B>(app: &S, browser: &mut Browser) -> oauth_server::testing::Page
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let login = browser.get(app, AUTHORIZE).await.next();
    let r = browser.login_at(app, &login, "admin", "admin").await;
    assert_eq!(r.status, 303);
    browser.get(app, &r.next()).await
}

#[actix_web::test]
async fn deny_redirects_access_denied_with_state() {
    let app = app(config(&[])).await;
    let mut browser = Browser::new();
    let consent = logged_in_consent(&app, &mut browser).await;
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=0")).await;
    assert_eq!(r.status, 302);
    let location = r.location().unwrap();
    assert!(location.starts_with("https://www.example.com/redirect?error=access_denied"), "{location}");
    assert_eq!(query_params(location)["state"], "somestate");
}

#[actix_web::test]
async fn wrong_password_issues_nothing() {
    let app = app(config(&[])).await;
    let mut browser = Browser::new();
    let login = browser.get(&app, AUTHORIZE).await.next();
    let page = browser.get(&app, &login).await;
    for body in [
        page.submit("username=admin&password=wrong"),
        page.submit("username=nobody&password=admin"),
        page.submit("username=admin"),
    ] {
        let r = browser.post_form(&app, "/login", &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.body.contains("class=\"error\""), "the login page again, with an error: {}", r.body);
        assert!(r.location().is_none());
    }
    // Still not logged in: consent sends back to login (for the same request).
    let approve = login.replace("/login", "/approve");
    let r = browser.get(&app, &approve).await;
    assert_eq!((r.status, r.location()), (303, Some(login.as_str())));
}

#[actix_web::test]
async fn csrf_token_is_required() {
    let app = app(config(&[])).await;
    let mut browser = Browser::new();
    let login = browser.get(&app, AUTHORIZE).await.next();
    let request = login.split_once("request=").unwrap().1.to_owned();
    browser.get(&app, &login).await;
    for body in [
        format!("username=admin&password=admin&request={request}"),
        format!("username=admin&password=admin&request={request}&csrf_token=forged"),
    ] {
        let r = browser.post_form(&app, "/login", &body).await;
        assert_eq!(r.status, 403, "{body}");
    }
    let mut browser = Browser::new();
    let consent = logged_in_consent(&app, &mut browser).await;
    let real = consent.hidden("csrf_token");
    for body in [consent.submit("approval=1").replace(&format!("csrf_token={real}"), "csrf_token=forged"), {
        let without = consent.submit("approval=1").replace(&format!("csrf_token={real}&"), "");
        assert!(!without.contains("csrf_token"), "{without}");
        without
    }] {
        let r = browser.post_form(&app, "/approve", &body).await;
        assert_eq!(r.status, 403, "{body}");
        assert!(r.location().is_none());
    }
    // The real token still works, and the pending authorization survived the forged attempts.
    let r = browser.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    assert_eq!(r.status, 302);
}

#[actix_web::test]
async fn session_is_renewed_at_login_and_forged_ids_are_not_adopted() {
    let app = app(config(&[])).await;
    // An attacker-chosen id is ignored: the server makes its own.
    let mut browser = Browser::new();
    browser.cookies.insert("oauth_session".into(), "attacker-chosen".into());
    let login = browser.get(&app, AUTHORIZE).await.next();
    let before = browser.cookies["oauth_session"].clone();
    assert_ne!(before, "attacker-chosen");
    let page = browser.get(&app, &login).await;
    // The cookie set before login is not the one after.
    let mut attacker = browser.clone();
    let r = browser.post_form(&app, "/login", &page.submit("username=admin&password=admin")).await;
    assert_eq!(r.status, 303);
    let approve = r.next();
    let after = browser.cookies["oauth_session"].clone();
    assert_ne!(before, after, "session id renewed at login");
    // Whoever held the old id is not logged in, and no longer holds the request.
    let r = attacker.get(&app, &approve).await;
    assert_eq!((r.status, r.location()), (303, Some(login.as_str())));
    assert_eq!(attacker.get(&app, &login).await.status, 400, "the old session's request is gone");
    let r = browser.get(&app, &approve).await;
    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn session_cookie_attributes() {
    // Plain HTTP demo: HttpOnly, SameSite=Lax, not Secure.
    let http_app = app(config(&[])).await;
    let r = Browser::new().get(&http_app, AUTHORIZE).await;
    let cookie = r.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");

    // An https issuer behind a TLS proxy: Secure.
    let https = config(&[
        ("OAUTH__SERVER__ISSUER", "https://auth.example.com"),
        ("OAUTH__SERVER__ALLOW_INSECURE_TRANSPORT", "false"),
        ("OAUTH__SERVER__TRUST_FORWARDED_PROTO", "true"),
    ]);
    let app = app(https).await;
    let req = actix_web::test::TestRequest::get().uri(AUTHORIZE).insert_header(("X-Forwarded-Proto", "https"));
    let r = Browser::new().send(&app, req).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    // Without the proxy's header the request is not over TLS: an error page, no redirect.
    let r = Browser::new().get(&app, AUTHORIZE).await;
    assert_eq!(r.status, 400);
    assert!(r.location().is_none());
}
