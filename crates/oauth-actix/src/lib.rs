//! # oauth-actix
//!
//! Mounts the OAuth 2.1 endpoints of an [`oauth_core::AuthorizationServer`]
//! in an actix-web application. The adapter converts and decides nothing:
//! every protocol answer comes from `oauth-core`.
//!
//! - [`OAuthEndpoints::configure`] mounts the authorization, token,
//!   revocation, introspection and metadata endpoints at the paths of the
//!   server's policy ([`oauth_core::policy::EndpointPaths`], the same paths
//!   the metadata publishes), or [`OAuthEndpoints::scope`] inside a scope;
//!   wrong methods get core's `405` with `Allow`, bodies over the limit
//!   ([`AdapterOptions`]) get core's `413`.
//! - Login and consent stay yours: implement [`AuthorizeHandler`]. It receives
//!   each validated [`PendingAuthorization`]; later you call
//!   [`AuthorizationServer::approve`] or [`AuthorizationServer::deny`] and
//!   send the result with [`respond`], which also logs the answer's cause
//!   (a storage failure) once, with the route pattern.
//! - With signing keys installed, UserInfo, the JWK Set and OpenID Connect
//!   Discovery are mounted too.
//! - CPU-heavy checks (Argon2 client secrets and passwords) run on a
//!   [`BlockingPool`] bounded for the whole process, never on the async
//!   workers; a full pool answers `503` with `Retry-After`.
//! - Resource servers take [`BearerToken`] as an extractor: it authenticates
//!   the request through core's
//!   [`AuthorizationServer::authenticate_resource`] (TLS rule, opaque and JWT
//!   access tokens) and answers core's RFC 6750 errors.
//!
//! ```no_run
//! use std::sync::Arc;
//! use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
//! use oauth_actix::{AuthorizeHandler, OAuthEndpoints};
//! use oauth_core::{AuthorizationServer, MemoryStore, PendingAuthorization, ServerPolicy, Stores};
//! use oauth_core::types::Issuer;
//!
//! struct MyLogin;
//!
//! #[async_trait::async_trait(?Send)]
//! impl AuthorizeHandler for MyLogin {
//!     async fn pending(&self, _req: HttpRequest, pending: PendingAuthorization) -> HttpResponse {
//!         // Keep `pending` in your session, then send the user to your login page.
//!         HttpResponse::SeeOther().insert_header(("Location", "/my-login")).finish()
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let store = Arc::new(MemoryStore::new());
//! let issuer = Issuer::new("https://auth.example.com", false).expect("a valid issuer");
//! let policy = ServerPolicy::builder(issuer).build().expect("a valid policy");
//! let server = Arc::new(AuthorizationServer::new(policy, Stores::single(store)));
//! let endpoints = OAuthEndpoints::new(server, Arc::new(MyLogin));
//! HttpServer::new(move || App::new().configure(|cfg| endpoints.configure(cfg)))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! # }
//! ```

mod bearer;
mod convert;
mod endpoints;
mod pool;

pub use bearer::{BearerError, BearerToken};
pub use convert::{log_cause, read_body, respond, source_address, to_oauth_request, upgrade_refusal};
pub use endpoints::{AdapterOptions, AuthorizeHandler, OAuthEndpoints, ScopeError};
pub use oauth_core::{AuthorizationServer, OAuthError, OAuthResponse, PendingAuthorization};
pub use pool::{BlockingPool, QUEUE_PER_THREAD};
