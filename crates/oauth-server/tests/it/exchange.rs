//! Token exchange (RFC 8693) through the real app, on the memory store and on
//! Redis: each refusal, a delegation chain of three services whose nested
//! `act` shows in introspection and in JWT access tokens, the metric, the
//! metadata, and revocation of the subject's grant killing what was
//! exchanged from it.

use base64::Engine as _;
use oauth_server::Config;
use oauth_server::testing::Browser;
use serde_json::{Value, json};

use crate::support::{AUTHORIZE, CONFIG, app, basic, query_params, tokenize};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Three services and one outside the policy: `svc-a` delegates towards
/// `https://api.b`; `svc-b` towards `https://api.c`; `svc-c` may
/// impersonate, for 60 s; `svc-x` is registered for the grant but not listed.
const EXTRA: &str = r#"
[[clients]]
id = "svc-a"
secret = "svc-a-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[clients]]
id = "svc-b"
secret = "svc-b-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[clients]]
id = "svc-c"
secret = "svc-c-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[clients]]
id = "svc-x"
secret = "svc-x-secret"
auth_method = "client_secret_post"
grant_types = ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]
response_types = []
scopes = "email read"

[[token_exchange.clients]]
client_id = "svc-a"
audiences = ["https://api.b"]

[[token_exchange.clients]]
client_id = "svc-b"
audiences = ["https://api.c"]
scopes = "email"

[[token_exchange.clients]]
client_id = "svc-c"
impersonation = true
lifetime = 60
"#;

fn exchange_config(env: &[(&str, &str)]) -> Config {
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.push(("OAUTH__SERVER__METRICS".into(), "true".into()));
    Config::from_toml(&format!("{CONFIG}\n{EXTRA}"), env).unwrap()
}

fn creds(id: &str) -> String {
    format!("client_id={id}&client_secret={id}-secret")
}

/// POSTs a form to `path`; returns the status and the JSON body.
async fn post<S, B>(app: &S, path: &str, body: String) -> (u16, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let req = actix_web::test::TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body);
    let page = Browser::new().send(app, req).await;
    (page.status, serde_json::from_str(&page.body).unwrap_or(Value::Null))
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Runs the whole scenario on the app built from `config`.
async fn delegation_chain_and_revocation(config: Config) {
    let app = app(config).await;
    let mut b = Browser::new();

    // The user's tokens, through the browser flow.
    let login = b.get(&app, AUTHORIZE).await.next();
    let approve = b.login_at(&app, &login, "admin", "admin").await.next();
    let consent = b.get(&app, &approve).await;
    let r = b.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    let code = query_params(r.location().unwrap())["code"].clone();
    let r = b
        .send(
            &app,
            tokenize(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = r.json();
    let (user_at, user_rt) =
        (user["access_token"].as_str().unwrap().to_owned(), user["refresh_token"].as_str().unwrap().to_owned());

    // Each service's own token: its actor token.
    let mut actors = Vec::new();
    for id in ["svc-a", "svc-b", "svc-c"] {
        let (status, body) =
            post(&app, "/oauth/token", format!("grant_type=client_credentials&scope=read&{}", creds(id))).await;
        assert_eq!(status, 200, "{body}");
        actors.push(body["access_token"].as_str().unwrap().to_owned());
    }

    // Three hops: svc-a towards api.b, svc-b towards api.c as a JWT, svc-c as a JWT.
    let hop = |client: &'static str, subject: String, actor: String, extra: &'static str| {
        let app = &app;
        async move {
            let body = format!(
                "grant_type={GRANT}&{}&subject_token={subject}&subject_token_type={AT}&actor_token={actor}&actor_token_type={AT}{extra}",
                creds(client)
            );
            let (status, answer) = post(app, "/oauth/token", body).await;
            assert_eq!(status, 200, "{client}: {answer}");
            assert!(answer.get("refresh_token").is_none(), "{answer}");
            answer
        }
    };
    let first = hop("svc-a", user_at.clone(), actors[0].clone(), "&audience=https://api.b").await;
    assert_eq!((first["issued_token_type"].as_str(), first["token_type"].as_str()), (Some(AT), Some("Bearer")));
    assert_eq!(first["scope"], "email");
    let t1 = first["access_token"].as_str().unwrap().to_owned();
    let second = hop(
        "svc-b",
        t1.clone(),
        actors[1].clone(),
        "&audience=https://api.c&requested_token_type=urn:ietf:params:oauth:token-type:jwt",
    )
    .await;
    assert_eq!(second["issued_token_type"], JWT);
    let t2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&t2)["act"], json!({ "sub": "svc-b", "act": { "sub": "svc-a" } }));
    assert_eq!(jwt_payload(&t2)["aud"], "https://api.c");
    let third =
        hop("svc-c", t2.clone(), actors[2].clone(), "&requested_token_type=urn:ietf:params:oauth:token-type:jwt").await;
    assert_eq!(third["expires_in"], 60, "svc-c's lifetime");
    let t3 = third["access_token"].as_str().unwrap().to_owned();
    let chain = json!({ "sub": "svc-c", "act": { "sub": "svc-b", "act": { "sub": "svc-a" } } });
    assert_eq!(jwt_payload(&t3)["act"], chain, "three actors in the JWT access token");
    assert_eq!(jwt_payload(&t3)["sub"], "admin");

    let introspect = |id: &'static str, token: String| {
        let app = &app;
        async move { post(app, "/oauth/introspect", format!("token={token}&{}", creds(id))).await.1 }
    };
    let seen = introspect("svc-c", t3.clone()).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["act"], chain, "three actors in introspection: {seen}");
    assert_eq!((seen["client_id"].as_str(), seen["sub"].as_str()), (Some("svc-c"), Some("admin")));
    assert_eq!(introspect("svc-a", t1.clone()).await["aud"], "https://api.b");

    // The metric and the metadata.
    let metrics = b.get(&app, "/metrics").await.body;
    assert!(metrics.contains(r#"oauth_tokens_issued_total{grant_type="token_exchange"} 3"#), "{metrics}");
    let metadata = b.get(&app, "/.well-known/oauth-authorization-server").await.json();
    assert!(metadata["grant_types_supported"].as_array().unwrap().iter().any(|g| g == GRANT), "{metadata}");

    // Revoking the user's refresh token revokes the user's grant, and with it every exchanged token.
    let r = b
        .send(
            &app,
            actix_web::test::TestRequest::post()
                .uri("/oauth/revoke")
                .insert_header(("Authorization", basic("test_client", "password")))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(format!("token={user_rt}&token_type_hint=refresh_token")),
        )
        .await;
    assert_eq!(r.status, 200);
    for (id, token) in [("svc-a", t1), ("svc-b", t2), ("svc-c", t3)] {
        assert_eq!(introspect(id, token).await, json!({ "active": false }), "{id}'s exchanged token is revoked");
    }
    let (status, body) = post(
        &app,
        "/oauth/token",
        format!("grant_type={GRANT}&{}&subject_token={user_at}&subject_token_type={AT}", creds("svc-c")),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "a revoked subject: {body}");
    assert_eq!(introspect("svc-a", actors[0].clone()).await["active"], true, "the actors' own tokens live on");
}

#[actix_web::test]
async fn a_chain_of_three_services_on_the_memory_store() {
    delegation_chain_and_revocation(exchange_config(&[])).await;
}

#[actix_web::test]
async fn a_chain_of_three_services_on_redis() {
    let Some(url) = oauth_storage_redis::testing::redis_url_or_skip("a_chain_of_three_services_on_redis") else {
        return;
    };
    let prefix = oauth_storage_redis::testing::unique_prefix();
    delegation_chain_and_revocation(exchange_config(&[
        ("OAUTH__STORAGE__URL", url.as_str()),
        ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str()),
    ]))
    .await;
}

#[actix_web::test]
async fn each_refusal_over_http() {
    let app = app(exchange_config(&[])).await;
    let (_, cc) =
        post(&app, "/oauth/token", format!("grant_type=client_credentials&scope=read&{}", creds("svc-a"))).await;
    let actor = cc["access_token"].as_str().unwrap().to_owned();
    let subject = format!("subject_token={actor}&subject_token_type={AT}");
    let delegated = format!("{subject}&actor_token={actor}&actor_token_type={AT}");
    let rows: Vec<(&str, &str, String, u16, &str)> = vec![
        ("a client outside the policy", "svc-x", delegated.clone(), 400, "unauthorized_client"),
        ("no subject token", "svc-a", format!("subject_token_type={AT}"), 400, "invalid_request"),
        ("a bad subject token", "svc-a", format!("subject_token=x.y&subject_token_type={AT}"), 400, "invalid_request"),
        (
            "an unsupported token type",
            "svc-a",
            format!("subject_token={actor}&subject_token_type=urn:x"),
            400,
            "invalid_request",
        ),
        (
            "a bad actor token",
            "svc-a",
            format!("{subject}&actor_token=x.y&actor_token_type={AT}"),
            400,
            "invalid_request",
        ),
        ("impersonation not allowed", "svc-a", subject.clone(), 400, "unauthorized_client"),
        ("an audience not allowed", "svc-a", format!("{delegated}&audience=https://api.c"), 400, "invalid_target"),
        ("a resource not allowed", "svc-b", format!("{delegated}&resource=https://api.b"), 400, "invalid_target"),
        ("a wider scope", "svc-a", format!("{delegated}&scope=read%20email"), 400, "invalid_scope"),
        (
            "a refresh token requested",
            "svc-a",
            format!("{delegated}&requested_token_type=urn:ietf:params:oauth:token-type:refresh_token"),
            400,
            "invalid_request",
        ),
    ];
    for (label, client, params, status, code) in rows {
        let (got, body) = post(&app, "/oauth/token", format!("grant_type={GRANT}&{}&{params}", creds(client))).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(code)), "{label}: {body}");
        assert!(body["error_description"].is_string(), "{label}");
    }
    // Without any [token_exchange] rule the grant is off.
    let plain = app_without_exchange().await;
    let (status, body) =
        post(&plain, "/oauth/token", format!("grant_type={GRANT}&{}&{delegated}", creds("svc-a"))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")), "{body}");
}

async fn app_without_exchange() -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let extra = EXTRA.split("[[token_exchange.clients]]").next().unwrap();
    app(Config::from_toml(&format!("{CONFIG}\n{extra}"), Vec::<(String, String)>::new()).unwrap()).await
}

/// A trusted issuer whose keys are fetched from its `jwks_uri` (once, then
/// cached): its JWT is a subject token; another key's signature is refused.
#[actix_web::test]
async fn a_trusted_issuers_jwt_verified_with_its_fetched_keys() {
    use crate::private_key_jwt::{jwks, jwks_server, key};
    use oauth_core::jose::SigningAlg;
    let idp = key("idp-1", SigningAlg::ES256);
    let served = jwks_server(jwks(&[&idp]).to_string()).await;
    let extra =
        format!("[[token_exchange.issuers]]\nissuer = \"https://idp.example.org\"\njwks_uri = \"{}\"\n", served.url);
    let app =
        app(Config::from_toml(&format!("{CONFIG}\n{EXTRA}\n{extra}"), Vec::<(String, String)>::new()).unwrap()).await;
    let now = oauth_core::testing::wall_clock_now();
    let claims = json!({ "iss": "https://idp.example.org", "sub": "fed-user", "aud": "http://localhost:8000", "exp": now + 60, "iat": now, "scope": "email" });
    let jwt = idp.sign("JWT", &claims).unwrap();
    for round in ["fetched", "cached"] {
        let (status, body) = post(
            &app,
            "/oauth/token",
            format!("grant_type={GRANT}&{}&subject_token={jwt}&subject_token_type={JWT}", creds("svc-c")),
        )
        .await;
        assert_eq!(status, 200, "{round}: {body}");
        assert_eq!((body["scope"].as_str(), body["issued_token_type"].as_str()), (Some("email"), Some(AT)), "{round}");
        let seen = post(
            &app,
            "/oauth/introspect",
            format!("token={}&{}", body["access_token"].as_str().unwrap(), creds("svc-c")),
        )
        .await
        .1;
        assert_eq!(seen["sub"], "fed-user", "{round}");
    }
    assert_eq!(served.hits.load(std::sync::atomic::Ordering::SeqCst), 1, "fetched once, then cached");
    let forged = key("idp-1", SigningAlg::ES256).sign("JWT", &claims).unwrap();
    let (status, body) = post(
        &app,
        "/oauth/token",
        format!("grant_type={GRANT}&{}&subject_token={forged}&subject_token_type={JWT}", creds("svc-c")),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "another key: {body}");
}

/// `client create --grant-type urn:ietf:params:oauth:grant-type:token-exchange`
/// registers a client that `[token_exchange]` names, on the binary with Redis.
#[tokio::test]
async fn a_client_registered_with_the_cli_exchanges() {
    let Some(url) = oauth_storage_redis::testing::redis_url_or_skip("a_client_registered_with_the_cli_exchanges")
    else {
        return;
    };
    let prefix = oauth_storage_redis::testing::unique_prefix();
    let rule = "[[token_exchange.clients]]\nclient_id = \"cli-svc\"\nimpersonation = true\n";
    let env = [("OAUTH__STORAGE__URL", url.as_str()), ("OAUTH__STORAGE__KEY_PREFIX", prefix.as_str())];
    let server = crate::support::spawn_with_extra_config(rule, &env).await;
    let (ok, out, err) = crate::redis::cli(
        "client",
        &[
            "create",
            "--id",
            "cli-svc",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            GRANT,
            "--scope",
            "read",
            "--auth-method",
            "client_secret_post",
        ],
        &url,
        &prefix,
    );
    assert!(ok, "{err}");
    let secret = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).unwrap().to_owned();
    let (_, shown, _) = crate::redis::cli("client", &["show", "cli-svc"], &url, &prefix);
    assert!(shown.contains(GRANT), "{shown}");
    let creds = format!("client_id=cli-svc&client_secret={secret}");
    let token = |body: String| async {
        let r = crate::support::http()
            .post(format!("{}/oauth/token", server.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let (status, own) = token(format!("grant_type=client_credentials&scope=read&{creds}")).await;
    assert_eq!(status, 200, "{own}");
    let subject = own["access_token"].as_str().unwrap();
    let (status, body) =
        token(format!("grant_type={GRANT}&{creds}&subject_token={subject}&subject_token_type={AT}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["issued_token_type"].as_str(), body["scope"].as_str()), (Some(AT), Some("read")));
}
