//! The endpoints and their mounting.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use oauth_core::{AuthorizationServer, AuthorizeError, OAuthError, OAuthResponse, PendingAuthorization};

use crate::convert::{log_cause, read_body, respond, to_oauth_request};

/// What the embedding application does with a validated authorization request.
///
/// The adapter validates the request; the application authenticates the
/// user, asks for consent, and finally calls
/// [`AuthorizationServer::approve`] or [`AuthorizationServer::deny`].
#[async_trait::async_trait(?Send)]
pub trait AuthorizeHandler: Send + Sync + 'static {
    /// A valid request: keep `pending` (for example in the session) and send
    /// the user to login or consent.
    async fn pending(&self, req: HttpRequest, pending: PendingAuthorization) -> HttpResponse;

    /// A request that must not be redirected (unknown client, unregistered
    /// redirect URI, storage failure): show an error page with `status`
    /// (core's [`AuthorizeError::status`]). The default is core's JSON error.
    ///
    /// The error's cause, if any, is already logged.
    async fn invalid(&self, req: HttpRequest, status: u16, error: OAuthError) -> HttpResponse {
        let _ = (req, status);
        crate::convert::convert(AuthorizeError::Invalid(error).into_response())
    }
}

/// Settings of the adapter alone; the paths come from the server's policy
/// ([`oauth_core::policy::EndpointPaths`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterOptions {
    /// Largest accepted request body, in bytes (default 16 KiB); larger ones get `413`.
    pub body_limit: usize,
    /// Trust `Forwarded` / `X-Forwarded-Proto` to tell whether the client used
    /// TLS (default `false`). Set only behind a proxy that sets and strips them.
    pub trust_forwarded_proto: bool,
    /// The proxies whose `Forwarded` / `X-Forwarded-For` say where a request
    /// came from (default none: the connection's peer is the source). See
    /// [`source_address`](crate::source_address).
    pub trusted_proxies: Vec<oauth_core::throttle::IpRange>,
}

impl Default for AdapterOptions {
    fn default() -> Self {
        Self { body_limit: 16 * 1024, trust_forwarded_proto: false, trusted_proxies: Vec::new() }
    }
}

/// An endpoint path of the policy that is not below the scope it should be mounted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeError {
    /// The policy setting (`paths.token`).
    pub field: String,
    /// Its path.
    pub path: String,
    /// The scope's prefix.
    pub prefix: String,
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {:?} is not below the scope {:?}", self.field, self.path, self.prefix)
    }
}

impl std::error::Error for ScopeError {}

/// The OAuth endpoints of one server, ready to mount.
#[derive(Clone)]
pub struct OAuthEndpoints {
    server: Arc<AuthorizationServer>,
    handler: Arc<dyn AuthorizeHandler>,
    options: Arc<AdapterOptions>,
}

impl std::fmt::Debug for OAuthEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthEndpoints")
            .field("paths", self.server.policy().paths())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OAuthEndpoints {
    /// The endpoints at the paths of the server's policy, with default options.
    /// A server without an [`Offload`](oauth_core::offload::Offload) gets
    /// [`BlockingPool::global`](crate::BlockingPool::global).
    pub fn new(server: Arc<AuthorizationServer>, handler: Arc<dyn AuthorizeHandler>) -> Self {
        server.init_offload(|| crate::BlockingPool::global());
        Self { server, handler, options: Arc::new(AdapterOptions::default()) }
    }

    /// Replaces the adapter's options.
    pub fn with_options(mut self, options: AdapterOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// The server.
    pub fn server(&self) -> &Arc<AuthorizationServer> {
        &self.server
    }

    /// Mounts every endpoint at its policy path on `cfg`, which must be the
    /// `App` itself (or a scope at `/`).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        self.mount(cfg, "");
    }

    /// A scope at `prefix` (`/auth`) with every endpoint mounted in it:
    /// `App::new().service(endpoints.scope("/auth")?)`. Every path of the
    /// policy must start with the prefix (build them with
    /// [`EndpointPaths::with_prefix`](oauth_core::policy::EndpointPaths::with_prefix)),
    /// so that routes and metadata agree.
    pub fn scope(&self, prefix: &str) -> Result<actix_web::Scope, ScopeError> {
        let prefix = prefix.trim_end_matches('/');
        for (field, path) in self.server.policy().paths().all() {
            if !path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')) {
                return Err(ScopeError { field, path: path.to_owned(), prefix: prefix.to_owned() });
            }
        }
        let scope = web::scope(prefix);
        let (this, prefix) = (self.clone(), prefix.to_owned());
        Ok(scope.configure(move |cfg| this.mount(cfg, &prefix)))
    }

    /// Mounts the policy's paths with `prefix` removed (it was checked).
    fn mount(&self, cfg: &mut web::ServiceConfig, prefix: &str) {
        let data = web::Data::new(self.clone());
        cfg.app_data(web::Data::new(crate::bearer::TrustForwardedProto(self.options.trust_forwarded_proto)));
        let p = self.server.policy().paths();
        let at = |path: &str| path.strip_prefix(prefix).unwrap_or(path).to_owned();
        let get_post = "GET, POST";
        cfg.service(endpoint(
            &at(&p.authorize),
            &data,
            get_post,
            [web::get().to(authorize), web::post().to(authorize)],
        ));
        for path in p.token_paths() {
            cfg.service(endpoint(&at(path), &data, "POST", [web::post().to(token)]));
        }
        cfg.service(endpoint(&at(&p.revoke), &data, "POST", [web::post().to(revoke)]));
        cfg.service(endpoint(&at(&p.introspect), &data, "POST", [web::post().to(introspect)]));
        cfg.service(endpoint(&at(&p.par), &data, "POST", [web::post().to(par)]));
        cfg.service(endpoint(&at(&p.device_authorization), &data, "POST", [web::post().to(device_authorization)]));
        cfg.service(endpoint(&at(&p.metadata), &data, "GET", [web::get().to(metadata)]));
        cfg.service(endpoint(&at(&p.userinfo), &data, get_post, [web::get().to(userinfo), web::post().to(userinfo)]));
        cfg.service(endpoint(&at(&p.jwks), &data, "GET", [web::get().to(jwks)]));
        cfg.service(endpoint(&at(&p.openid_configuration), &data, "GET", [web::get().to(openid_configuration)]));
    }

    async fn request(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<oauth_core::OAuthRequest, HttpResponse> {
        let body = read_body(payload, self.options.body_limit).await.map_err(|response| respond(req, response))?;
        let mut oauth_req = to_oauth_request(req, &body, self.options.trust_forwarded_proto);
        oauth_req.source = crate::convert::source_address(req, &self.options.trusted_proxies);
        Ok(oauth_req)
    }
}

/// A resource at `path` answering with `routes`, and `405` with `Allow: allow` otherwise.
fn endpoint(
    path: &str,
    data: &web::Data<OAuthEndpoints>,
    allow: &'static str,
    routes: impl IntoIterator<Item = actix_web::Route>,
) -> actix_web::Resource {
    let mut resource = web::resource(path).app_data(data.clone()).route(crate::upgrade_refusal());
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move |req: HttpRequest| async move {
        respond(&req, OAuthResponse::method_not_allowed(allow))
    }))
}

async fn authorize(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    let oauth_req = match ep.request(&req, payload).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let error = match ep.server.authorize(&oauth_req).await {
        Ok(pending) => return ep.handler.pending(req, pending).await,
        Err(error) => error,
    };
    let status = error.status();
    match error {
        AuthorizeError::Invalid(error) => {
            log_cause(&req, status, error.cause.as_ref());
            ep.handler.invalid(req, status, error).await
        }
        other => respond(&req, other.into_response()),
    }
}

async fn token(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.token(&r).await),
        Err(response) => response,
    }
}

async fn revoke(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.revoke(&r).await),
        Err(response) => response,
    }
}

async fn introspect(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.introspect(&r).await),
        Err(response) => response,
    }
}

async fn par(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.par(&r).await),
        Err(response) => response,
    }
}

async fn device_authorization(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.device_authorization(&r).await),
        Err(response) => response,
    }
}

async fn userinfo(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(&req, ep.server.userinfo(&r).await),
        Err(response) => response,
    }
}

async fn jwks(req: HttpRequest, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    respond(&req, ep.server.jwks_response())
}

async fn openid_configuration(req: HttpRequest, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    respond(&req, ep.server.openid_configuration_response())
}

async fn metadata(req: HttpRequest, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    respond(&req, ep.server.metadata_response())
}
