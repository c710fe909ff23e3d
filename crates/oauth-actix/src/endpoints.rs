//! The endpoints and their mounting.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use oauth_core::{AuthorizationServer, AuthorizeError, OAuthError, OAuthResponse, PendingAuthorization};

use crate::convert::{read_body, respond, to_oauth_request};

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
    /// redirect URI): show an error page. The default is a JSON error.
    async fn invalid(&self, req: HttpRequest, status: u16, error: OAuthError) -> HttpResponse {
        let _ = req;
        respond(OAuthResponse::json(status, &error.to_json()))
    }
}

/// Where the endpoints are mounted, and request limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPaths {
    /// Authorization endpoint (GET and POST).
    pub authorize: String,
    /// Token endpoint paths (POST); several paths may serve it.
    pub token: Vec<String>,
    /// Revocation endpoint (POST).
    pub revoke: String,
    /// Introspection endpoint (POST).
    pub introspect: String,
    /// RFC 8414 metadata (GET).
    pub metadata: String,
    /// OpenID Connect UserInfo (GET and POST).
    pub userinfo: String,
    /// JWK Set (GET).
    pub jwks: String,
    /// OpenID Connect Discovery (GET).
    pub openid_configuration: String,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Trust `Forwarded` / `X-Forwarded-Proto` to tell whether the client used TLS.
    pub trust_forwarded_proto: bool,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        let core = oauth_core::policy::EndpointPaths::default();
        Self::from_core(&core)
    }
}

impl EndpointPaths {
    /// The paths of the core policy (so metadata and routes agree), with a
    /// 16 KiB body limit and no forwarded-header trust.
    pub fn from_core(paths: &oauth_core::policy::EndpointPaths) -> Self {
        Self {
            authorize: paths.authorize.clone(),
            token: vec![paths.token.clone()],
            revoke: paths.revoke.clone(),
            introspect: paths.introspect.clone(),
            metadata: "/.well-known/oauth-authorization-server".into(),
            userinfo: paths.userinfo.clone(),
            jwks: paths.jwks.clone(),
            openid_configuration: "/.well-known/openid-configuration".into(),
            body_limit: 16 * 1024,
            trust_forwarded_proto: false,
        }
    }
}

/// The OAuth endpoints of one server, ready to mount.
#[derive(Clone)]
pub struct OAuthEndpoints {
    server: Arc<AuthorizationServer>,
    handler: Arc<dyn AuthorizeHandler>,
    paths: Arc<EndpointPaths>,
}

impl std::fmt::Debug for OAuthEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthEndpoints").field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl OAuthEndpoints {
    /// Endpoints at the paths of the server's policy.
    pub fn new(server: Arc<AuthorizationServer>, handler: Arc<dyn AuthorizeHandler>) -> Self {
        let paths = Arc::new(EndpointPaths::from_core(server.policy().paths()));
        Self { server, handler, paths }
    }

    /// Replaces the paths and limits.
    pub fn with_paths(mut self, paths: EndpointPaths) -> Self {
        self.paths = Arc::new(paths);
        self
    }

    /// The server.
    pub fn server(&self) -> &Arc<AuthorizationServer> {
        &self.server
    }

    /// Mounts every endpoint on `cfg` (an `App` or a `Scope`).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let data = web::Data::new(self.clone());
        let p = &self.paths;
        let get_post = "GET, POST";
        cfg.service(endpoint(&p.authorize, &data, get_post, [web::get().to(authorize), web::post().to(authorize)]));
        for path in &p.token {
            cfg.service(endpoint(path, &data, "POST", [web::post().to(token)]));
        }
        cfg.service(endpoint(&p.revoke, &data, "POST", [web::post().to(revoke)]));
        cfg.service(endpoint(&p.introspect, &data, "POST", [web::post().to(introspect)]));
        cfg.service(endpoint(&p.metadata, &data, "GET", [web::get().to(metadata)]));
        cfg.service(endpoint(&p.userinfo, &data, get_post, [web::get().to(userinfo), web::post().to(userinfo)]));
        cfg.service(endpoint(&p.jwks, &data, "GET", [web::get().to(jwks)]));
        cfg.service(endpoint(&p.openid_configuration, &data, "GET", [web::get().to(openid_configuration)]));
    }

    async fn request(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
    ) -> Result<oauth_core::OAuthRequest, HttpResponse> {
        let body = read_body(payload, self.paths.body_limit).await?;
        Ok(to_oauth_request(req, &body, self.paths.trust_forwarded_proto))
    }
}

/// A resource at `path` answering with `routes`, and `405` with `Allow: allow` otherwise.
fn endpoint(
    path: &str,
    data: &web::Data<OAuthEndpoints>,
    allow: &'static str,
    routes: impl IntoIterator<Item = actix_web::Route>,
) -> actix_web::Resource {
    let mut resource = web::resource(path).app_data(data.clone());
    for route in routes {
        resource = resource.route(route);
    }
    resource.default_service(web::to(move || async move { not_allowed(allow) }))
}

fn not_allowed(allow: &'static str) -> HttpResponse {
    respond(OAuthResponse::method_not_allowed(allow))
}

async fn authorize(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    let oauth_req = match ep.request(&req, payload).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    match ep.server.authorize(&oauth_req).await {
        Ok(pending) => ep.handler.pending(req, pending).await,
        Err(AuthorizeError::Redirect(response)) => respond(response),
        Err(AuthorizeError::Invalid { status, error }) => ep.handler.invalid(req, status, error).await,
    }
}

async fn token(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(ep.server.token(&r).await),
        Err(response) => response,
    }
}

async fn revoke(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(ep.server.revoke(&r).await),
        Err(response) => response,
    }
}

async fn introspect(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(ep.server.introspect(&r).await),
        Err(response) => response,
    }
}

async fn userinfo(req: HttpRequest, payload: web::Payload, ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    match ep.request(&req, payload).await {
        Ok(r) => respond(ep.server.userinfo(&r).await),
        Err(response) => response,
    }
}

/// A public document, or 404 when OpenID Connect is off (no signing keys).
fn document(doc: Option<serde_json::Value>) -> HttpResponse {
    match doc {
        Some(doc) => HttpResponse::Ok().insert_header(("Cache-Control", "max-age=60")).json(doc),
        None => crate::convert::error_json(StatusCode::NOT_FOUND, "invalid_request", "OpenID Connect is not enabled"),
    }
}

async fn jwks(ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    document(ep.server.jwks())
}

async fn openid_configuration(ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    document(ep.server.openid_configuration())
}

async fn metadata(ep: web::Data<OAuthEndpoints>) -> HttpResponse {
    HttpResponse::build(StatusCode::OK).insert_header(("Cache-Control", "max-age=300")).json(ep.server.metadata())
}
