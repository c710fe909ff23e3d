//! # oauth-core
//!
//! An OAuth 2.1 authorization server engine with no IO and no web framework.
//!
//! - Inputs are neutral [`OAuthRequest`]s: method, a secure-transport flag,
//!   headers, and query and form parameters kept as multi-pairs.
//! - Outputs are neutral [`OAuthResponse`]s: status, headers and a JSON, HTML
//!   or empty body, or a redirect.
//! - [`AuthorizationServer`] holds the [`ServerPolicy`], the [`Stores`], a
//!   [`Clock`] and a [`TokenGenerator`]; it is the only entry point.
//! - Storage is a set of `async-trait` traits ([`storage`]); [`MemoryStore`]
//!   is the embedded default, and `oauth-storage-redis` scales out.
//!
//! The authorization endpoint is split around login and consent:
//! [`AuthorizationServer::authorize`] returns a serializable
//! [`PendingAuthorization`]; the application authenticates the user, asks for
//! consent, then calls [`AuthorizationServer::approve`] or
//! [`AuthorizationServer::deny`].
//!
//! ```
//! use std::sync::Arc;
//! use oauth_core::{
//!     client::{Client, SecretHash}, storage::{ClientStore, MemoryStore, Stores},
//!     types::{Issuer, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod},
//!     Approval, AuthorizationServer, OAuthRequest, ServerPolicy,
//! };
//!
//! # tokio_test(async {
//! let store = Arc::new(MemoryStore::new());
//! let mut client = Client::new("test_client");
//! client.secret = Some(SecretHash::sha256("a generated high-entropy secret"));
//! client.auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
//! client.redirect_uris = vec![RedirectUri::new("https://www.example.com/redirect", false).unwrap()];
//! client.scopes = ScopeSet::parse("email").unwrap();
//! store.put_client(&client).await.unwrap();
//!
//! let issuer = Issuer::new("https://auth.example.com", false).unwrap();
//! let policy = ServerPolicy::builder(issuer).access_token_lifetime(600).build().unwrap();
//! let server = AuthorizationServer::new(policy, Stores::single(store));
//!
//! // 1. Validate the authorization request.
//! let request = OAuthRequest::get(
//!     "client_id=test_client&response_type=code&state=xyz&scope=email",
//! ).secure();
//! let pending = server.authorize(&request).await.unwrap();
//!
//! // 2. The application logs the user in and asks for consent, then:
//! let approval = Approval { subject: Subject::new("user-1"), scope: None, auth_time: server.now() };
//! let redirect = server.approve(&pending, approval).await.unwrap();
//! let location = redirect.location().unwrap();
//! assert!(location.starts_with("https://www.example.com/redirect?state=xyz&code="));
//!
//! // 3. The client exchanges the code at the token endpoint.
//! let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap();
//! let token_request = OAuthRequest::post_form(&format!(
//!     "grant_type=authorization_code&code={code}&client_id=test_client"
//! ))
//! .with_header("Authorization", "Basic dGVzdF9jbGllbnQ6YSBnZW5lcmF0ZWQgaGlnaC1lbnRyb3B5IHNlY3JldA==")
//! .secure();
//! let response = server.token(&token_request).await;
//! assert_eq!(response.status, 200);
//! assert_eq!(response.json_body().unwrap()["token_type"], "Bearer");
//! # });
//! # fn tokio_test<F: std::future::Future>(f: F) { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f); }
//! ```

pub mod assertion;
pub mod client;
pub mod clock;
pub mod device;
pub mod dpop;
pub mod error;
pub mod exchange;
pub mod generate;
mod grace;
pub mod grant;
pub mod jose;
pub mod observe;
pub mod offload;
pub mod oidc;
pub mod pkce;
pub mod policy;
pub mod request;
pub mod response;
mod server;
pub mod storage;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod throttle;
pub mod types;
pub mod user;

pub use clock::Clock;
pub use error::{Cause, ErrorCode, OAuthError};
pub use generate::TokenGenerator;
pub use policy::ServerPolicy;
pub use request::{OAuthRequest, Params};
pub use response::{Body, OAuthResponse};
pub use server::{
    Approval, AuthorizationServer, AuthorizeError, KEYS_MAX_AGE, MAX_PUSHED_REQUEST_LEN, METADATA_MAX_AGE, NextStep,
    PendingAuthorization, PendingDevice, REQUEST_URI_PREFIX, ResourceAccess, TokenScheme, bearer_token,
};
pub use storage::{MemoryStore, Stores};
