//! Token exchange (RFC 8693): every refusal of §2.2.2 and the policy, delegation
//! chains with nested `act`, impersonation, lifetimes, targets, trusted
//! issuers' JWTs, our ID tokens, and revocation of the subject's family.

use base64::Engine as _;
use oauth_core::client::{Client, SecretHash};
use oauth_core::exchange::{ExchangeRule, TokenExchangePolicy, TrustedIssuer};
use oauth_core::grant::NewGrant;
use oauth_core::jose::{KeySet, SigningAlg, SigningKey};
use oauth_core::oidc::AccessTokenClaims;
use oauth_core::storage::ClientStore as _;
use oauth_core::testing::{ISSUER, T0, TestServer, demo_client, scopes};
use oauth_core::types::{ClientId, GrantType, Subject, TokenEndpointAuthMethod};
use oauth_core::{OAuthResponse, ServerPolicy};
use serde_json::{Value, json};

use crate::support::{assert_error, introspect, post, token};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const RT: &str = "urn:ietf:params:oauth:token-type:refresh_token";
const IDT: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const IDP: &str = "https://idp.example.org";

/// A confidential service client `id` (secret `id-secret`) for
/// client_credentials and token exchange, scopes `read write email`.
fn service(id: &str) -> Client {
    let mut client = Client::new(id);
    client.secret = Some(SecretHash::sha256(&format!("{id}-secret")));
    client.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    client.grant_types = [GrantType::ClientCredentials, GrantType::TokenExchange].into_iter().collect();
    client.response_types.clear();
    client.scopes = scopes("read write email");
    client
}

fn creds(id: &str) -> String {
    format!("client_id={id}&client_secret={id}-secret")
}

/// The policy: `svc-a` delegates to `https://api.b`; `svc-b` to
/// `https://api.c` keeping at most `read email`; `svc-c` may impersonate,
/// for 60 s; `machine` is in the policy but not registered for the grant;
/// `svc-x` is registered for it but not in the policy.
fn exchange_policy(idp: &SigningKey) -> TokenExchangePolicy {
    TokenExchangePolicy::new()
        .allow(ClientId::new("svc-a"), ExchangeRule::new().audiences(vec!["https://api.b".into()]))
        .allow(
            ClientId::new("svc-b"),
            ExchangeRule::new().audiences(vec!["https://api.c".into()]).scopes(Some(scopes("read email"))),
        )
        .allow(ClientId::new("svc-c"), ExchangeRule::new().impersonation(true).lifetime(Some(60)))
        .allow(ClientId::new("machine"), ExchangeRule::new())
        .trust(TrustedIssuer::with_jwks(IDP, json!({ "keys": [idp.public_jwk()] })))
}

struct Fixture {
    t: TestServer,
    idp: SigningKey,
    /// The user's access and refresh tokens, issued to `test_client` with `read write email`.
    user_at: String,
    user_rt: String,
}

async fn fixture() -> Fixture {
    let idp = SigningKey::generate("idp-1", SigningAlg::ES256).unwrap();
    let policy = exchange_policy(&idp);
    let t = TestServer::with_policy(|p| p.token_exchange(policy)).await;
    for id in ["svc-a", "svc-b", "svc-c", "svc-x"] {
        t.store.put_client(&service(id)).await.unwrap();
    }
    let mut demo = demo_client();
    demo.scopes = scopes("read write email openid");
    t.store.put_client(&demo).await.unwrap();
    let grant = NewGrant {
        subject: Some(Subject::new("user-admin")),
        scope: scopes("read write email"),
        auth_time: Some(T0 - 5),
        refresh: true,
        jkt: None,
    };
    let issued = t.server.issue(&demo, grant).await.unwrap();
    let user_rt = issued.refresh.unwrap().0.secret().to_owned();
    Fixture { t, idp, user_at: issued.access_token.secret().to_owned(), user_rt }
}

/// A client_credentials token of a service: its actor token.
async fn actor_token(t: &TestServer, id: &str) -> String {
    let r = token(t, &format!("grant_type=client_credentials&scope=read&{}", creds(id)), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json_body().unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(t: &TestServer, client: &str, params: &str) -> OAuthResponse {
    token(t, &format!("grant_type={GRANT}&{}&{params}", creds(client)), None).await
}

/// Introspects `token` as the service `id` (client_secret_post).
async fn inspect(t: &TestServer, token: &str, id: &str) -> Value {
    let r = t.server.introspect(&post(&format!("token={token}&{}", creds(id)), None)).await;
    assert_eq!(r.status, 200, "introspection: {r:?}");
    r.json_body().unwrap()
}

#[track_caller]
fn issued(response: &OAuthResponse, label: &str) -> Value {
    let body = response.json_body().unwrap_or_else(|| panic!("{label}: not JSON"));
    assert_eq!(response.status, 200, "{label}: {body}");
    assert!(body["access_token"].is_string(), "{label}: {body}");
    assert!(body["issued_token_type"].is_string(), "{label}: issued_token_type in every success: {body}");
    assert!(body.get("refresh_token").is_none(), "{label}: no refresh token: {body}");
    body
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A JWT of the trusted issuer (or of `key`): claims `base` with overrides.
fn idp_jwt(key: &SigningKey, claims: Value) -> String {
    key.sign("JWT", &claims).unwrap()
}

fn idp_claims() -> Value {
    json!({ "iss": IDP, "sub": "fed-user", "aud": ISSUER, "exp": T0 + 120, "iat": T0, "scope": "read email" })
}

#[tokio::test]
async fn refusals_table() {
    let f = fixture().await;
    let t = &f.t;
    let actor_a = actor_token(t, "svc-a").await;
    let demo_jwt = idp_jwt(&f.idp, idp_claims());
    let stranger = SigningKey::generate("idp-1", SigningAlg::ES256).unwrap();
    let (at, rt) = (f.user_at.as_str(), f.user_rt.as_str());
    let subject = format!("subject_token={at}&subject_token_type={AT}");
    let delegated = format!("{subject}&actor_token={actor_a}&actor_token_type={AT}");
    let with = |claims: Value| idp_jwt(&f.idp, claims);
    let defect = |k: &str, v: Value| {
        let mut c = idp_claims();
        c[k] = v;
        with(c)
    };
    let rows: Vec<(&str, &str, String, &str)> = vec![
        ("a client outside the policy", "svc-x", delegated.clone(), "unauthorized_client"),
        ("a client not registered for the grant", "machine", delegated.clone(), "unauthorized_client"),
        ("no subject_token", "svc-a", format!("subject_token_type={AT}"), "invalid_request"),
        ("no subject_token_type", "svc-a", format!("subject_token={at}"), "invalid_request"),
        (
            "an unknown subject_token_type",
            "svc-a",
            format!("subject_token={at}&subject_token_type=urn:x"),
            "invalid_request",
        ),
        (
            "a garbage subject token",
            "svc-a",
            format!("subject_token=nope&subject_token_type={AT}&actor_token={actor_a}&actor_token_type={AT}"),
            "invalid_request",
        ),
        (
            "an unknown token of the form",
            "svc-a",
            format!("subject_token=g.s&subject_token_type={AT}&actor_token={actor_a}&actor_token_type={AT}"),
            "invalid_request",
        ),
        (
            "an access token sent as a refresh token",
            "svc-a",
            format!("subject_token={at}&subject_token_type={RT}&actor_token={actor_a}&actor_token_type={AT}"),
            "invalid_request",
        ),
        (
            "another client's refresh token",
            "svc-a",
            format!("subject_token={rt}&subject_token_type={RT}&actor_token={actor_a}&actor_token_type={AT}"),
            "invalid_request",
        ),
        ("an actor token without its type", "svc-a", format!("{subject}&actor_token={actor_a}"), "invalid_request"),
        ("an actor type without a token", "svc-a", format!("{subject}&actor_token_type={AT}"), "invalid_request"),
        ("a bad actor token", "svc-a", format!("{subject}&actor_token=g.s&actor_token_type={AT}"), "invalid_request"),
        ("impersonation the rule does not allow", "svc-a", subject.clone(), "unauthorized_client"),
        ("an audience not allowed", "svc-a", format!("{delegated}&audience=https://api.c"), "invalid_target"),
        ("a resource not allowed", "svc-a", format!("{delegated}&resource=https://api.c"), "invalid_target"),
        ("a target for a rule without any", "svc-c", format!("{subject}&audience=https://api.b"), "invalid_target"),
        (
            "audience and resource together",
            "svc-a",
            format!("{delegated}&audience=https://api.b&resource=https://api.b"),
            "invalid_target",
        ),
        ("a scope beyond the subject token's", "svc-a", format!("{delegated}&scope=read%20admin"), "invalid_scope"),
        ("a scope beyond the rule's", "svc-b", format!("{delegated}&scope=write"), "invalid_scope"),
        ("a malformed scope", "svc-a", format!("{delegated}&scope=%22"), "invalid_scope"),
        ("a refresh token requested", "svc-a", format!("{delegated}&requested_token_type={RT}"), "invalid_request"),
        ("an unknown requested type", "svc-a", format!("{delegated}&requested_token_type=urn:x"), "invalid_request"),
        (
            "an ID token without signing keys",
            "svc-c",
            format!("subject_token={demo_jwt}&subject_token_type={IDT}"),
            "invalid_request",
        ),
        (
            "a JWT of an untrusted issuer",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("iss", json!("https://evil.example"))),
            "invalid_request",
        ),
        (
            "a JWT signed by another key",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", idp_jwt(&stranger, idp_claims())),
            "invalid_request",
        ),
        (
            "a JWT for another audience",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("aud", json!("https://other"))),
            "invalid_request",
        ),
        (
            "an expired JWT",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("exp", json!(T0))),
            "invalid_request",
        ),
        (
            "a JWT from the future",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("iat", json!(T0 + 60))),
            "invalid_request",
        ),
        (
            "a JWT without sub",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("sub", json!(7))),
            "invalid_request",
        ),
        (
            "a JWT with a malformed act",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", defect("act", json!({"iss": IDP}))),
            "invalid_request",
        ),
        (
            "a JWT sent as an access token",
            "svc-c",
            format!("subject_token={demo_jwt}&subject_token_type={AT}"),
            "invalid_request",
        ),
        ("our token sent as a JWT", "svc-c", format!("subject_token={at}&subject_token_type={JWT}"), "invalid_request"),
        (
            "an oversized subject token",
            "svc-c",
            format!("subject_token={}&subject_token_type={JWT}", "a".repeat(9000)),
            "invalid_request",
        ),
        ("an oversized audience", "svc-a", format!("{delegated}&audience={}", "a".repeat(600)), "invalid_target"),
        (
            "a repeated parameter",
            "svc-a",
            format!("{delegated}&audience=https://api.b&audience=https://api.b"),
            "invalid_request",
        ),
    ];
    for (label, client, params, code) in rows {
        let r = exchange(t, client, &params).await;
        assert_error(&r, 400, code, label);
    }
    // A request outside the rules issued nothing: the user's family holds its own token only.
    assert_eq!(introspect(t, at, "Basic dGVzdF9jbGllbnQ6cGFzc3dvcmQ=").await["active"], true);
}

#[tokio::test]
async fn a_chain_of_three_services_nests_act_in_introspection_and_jwts() {
    let f = fixture().await;
    let t = &f.t;
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()));
    let (a, b, c) = (actor_token(t, "svc-a").await, actor_token(t, "svc-b").await, actor_token(t, "svc-c").await);

    // svc-a, for the user, towards api.b.
    let r = exchange(
        t,
        "svc-a",
        &format!(
            "subject_token={}&subject_token_type={AT}&actor_token={a}&actor_token_type={AT}&audience=https://api.b&scope=read%20email",
            f.user_at
        ),
    )
    .await;
    let first = issued(&r, "first hop");
    assert_eq!(first["issued_token_type"], AT);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["scope"], "email read");
    assert_eq!(first["expires_in"], 300, "the access token lifetime, within the subject's");
    let t1 = first["access_token"].as_str().unwrap();

    // svc-b, with the first hop's token, towards api.c, as a JWT; the rule keeps `read email` at most.
    let r = exchange(
        t,
        "svc-b",
        &format!("subject_token={t1}&subject_token_type={AT}&actor_token={b}&actor_token_type={AT}&audience=https://api.c&requested_token_type={JWT}"),
    )
    .await;
    let second = issued(&r, "second hop");
    assert_eq!(second["issued_token_type"], JWT);
    assert_eq!(second["scope"], "email read");
    let t2 = second["access_token"].as_str().unwrap();
    let claims: AccessTokenClaims = t.server.keys().unwrap().verify(t2, "at+jwt", ISSUER, Some(T0)).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str(), claims.aud.as_str()),
        ("user-admin", "svc-b", "https://api.c")
    );
    assert_eq!(jwt_payload(t2)["act"], json!({ "sub": "svc-b", "act": { "sub": "svc-a" } }), "nested act in the JWT");

    // svc-c, with the JWT, delegating again (its rule allows no target).
    let r = exchange(
        t,
        "svc-c",
        &format!("subject_token={t2}&subject_token_type={AT}&actor_token={c}&actor_token_type={AT}&requested_token_type={JWT}&scope=read"),
    )
    .await;
    let third = issued(&r, "third hop");
    let t3 = third["access_token"].as_str().unwrap();
    let chain = json!({ "sub": "svc-c", "act": { "sub": "svc-b", "act": { "sub": "svc-a" } } });
    assert_eq!(jwt_payload(t3)["act"], chain, "three actors in the JWT");
    assert_eq!(jwt_payload(t3)["aud"], ISSUER, "no target: the default audience");
    assert_eq!(third["expires_in"], 60, "svc-c's rule lifetime");

    let seen = inspect(t, t3, "svc-c").await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["act"], chain, "three actors in introspection");
    assert_eq!(
        (seen["sub"].as_str(), seen["client_id"].as_str(), seen["scope"].as_str()),
        (Some("user-admin"), Some("svc-c"), Some("read"))
    );
    let seen1 = inspect(t, t1, "svc-a").await;
    assert_eq!((seen1["act"].clone(), seen1["aud"].clone()), (json!({ "sub": "svc-a" }), json!("https://api.b")));
    let not_yours = inspect(t, t1, "svc-c").await;
    assert_eq!(not_yours, json!({ "active": false }), "only the exchanging client introspects its token");
}

#[tokio::test]
async fn revoking_the_subject_family_revokes_what_was_exchanged_from_it() {
    let f = fixture().await;
    let t = &f.t;
    let a = actor_token(t, "svc-a").await;
    let b = actor_token(t, "svc-b").await;
    let hop = |client: &'static str, subject: String, actor: String| async move {
        let r = exchange(
            t,
            client,
            &format!("subject_token={subject}&subject_token_type={AT}&actor_token={actor}&actor_token_type={AT}"),
        )
        .await;
        issued(&r, client)["access_token"].as_str().unwrap().to_owned()
    };
    let t1 = hop("svc-a", f.user_at.clone(), a.clone()).await;
    let t2 = hop("svc-b", t1.clone(), b.clone()).await;
    for (token, id) in [(&t1, "svc-a"), (&t2, "svc-b")] {
        assert_eq!(inspect(t, token, id).await["active"], true);
    }
    // Revoking the user's refresh token revokes the user's grant: the whole family.
    let r = t.server.revoke(&post(&format!("token={}", f.user_rt), Some("Basic dGVzdF9jbGllbnQ6cGFzc3dvcmQ="))).await;
    assert_eq!(r.status, 200);
    for (token, id) in [(&t1, "svc-a"), (&t2, "svc-b")] {
        assert_eq!(inspect(t, token, id).await, json!({ "active": false }), "{id}'s exchanged token");
    }
    let r = exchange(
        t,
        "svc-a",
        &format!("subject_token={t1}&subject_token_type={AT}&actor_token={a}&actor_token_type={AT}"),
    )
    .await;
    assert_error(&r, 400, "invalid_request", "a revoked subject token");
    // The actors' own grants are not touched.
    assert_eq!(inspect(t, &b, "svc-b").await["active"], true);
}

#[tokio::test]
async fn lifetimes_never_pass_the_subject_or_actor_token() {
    let f = fixture().await;
    let t = &f.t;
    // svc-c's rule asks 60 s; the subject token has 300 s, then 20 s left.
    let imp = format!("subject_token={}&subject_token_type={AT}", f.user_at);
    assert_eq!(issued(&exchange(t, "svc-c", &imp).await, "60 s")["expires_in"], 60);
    t.clock.advance(280);
    let body = issued(&exchange(t, "svc-c", &imp).await, "capped");
    assert_eq!(body["expires_in"], 20, "never beyond the subject token");
    assert!(body.get("act").is_none());
    // An actor token expiring sooner caps it too.
    let actor = actor_token(t, "svc-a").await; // 300 s from now
    t.clock.advance(10);
    let fresh = t.server.issue(&demo_client_with_read(), grant("read")).await.unwrap();
    let delegated = format!(
        "subject_token={}&subject_token_type={AT}&actor_token={actor}&actor_token_type={AT}",
        fresh.access_token.secret()
    );
    t.clock.advance(250);
    assert_eq!(issued(&exchange(t, "svc-a", &delegated).await, "actor cap")["expires_in"], 40);
    t.clock.advance(40);
    assert_error(&exchange(t, "svc-a", &delegated).await, 400, "invalid_request", "an expired actor token");
    t.clock.advance(1000);
    assert_error(&exchange(t, "svc-c", &imp).await, 400, "invalid_request", "an expired subject token");
}

fn demo_client_with_read() -> Client {
    let mut demo = demo_client();
    demo.scopes = scopes("read write email openid");
    demo
}

fn grant(scope: &str) -> NewGrant {
    NewGrant {
        subject: Some(Subject::new("user-admin")),
        scope: scopes(scope),
        auth_time: None,
        refresh: false,
        jkt: None,
    }
}

#[tokio::test]
async fn impersonation_keeps_the_subjects_actors_and_refresh_tokens_stay_with_their_client() {
    let f = fixture().await;
    let t = &f.t;
    let a = actor_token(t, "svc-a").await;
    let r = exchange(
        t,
        "svc-a",
        &format!("subject_token={}&subject_token_type={AT}&actor_token={a}&actor_token_type={AT}", f.user_at),
    )
    .await;
    let t1 = issued(&r, "delegated")["access_token"].as_str().unwrap().to_owned();
    // svc-c impersonates with t1: no new actor, the earlier one is kept.
    let r = exchange(t, "svc-c", &format!("subject_token={t1}&subject_token_type={AT}")).await;
    let t2 = issued(&r, "impersonated")["access_token"].as_str().unwrap().to_owned();
    let seen = inspect(t, &t2, "svc-c").await;
    assert_eq!(seen["act"], json!({ "sub": "svc-a" }), "{seen}");
    assert_eq!(seen["scope"], "email read write", "all of the subject's scope without `scope`");
    // A client may present its own refresh token (another client's is refused: see the table).
    let mut svc_c = service("svc-c");
    svc_c.grant_types.insert(GrantType::RefreshToken);
    t.store.put_client(&svc_c).await.unwrap();
    let own = t.server.issue(&svc_c, NewGrant { refresh: true, ..grant("read") }).await.unwrap();
    let rt = own.refresh.unwrap().0.secret().to_owned();
    let body =
        issued(&exchange(t, "svc-c", &format!("subject_token={rt}&subject_token_type={RT}")).await, "own refresh");
    assert_eq!((body["scope"].as_str(), body["issued_token_type"].as_str()), (Some("read"), Some(AT)));
}

#[tokio::test]
async fn trusted_issuer_jwts_and_our_id_tokens_start_grants_of_their_own() {
    let f = fixture().await;
    let t = &f.t;
    // A trusted issuer's JWT with an act of its own, delegated further by svc-a.
    let mut claims = idp_claims();
    claims["act"] = json!({ "sub": "idp-gateway", "iss": IDP });
    let jwt = idp_jwt(&f.idp, claims);
    let a = actor_token(t, "svc-a").await;
    let r = exchange(
        t,
        "svc-a",
        &format!("subject_token={jwt}&subject_token_type={JWT}&actor_token={a}&actor_token_type={AT}&scope=read"),
    )
    .await;
    let body = issued(&r, "trusted JWT");
    assert_eq!(body["expires_in"], 120, "never beyond the JWT's exp");
    let seen = inspect(t, body["access_token"].as_str().unwrap(), "svc-a").await;
    assert_eq!(seen["sub"], "fed-user");
    assert_eq!(seen["act"], json!({ "sub": "svc-a", "act": { "sub": "idp-gateway", "iss": IDP } }));
    let wide = exchange(
        t,
        "svc-a",
        &format!("subject_token={jwt}&subject_token_type={JWT}&actor_token={a}&actor_token_type={AT}&scope=write"),
    )
    .await;
    assert_error(&wide, 400, "invalid_scope", "beyond the JWT's scope claim");
    // A trusted JWT as the actor: the actor's iss is named.
    let actor_jwt = idp_jwt(&f.idp, json!({ "iss": IDP, "sub": "robot", "aud": ISSUER, "exp": T0 + 600 }));
    let r = exchange(
        t,
        "svc-a",
        &format!("subject_token={}&subject_token_type={AT}&actor_token={actor_jwt}&actor_token_type={JWT}", f.user_at),
    )
    .await;
    let token = issued(&r, "JWT actor")["access_token"].as_str().unwrap().to_owned();
    let seen = inspect(t, &token, "svc-a").await;
    assert_eq!(seen["act"], json!({ "sub": "robot", "iss": IDP }));

    // Our ID token: impersonation by svc-c, scope from no rule: none.
    t.server.set_keys(Some(KeySet::new(vec![SigningKey::generate("k1", SigningAlg::ES256).unwrap()], "k1").unwrap()));
    let id_token = t
        .server
        .keys()
        .unwrap()
        .active()
        .sign("JWT", &json!({ "iss": ISSUER, "sub": "user-admin", "aud": "test_client", "exp": T0 + 30, "iat": T0 }))
        .unwrap();
    let body =
        issued(&exchange(t, "svc-c", &format!("subject_token={id_token}&subject_token_type={IDT}")).await, "ID token");
    assert_eq!(body["expires_in"], 30);
    assert!(body.get("scope").is_none(), "no scope without a rule's: {body}");
    let forged = f
        .idp
        .sign("JWT", &json!({ "iss": ISSUER, "sub": "user-admin", "aud": "test_client", "exp": T0 + 30 }))
        .unwrap();
    assert_error(
        &exchange(t, "svc-c", &format!("subject_token={forged}&subject_token_type={IDT}")).await,
        400,
        "invalid_request",
        "an ID token not signed by us",
    );
}

#[tokio::test]
async fn policy_and_metadata() {
    let idp = SigningKey::generate("idp-1", SigningAlg::ES256).unwrap();
    let t = TestServer::with_policy(|p| p.token_exchange(exchange_policy(&idp))).await;
    let grants = t.server.metadata()["grant_types_supported"].clone();
    assert!(grants.as_array().unwrap().iter().any(|g| g == GRANT), "{grants}");
    let off = TestServer::new().await;
    let grants = off.server.metadata()["grant_types_supported"].clone();
    assert!(!grants.as_array().unwrap().iter().any(|g| g == GRANT), "off without rules: {grants}");
    let r = token(&off, &format!("grant_type={GRANT}&{}", creds("machine")), None).await;
    assert_error(&r, 400, "unsupported_grant_type", "the grant is off");

    let builder = || ServerPolicy::builder(oauth_core::testing::issuer());
    let bad: Vec<(&str, TokenExchangePolicy)> = vec![
        ("zero lifetime", TokenExchangePolicy::new().allow(ClientId::new("a"), ExchangeRule::new().lifetime(Some(0)))),
        (
            "empty audience",
            TokenExchangePolicy::new().allow(ClientId::new("a"), ExchangeRule::new().audiences(vec![String::new()])),
        ),
        ("no keys", TokenExchangePolicy::new().trust(TrustedIssuer::with_jwks(IDP, json!({ "keys": [] })))),
        (
            "private key",
            TokenExchangePolicy::new().trust(TrustedIssuer::with_jwks(
                IDP,
                json!({ "keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}] }),
            )),
        ),
        (
            "http jwks_uri",
            TokenExchangePolicy::new().trust(TrustedIssuer::with_jwks_uri(IDP, "http://idp.example.org/jwks")),
        ),
        (
            "twice",
            TokenExchangePolicy::new()
                .trust(TrustedIssuer::with_jwks_uri(IDP, "https://idp.example.org/jwks"))
                .trust(TrustedIssuer::with_jwks_uri(IDP, "https://idp.example.org/jwks")),
        ),
    ];
    for (label, policy) in bad {
        let error = builder().token_exchange(policy).build().err().unwrap_or_else(|| panic!("{label}: accepted"));
        assert!(error.field.starts_with("token_exchange."), "{label}: {error}");
    }
    assert!(builder().token_exchange(exchange_policy(&idp)).build().is_ok());
}

/// A DPoP-bound subject token is accepted only with a proof of its key, and
/// a request with a proof gets a DPoP-bound token.
#[tokio::test]
async fn dpop_bound_tokens_need_their_key() {
    let f = fixture().await;
    let t = &f.t;
    let key = crate::dpop_flows::Key::new();
    let other = crate::dpop_flows::Key::new();
    let url = format!("{ISSUER}/oauth/token");
    let bound = t
        .server
        .issue(&demo_client_with_read(), NewGrant { jkt: Some(key.jkt()), ..grant("read email") })
        .await
        .unwrap();
    let body = format!(
        "grant_type={GRANT}&{}&subject_token={}&subject_token_type={AT}",
        creds("svc-c"),
        bound.access_token.secret()
    );
    let rows: Vec<(&str, Option<String>, Result<&str, &str>)> = vec![
        ("no proof", None, Err("invalid_request")),
        ("another key's proof", Some(other.proof("POST", &url, "x1")), Err("invalid_request")),
        ("its key's proof", Some(key.proof("POST", &url, "x2")), Ok("DPoP")),
    ];
    for (label, proof, expected) in rows {
        let mut req = post(&body, None);
        if let Some(proof) = &proof {
            req = req.with_header("DPoP", proof);
        }
        let r = t.server.token(&req).await;
        match expected {
            Ok(token_type) => {
                let body = issued(&r, label);
                assert_eq!(body["token_type"], token_type, "{label}");
                let seen = inspect(t, body["access_token"].as_str().unwrap(), "svc-c").await;
                assert_eq!(seen["cnf"]["jkt"], key.jkt(), "{label}: bound to the proof's key");
            }
            Err(code) => assert_error(&r, 400, code, label),
        }
    }
    // An unbound subject token exchanged with a proof: the new token is bound.
    let body = format!("grant_type={GRANT}&{}&subject_token={}&subject_token_type={AT}", creds("svc-c"), f.user_at);
    let r = t.server.token(&post(&body, None).with_header("DPoP", &other.proof("POST", &url, "x3"))).await;
    assert_eq!(issued(&r, "bound on exchange")["token_type"], "DPoP");
}
