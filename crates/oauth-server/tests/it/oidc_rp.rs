//! The real binary as an OpenID Provider for the `openidconnect` crate as the
//! relying party: discovery, code flow with PKCE and nonce, ID token checked
//! against the JWKS, UserInfo, refresh; for each signing algorithm.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::{browser_flow, http, spawn};

#[tokio::test]
async fn openidconnect_relying_party_for_each_algorithm() {
    for (alg, jws) in [
        ("RS256", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let server = spawn(&[("OAUTH__OIDC__EPHEMERAL_KEY", alg)]).await;
        let base = server.base.clone();
        let http = http();
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(base.clone()).unwrap(), &http).await.unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new("test_client".into()),
            Some(ClientSecret::new("password".into())),
        )
        .set_redirect_uri(RedirectUrl::new("https://www.example.com/redirect".into()).unwrap());
        let (challenge, pkce) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let params = browser_flow(&base, &base, url.as_str()).await;
        assert_eq!(&params["state"], state.secret(), "{alg}");
        assert_eq!(params["iss"], base, "{alg}");

        let tokens = client
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .unwrap()
            .set_pkce_verifier(pkce)
            .request_async(&http)
            .await
            .unwrap();
        let verifier = client.id_token_verifier().set_allowed_algs(vec![jws.clone()]);
        let id_token = tokens.id_token().expect("an ID token for the openid scope");
        let claims = id_token.claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.subject().as_str(), "admin", "{alg}");
        assert_eq!(claims.email().map(|e| e.as_str()), Some("admin@example.com"));
        assert!(claims.auth_time().is_some());
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "{alg}: at_hash");

        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http)
            .await
            .unwrap();
        assert_eq!(info.email().map(|e| e.as_str()), Some("admin@example.com"), "{alg}");
        assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("admin"));

        let refreshed =
            client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http).await.unwrap();
        let id2 = refreshed.id_token().expect("an ID token on refresh");
        let claims2 = id2.claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
        assert_eq!(claims2.subject(), claims.subject());
        assert_eq!(claims2.auth_time(), claims.auth_time(), "{alg}: auth_time of the original login");
    }
}
