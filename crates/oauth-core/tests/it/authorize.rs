//! The authorization endpoint, row by row: aioauth's §2.1 table with the answers we give instead,
//! and the rows aioauth lacks (PKCE policy, response modes, duplicates).

use std::sync::Arc;

use oauth_core::request::Method;
use oauth_core::storage::Stores;
use oauth_core::testing::{FailingStore, ISSUER, TestServer};
use oauth_core::types::{ResponseMode, ResponseType};
use oauth_core::{AuthorizationServer, AuthorizeError, Body, OAuthRequest};

use crate::support::{
    Expect, VERIFIER, assert_error, assert_tokens, challenge, check_authorize, code_for, demo_query, location_params,
    token,
};

const EVIL: &str = "redirect_uri=https%3A%2F%2Fevil.example%2Fx";

#[tokio::test]
async fn validation_table() {
    let t = TestServer::new().await;
    let c = challenge();
    let public =
        "client_id=public_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=st";
    let rows: Vec<(&str, String, Expect)> = vec![
        // aioauth 2: insecure transport is covered in `insecure_transport_is_never_redirected`.
        // aioauth 4: response_type missing, after the redirect URI is verified: redirect.
        (
            "4 response_type missing",
            "client_id=test_client&state=somestate".into(),
            Expect::Redirect("invalid_request"),
        ),
        (
            "4 response_type empty",
            demo_query("").replace("response_type=code", "response_type="),
            Expect::Redirect("invalid_request"),
        ),
        // aioauth 4/5 redirected to an unvalidated URI; we never do.
        (
            "4 missing + unregistered redirect",
            format!("client_id=test_client&state=s&{EVIL}"),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "5 unknown response_type",
            demo_query("").replace("response_type=code", "response_type=foo"),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "5 unknown + unregistered redirect",
            format!("client_id=test_client&response_type=foo&{EVIL}"),
            Expect::Page(400, "invalid_request"),
        ),
        ("6 client_id missing", "response_type=code&state=s".into(), Expect::Page(400, "invalid_request")),
        ("7 client_id unknown", "client_id=nobody&response_type=code".into(), Expect::Page(400, "invalid_client")),
        // aioauth 8: a client with exactly one registered URI may omit it.
        (
            "8 redirect_uri omitted, one registered",
            "client_id=test_client&response_type=code&scope=email".into(),
            Expect::Pending,
        ),
        (
            "8 redirect_uri omitted, two registered",
            format!("client_id=public_client&response_type=code&code_challenge={c}&code_challenge_method=S256"),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "9 redirect_uri not registered",
            format!("client_id=test_client&response_type=code&{EVIL}"),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "9 trailing slash",
            "client_id=test_client&response_type=code&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect%2F".into(),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "9 different case",
            "client_id=test_client&response_type=code&redirect_uri=https%3A%2F%2FWWW.example.com%2Fredirect".into(),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "9 extra query",
            "client_id=test_client&response_type=code&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect%3Fa%3D1"
                .into(),
            Expect::Page(400, "invalid_request"),
        ),
        (
            "10 unknown challenge method",
            demo_query(&format!("code_challenge={c}&code_challenge_method=foo")),
            Expect::Redirect("invalid_request"),
        ),
        (
            "10 lowercase s256",
            demo_query(&format!("code_challenge={c}&code_challenge_method=s256")),
            Expect::Redirect("invalid_request"),
        ),
        ("11 method without challenge", demo_query("code_challenge_method=S256"), Expect::Redirect("invalid_request")),
        // aioauth 12 accepted a challenge without method and never checked it; RFC 7636 says plain, which is off.
        (
            "12 challenge without method",
            demo_query(&format!("code_challenge={c}")),
            Expect::Redirect("invalid_request"),
        ),
        (
            "13 token for a code-only client",
            demo_query("").replace("response_type=code", "response_type=token"),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "13 code foo",
            demo_query("").replace("response_type=code", "response_type=code%20foo"),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "13 id_token",
            demo_query("").replace("response_type=code", "response_type=id_token"),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "14 scope not allowed",
            demo_query("").replace("scope=email", "scope=email%20profile"),
            Expect::Redirect("invalid_scope"),
        ),
        (
            "14 malformed scope",
            demo_query("").replace("scope=email", "scope=em%22ail"),
            Expect::Redirect("invalid_scope"),
        ),
        (
            "14 double spaces are one separator",
            demo_query("").replace("scope=email", "scope=email%20%20email"),
            Expect::Pending,
        ),
        ("16 empty scope: client default", demo_query("").replace("scope=email", "scope="), Expect::Pending),
        ("17 no state", demo_query("").replace("state=somestate&", ""), Expect::Pending),
        ("18 repeated scope", demo_query("scope=email"), Expect::Redirect("invalid_request")),
        ("18 repeated client_id", demo_query("client_id=test_client"), Expect::Page(400, "invalid_request")),
        (
            "18 repeated redirect_uri",
            demo_query("redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect"),
            Expect::Page(400, "invalid_request"),
        ),
        ("unknown parameters are ignored", demo_query("team=blue&prompt=login"), Expect::Pending),
        ("PKCE S256", demo_query(&format!("code_challenge={c}&code_challenge_method=S256")), Expect::Pending),
        (
            "PKCE challenge too short",
            demo_query("code_challenge=abc&code_challenge_method=S256"),
            Expect::Redirect("invalid_request"),
        ),
        (
            "PKCE challenge bad charset",
            demo_query(&format!("code_challenge={}%2B&code_challenge_method=S256", &c[..42])),
            Expect::Redirect("invalid_request"),
        ),
        (
            "PKCE plain is off",
            demo_query(&format!("code_challenge={}&code_challenge_method=plain", "a".repeat(43))),
            Expect::Redirect("invalid_request"),
        ),
        ("public client without PKCE", public.into(), Expect::Redirect("invalid_request")),
        ("public client with PKCE", format!("{public}&code_challenge={c}&code_challenge_method=S256"), Expect::Pending),
        ("unsupported response_mode", demo_query("response_mode=web_message"), Expect::Redirect("invalid_request")),
    ];
    for (label, query, expect) in &rows {
        check_authorize(&t, OAuthRequest::get(query).secure(), expect, label).await;
    }
}

#[tokio::test]
async fn pending_authorization_carries_the_request() {
    let t = TestServer::new().await;
    let query = demo_query(&format!("code_challenge={}&code_challenge_method=S256&nonce=n-1", challenge()));
    let pending = check_authorize(&t, OAuthRequest::get(&query).secure(), &Expect::Pending, "pending").await.unwrap();
    assert_eq!(pending.client_id.as_str(), "test_client");
    assert_eq!(pending.client_name, "Test Client");
    assert_eq!(pending.redirect_uri.as_str(), "https://www.example.com/redirect");
    assert!(pending.redirect_uri_sent);
    assert_eq!(pending.response_type, ResponseType::Code);
    assert_eq!(pending.response_mode, ResponseMode::Query);
    assert_eq!(pending.scope.to_string(), "email");
    assert_eq!(pending.state.as_ref().map(|s| s.as_str()), Some("somestate"));
    assert_eq!(pending.nonce.as_ref().map(|s| s.as_str()), Some("n-1"));
    assert!(pending.code_challenge.is_some());
    // It survives a session round trip.
    let json = serde_json::to_string(&pending).unwrap();
    assert_eq!(serde_json::from_str::<oauth_core::PendingAuthorization>(&json).unwrap(), pending);
}

#[tokio::test]
async fn insecure_transport_is_never_redirected() {
    let t = TestServer::new().await;
    for query in [demo_query(""), format!("client_id=test_client&response_type=code&{EVIL}")] {
        // Not marked secure.
        check_authorize(&t, OAuthRequest::get(&query), &Expect::Page(400, "invalid_request"), "insecure").await;
    }
    let t = TestServer::with_policy(|p| p.allow_insecure_transport(true)).await;
    check_authorize(&t, OAuthRequest::get(&demo_query("")), &Expect::Pending, "allowed for dev").await;
}

#[tokio::test]
async fn methods_and_bodies() {
    let t = TestServer::new().await;
    let mut put = OAuthRequest::get(&demo_query("")).secure();
    put.method = Method::parse("PUT");
    check_authorize(&t, put.clone(), &Expect::Page(405, "invalid_request"), "PUT").await;
    let Err(error) = t.server.authorize(&put).await else { panic!("PUT accepted") };
    assert_eq!(error.into_response().header("allow"), Some("GET, POST"));
    // POST with a form body is the same request.
    let post = OAuthRequest::post_form(&demo_query("")).secure();
    check_authorize(&t, post, &Expect::Pending, "POST form").await;
    let mut json = OAuthRequest::post_form(&demo_query("")).secure();
    json.headers = vec![("Content-Type".into(), "application/json".into())];
    check_authorize(&t, json, &Expect::Page(400, "invalid_request"), "POST json").await;
}

#[tokio::test]
async fn storage_failure_is_an_error_page() {
    let server = AuthorizationServer::new(
        oauth_core::testing::policy_builder().build().unwrap(),
        Stores::single(Arc::new(FailingStore)),
    );
    let result = server.authorize(&OAuthRequest::get(&demo_query("")).secure()).await;
    let Err(error @ AuthorizeError::Invalid(_)) = result else { panic!("{result:?}") };
    assert_eq!(error.status(), 503);
    let AuthorizeError::Invalid(error) = error else { unreachable!() };
    assert_eq!(error.code.as_str(), "temporarily_unavailable");
    let cause = error.cause.as_ref().expect("the storage failure is kept for the log");
    assert_eq!(cause.to_string(), "storage backend error");
    assert_eq!(
        std::error::Error::source(&**cause).map(ToString::to_string).as_deref(),
        Some("backend down (FailingStore)")
    );
}

#[tokio::test]
async fn response_modes_deliver_errors_and_codes() {
    let t = TestServer::new().await;
    // Errors follow response_mode once it is known.
    let fragment = demo_query("response_mode=fragment").replace("scope=email", "scope=nope");
    let Err(AuthorizeError::Redirect(r)) = t.server.authorize(&OAuthRequest::get(&fragment).secure()).await else {
        panic!("expected redirect")
    };
    assert!(r.location().unwrap().starts_with("https://www.example.com/redirect#error=invalid_scope"));

    let form_post = demo_query("response_mode=form_post").replace("scope=email", "scope=nope");
    let Err(AuthorizeError::Redirect(r)) = t.server.authorize(&OAuthRequest::get(&form_post).secure()).await else {
        panic!("expected form post")
    };
    assert_eq!(r.status, 200);
    let Body::Html(html) = &r.body else { panic!("expected HTML") };
    assert!(html.contains("action=\"https://www.example.com/redirect\""), "{html}");
    assert!(html.contains("name=\"error\" value=\"invalid_scope\""), "{html}");
    assert!(html.contains("name=\"state\" value=\"somestate\""), "{html}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
async fn implicit_needs_server_and_client_opt_in() {
    let query = "client_id=test_client&response_type=token&state=s";
    // Registered for the client, but off on the server.
    let t = TestServer::new().await;
    let mut client = oauth_core::testing::demo_client();
    client.response_types.insert(ResponseType::Token);
    oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &client).await.unwrap();
    let Err(AuthorizeError::Redirect(r)) = t.server.authorize(&OAuthRequest::get(query).secure()).await else {
        panic!("implicit accepted while off")
    };
    // Errors for the token response type go in the fragment.
    assert_eq!(location_params(r.location().unwrap())["error"], "unsupported_response_type");
    assert!(r.location().unwrap().contains('#'));

    let t = TestServer::with_policy(|p| p.allow_implicit(true)).await;
    oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &client).await.unwrap();
    let pending = check_authorize(&t, OAuthRequest::get(query).secure(), &Expect::Pending, "implicit").await.unwrap();
    assert_eq!(pending.response_mode, ResponseMode::Fragment);
    // Tokens never go in the query.
    let q = format!("{query}&response_mode=query");
    check_authorize(&t, OAuthRequest::get(&q).secure(), &Expect::Redirect("invalid_request"), "query").await;
    // The access token arrives in the fragment, with no refresh token.
    let approval = oauth_core::Approval {
        subject: oauth_core::types::Subject::new("user-admin"),
        scope: None,
        auth_time: oauth_core::testing::T0,
    };
    let r = t.server.approve(&pending, approval).await.unwrap();
    let location = r.location().unwrap();
    assert!(location.starts_with("https://www.example.com/redirect#access_token="), "{location}");
    let params = location_params(location);
    assert_eq!(params["token_type"], "Bearer");
    assert_eq!(params["state"], "s");
    assert!(!params.contains_key("refresh_token"));
}

#[tokio::test]
async fn approve_and_deny() {
    let t = TestServer::new().await;
    let pending = t.server.authorize(&OAuthRequest::get(&demo_query("")).secure()).await.unwrap();
    // The seed's redirect: state, code, scope (plus iss, RFC 9207).
    let approval = oauth_core::Approval {
        subject: oauth_core::types::Subject::new("user-admin"),
        scope: None,
        auth_time: oauth_core::testing::T0,
    };
    let r = t.server.approve(&pending, approval.clone()).await.unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(
        r.location(),
        Some(
            "https://www.example.com/redirect?state=somestate&code=tok-1&scope=email&iss=https%3A%2F%2Fauth.example.com"
        )
    );
    // Deny: access_denied with state (aioauth's demo dropped the state).
    let r = t.server.deny(&pending);
    let params = location_params(r.location().unwrap());
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "somestate");
    assert_eq!(params["iss"], ISSUER);
    // A narrower grant is honoured; scopes that were not requested are dropped.
    let narrower = oauth_core::Approval { scope: Some(oauth_core::testing::scopes("profile")), ..approval };
    let r = t.server.approve(&pending, narrower).await.unwrap();
    assert!(!location_params(r.location().unwrap()).contains_key("scope"));
}

/// RFC 8252 §7.3: a native app's loopback redirect URI matches on any port,
/// the code goes to the port presented, and the token request must name it.
#[tokio::test]
async fn loopback_redirect_uris_match_on_any_port() {
    let t = TestServer::new().await;
    let query = |uri: &str| {
        format!(
            "client_id=public_client&response_type=code&state=st&code_challenge={}&code_challenge_method=S256&redirect_uri={}",
            challenge(),
            url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        )
    };
    let code = code_for(&t, &query("http://127.0.0.1:51004/cb")).await;
    let exchange = |uri: &str| {
        format!(
            "grant_type=authorization_code&client_id=public_client&code_verifier={VERIFIER}&code={code}&redirect_uri={uri}"
        )
    };
    let wrong_port = token(&t, &exchange("http://127.0.0.1:9000/cb"), None).await;
    assert_error(&wrong_port, 400, "invalid_grant", "the token request names another port");
    let code = code_for(&t, &query("http://127.0.0.1:51004/cb")).await;
    let exchange = format!(
        "grant_type=authorization_code&client_id=public_client&code_verifier={VERIFIER}&code={code}&redirect_uri=http://127.0.0.1:51004/cb"
    );
    assert_tokens(&token(&t, &exchange, None).await, "the port of the authorization request");

    let pending = t.server.authorize(&OAuthRequest::get(&query("http://127.0.0.1:51004/cb")).secure()).await.unwrap();
    let approval = oauth_core::Approval {
        subject: oauth_core::types::Subject::new("user-admin"),
        scope: None,
        auth_time: oauth_core::testing::T0,
    };
    let redirect = t.server.approve(&pending, approval).await.unwrap();
    assert!(redirect.location().unwrap().starts_with("http://127.0.0.1:51004/cb?"), "{redirect:?}");
    let pending = t.server.authorize(&OAuthRequest::get(&query("http://127.0.0.1/cb")).secure()).await.unwrap();
    assert_eq!(pending.redirect_uri.as_str(), "http://127.0.0.1/cb", "no port at all matches too");
    for other in ["http://127.0.0.1:51004/other", "http://localhost:51004/cb", "http://127.0.0.1:51004/cb/"] {
        let result = t.server.authorize(&OAuthRequest::get(&query(other)).secure()).await;
        assert!(matches!(result, Err(AuthorizeError::Invalid { .. })), "{other}: an error page, never a redirect");
    }
}

#[tokio::test]
async fn parameters_have_length_limits() {
    let t = TestServer::new().await;
    let limits = oauth_core::policy::RequestLimits::default();
    let long = |n: usize| "a".repeat(n);
    let state_at = |n: usize| demo_query("").replace("state=somestate", &format!("state={}", long(n)));
    let rows: Vec<(&str, String, Expect)> = vec![
        ("state at the limit", state_at(limits.state), Expect::Pending),
        ("nonce at the limit", demo_query(&format!("nonce={}", long(limits.nonce))), Expect::Pending),
        ("nonce over", demo_query(&format!("nonce={}", long(limits.nonce + 1))), Expect::Redirect("invalid_request")),
        ("login_hint at the limit", demo_query(&format!("login_hint={}", long(limits.login_hint))), Expect::Pending),
        (
            "login_hint over",
            demo_query(&format!("login_hint={}", long(limits.login_hint + 1))),
            Expect::Redirect("invalid_request"),
        ),
        (
            "scope over",
            demo_query("").replace("scope=email", &format!("scope=email{}", "%20email".repeat(limits.scope / 6 + 1))),
            Expect::Redirect("invalid_request"),
        ),
        // Before the client is known: a page, never a redirect.
        ("query over", demo_query(&format!("x={}", long(limits.query))), Expect::Page(400, "invalid_request")),
    ];
    for (label, query, expect) in &rows {
        check_authorize(&t, OAuthRequest::get(query).secure(), expect, label).await;
    }
    // An over-long state is refused at the client's redirect URI, and not echoed back.
    let error = t.server.authorize(&OAuthRequest::get(&state_at(limits.state + 1)).secure()).await.unwrap_err();
    let AuthorizeError::Redirect(response) = error else { panic!("state over the limit: {error:?}") };
    let params = location_params(response.location().unwrap());
    assert_eq!(params.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(params.get("error_description").map(String::as_str), Some("The state parameter is too long"));
    assert!(!params.contains_key("state"), "the over-long state is not echoed");
}
