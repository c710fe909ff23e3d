//! RFC 8414 metadata follows the policy.

use oauth_core::testing::TestServer;

#[tokio::test]
async fn metadata_follows_policy() {
    let t = TestServer::new().await;
    let m = t.server.metadata();
    assert_eq!(m["issuer"], "https://auth.example.com");
    assert_eq!(m["authorization_endpoint"], "https://auth.example.com/oauth/authorize");
    assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth/token");
    assert_eq!(m["revocation_endpoint"], "https://auth.example.com/oauth/revoke");
    assert_eq!(m["introspection_endpoint"], "https://auth.example.com/oauth/introspect");
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert!(!m["grant_types_supported"].as_array().unwrap().contains(&"password".into()));

    let t = TestServer::with_policy(|p| {
        let paths = oauth_core::policy::EndpointPaths { token: "/oauth/tokenize".into(), ..Default::default() };
        p.allow_implicit(true)
            .allow_password_grant(true)
            .allow_plain_pkce(true)
            .paths(paths)
            .scopes_supported(oauth_core::testing::scopes("email openid"))
    })
    .await;
    let m = t.server.metadata();
    assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth/tokenize");
    assert_eq!(m["response_types_supported"], serde_json::json!(["code", "token"]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!(["S256", "plain"]));
    assert_eq!(m["scopes_supported"], serde_json::json!(["email", "openid"]));
    assert!(m["grant_types_supported"].as_array().unwrap().contains(&"password".into()));
}
