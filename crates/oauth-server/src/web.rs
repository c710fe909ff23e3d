//! The server's own pages and probes: login, consent, `/healthz`, `/readyz`,
//! and the glue between the OAuth endpoints and the session.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use oauth_actix::{AdapterOptions, AuthorizeHandler, OAuthEndpoints, respond};
use oauth_core::storage::{StorageError, UserStore};
use oauth_core::{Approval, AuthorizationServer, AuthorizeError, NextStep, OAuthError, Params, PendingAuthorization};

use crate::audit;
use crate::config::Config;
use crate::pages::Pages;
use crate::session::{LoggedIn, Session, Sessions};

/// Largest accepted form body on the login and consent pages.
const FORM_LIMIT: usize = 16 * 1024;

/// Everything the handlers share.
pub struct AppState {
    /// The protocol engine.
    pub server: Arc<AuthorizationServer>,
    /// Browser sessions.
    pub sessions: Sessions,
    /// Page renderer.
    pub pages: Pages,
    /// Users, for login.
    pub users: Arc<dyn UserStore>,
    /// The OAuth endpoints' options (their paths are the policy's).
    pub adapter: AdapterOptions,
    /// Login page path.
    pub login_path: String,
    /// Consent page path.
    pub consent_path: String,
    /// Metrics, when `/metrics` is on.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Whether every request is logged (`server.access_log`).
    pub access_log: crate::AccessLog,
    /// Headers added to every answer (`Strict-Transport-Security`).
    pub security_headers: crate::SecurityHeaders,
    /// Whether `/metrics` and the probes are served on a separate admin
    /// listener (`server.admin_bind`) instead of this one.
    pub admin_listener: bool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("server", &self.server).field("adapter", &self.adapter).finish_non_exhaustive()
    }
}

impl AppState {
    /// The OAuth endpoints' options for a configuration.
    pub fn adapter_options(config: &Config) -> AdapterOptions {
        AdapterOptions { body_limit: FORM_LIMIT, trust_forwarded_proto: config.server.trust_forwarded_proto }
    }

    fn unavailable(&self, error: &StorageError) -> HttpResponse {
        let cause = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
        tracing::error!(error = %error, cause, "storage unavailable");
        self.unavailable_page()
    }

    fn unavailable_page(&self) -> HttpResponse {
        self.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The server cannot reach its storage. Please try again in a moment.",
            Some("temporarily_unavailable"),
        )
    }

    /// Every thread for Argon2 checks is busy and the queue is full.
    fn busy(&self) -> HttpResponse {
        let mut page = self.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The server is busy. Please try again in a moment.",
            Some("temporarily_unavailable"),
        );
        page.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from_static("1"));
        page
    }

    fn see_other(&self, location: &str, session: Option<&Session>) -> HttpResponse {
        let mut builder = HttpResponse::SeeOther();
        builder.insert_header(("Location", location)).insert_header(("Cache-Control", "no-store"));
        if let Some(session) = session {
            builder.cookie(self.sessions.cookie(session));
        }
        builder.finish()
    }

    fn with_cookie(&self, mut response: HttpResponse, session: &Session) -> HttpResponse {
        if session.fresh {
            // A cookie that cannot be encoded is dropped; the next request starts a new session.
            let _ = response.add_cookie(&self.sessions.cookie(session));
        }
        response
    }

    /// The next step of the session's pending authorization: the login page
    /// (nobody logged in, `prompt=login`, `max_age` passed), the consent page
    /// (no remembered consent covers the scopes, or `prompt=consent`), or,
    /// when neither is needed, the answer to the client. With `prompt=none`,
    /// a needed page becomes `login_required` or `consent_required` instead.
    async fn proceed(&self, req: &HttpRequest, session: Session, on_consent_page: bool) -> HttpResponse {
        let Some(pending) = session.data.pending.clone() else {
            let name = session.data.user.as_ref().map_or("", |u| u.username.as_str());
            return self.pages.error(
                StatusCode::OK,
                &format!("Hello, {name}."),
                "No authorization request is waiting for your approval.",
                None,
            );
        };
        let user = session.data.user.clone();
        let remembered = match &user {
            Some(user) => match self.server.stores().consents.get_consent(&user.subject, &pending.client_id).await {
                Ok(r) => r,
                Err(e) => return self.unavailable(&e),
            },
            None => None,
        };
        let step = self.server.next_step(&pending, user.as_ref().map(|u| u.auth_time), remembered.as_ref());
        // The user who must consent, or `None` when the login page comes first.
        let consenting = match (step, user) {
            (NextStep::Approve, Some(user)) => return self.finish(req, session, &pending, Ok(&user)).await,
            (NextStep::Respond(response), _) => return self.finish(req, session, &pending, Err(response)).await,
            (NextStep::Consent, Some(user)) => Some(user),
            _ => None,
        };
        if let Err(e) = self.sessions.save(&session, self.server.now()).await {
            return self.unavailable(&e);
        }
        match consenting {
            Some(user) if on_consent_page => {
                let page = self.pages.consent(&self.consent_path, &session.data.csrf, &user.username, &pending);
                self.with_cookie(page, &session)
            }
            Some(_) => self.see_other(&self.consent_path, Some(&session)),
            None => self.see_other(&self.login_path, Some(&session)),
        }
    }

    /// Uses up the pending authorization and answers the client: a code for
    /// `Ok(user)`, or the given error response.
    async fn finish(
        &self,
        req: &HttpRequest,
        mut session: Session,
        pending: &PendingAuthorization,
        outcome: Result<&LoggedIn, oauth_core::OAuthResponse>,
    ) -> HttpResponse {
        session.data.pending = None;
        if let Err(e) = self.sessions.save(&session, self.server.now()).await {
            return self.unavailable(&e);
        }
        let response = match outcome {
            Err(response) => response,
            Ok(user) => {
                let approval = Approval { subject: user.subject.clone(), scope: None, auth_time: user.auth_time };
                match self.server.approve(pending, approval).await {
                    Ok(response) => response,
                    Err(error) => match (error.status(), error) {
                        (status, AuthorizeError::Invalid(error)) => {
                            oauth_actix::log_cause(req, status, error.cause.as_ref());
                            return self.invalid_page(status, &error);
                        }
                        (_, other) => other.into_response(),
                    },
                }
            }
        };
        self.with_cookie(respond(req, response), &session)
    }

    /// The page for a request that must not be redirected (unknown client,
    /// unregistered redirect URI), or for a storage failure. `status` is
    /// core's; the error's cause, if any, is logged already.
    fn invalid_page(&self, status: u16, error: &OAuthError) -> HttpResponse {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return self.unavailable_page();
        }
        let message = error.description.as_deref().unwrap_or("The authorization request is invalid.");
        self.pages.error(status, "This authorization request cannot be processed", message, Some(error.code.as_str()))
    }

    fn forged(&self) -> HttpResponse {
        self.pages.error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form expired or did not come from this site. Go back, reload the page and try again.",
            Some("csrf"),
        )
    }
}

/// Mounts the OAuth endpoints, login, consent and, unless they have their
/// own listener ([`configure_admin`]), the metrics and probes.
pub fn configure(state: &Arc<AppState>, cfg: &mut web::ServiceConfig) {
    let endpoints = OAuthEndpoints::new(state.server.clone(), Arc::new(SessionAuthorize(state.clone())))
        .with_options(state.adapter.clone());
    endpoints.configure(cfg);
    // Resource handlers in the same app can take `oauth_actix::BearerToken`.
    cfg.app_data(web::Data::from(state.server.clone()));
    cfg.app_data(web::Data::new(state.access_log));
    cfg.app_data(web::Data::new(state.security_headers.clone()));
    let data = web::Data::from(state.clone());
    let limit = web::PayloadConfig::new(FORM_LIMIT);
    cfg.service(
        web::resource(state.login_path.as_str())
            .app_data(data.clone())
            .app_data(limit.clone())
            .route(oauth_actix::upgrade_refusal())
            .route(web::get().to(login_page))
            .route(web::post().to(login_submit))
            .default_service(web::to(|req: HttpRequest| async move { method_not_allowed(&req, "GET, POST") })),
    );
    cfg.service(
        web::resource(state.consent_path.as_str())
            .app_data(data.clone())
            .app_data(limit)
            .route(oauth_actix::upgrade_refusal())
            .route(web::get().to(consent_page))
            .route(web::post().to(consent_submit))
            .default_service(web::to(|req: HttpRequest| async move { method_not_allowed(&req, "GET, POST") })),
    );
    if let Some(metrics) = &state.metrics {
        // The access-log middleware counts every request of this listener.
        cfg.app_data(web::Data::from(metrics.clone()));
    }
    if !state.admin_listener {
        configure_admin(state, cfg);
    }
}

/// Mounts `/metrics` (when on), `/healthz` and `/readyz`: on the public
/// listener by default, or alone on the admin listener (`server.admin_bind`).
pub fn configure_admin(state: &Arc<AppState>, cfg: &mut web::ServiceConfig) {
    if let Some(metrics) = &state.metrics {
        let metrics = web::Data::from(metrics.clone());
        cfg.service(web::resource("/metrics").app_data(metrics).route(web::get().to(render_metrics)));
    }
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)));
    cfg.service(web::resource("/readyz").app_data(web::Data::from(state.clone())).route(web::get().to(readyz)));
}

fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    respond(req, oauth_core::OAuthResponse::method_not_allowed(allow))
}

/// Keeps the pending authorization in the session and sends the user on.
struct SessionAuthorize(Arc<AppState>);

#[async_trait::async_trait(?Send)]
impl AuthorizeHandler for SessionAuthorize {
    async fn pending(&self, req: HttpRequest, pending: PendingAuthorization) -> HttpResponse {
        let st = &self.0;
        let mut session = match st.sessions.load(&req).await {
            Ok(s) => s,
            Err(e) => return st.unavailable(&e),
        };
        session.data.pending = Some(pending);
        st.proceed(&req, session, false).await
    }

    async fn invalid(&self, _req: HttpRequest, status: u16, error: OAuthError) -> HttpResponse {
        self.0.invalid_page(status, &error)
    }
}

fn form(body: &[u8]) -> Params {
    Params::parse_bytes(body)
}

/// A single form field; a repeated or empty field counts as absent.
fn field<'a>(params: &'a Params, name: &'static str) -> Option<&'a str> {
    params.get(name).ok().flatten()
}

async fn login_page(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    if session.fresh {
        if let Err(e) = st.sessions.save(&session, st.server.now()).await {
            return st.unavailable(&e);
        }
    }
    let client = session.data.pending.as_ref().map(|p| p.client_name.as_str());
    let hint = session.data.pending.as_ref().and_then(|p| p.login_hint.as_deref());
    let username = session.data.user.as_ref().map(|u| u.username.as_str()).or(hint).unwrap_or("");
    let page = st.pages.login(StatusCode::OK, &st.login_path, &session.data.csrf, client, username, None);
    st.with_cookie(page, &session)
}

async fn login_submit(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let params = form(&body);
    if !session.data.csrf_ok(field(&params, "csrf_token")) {
        return st.forged();
    }
    let client = session.data.pending.as_ref().map(|p| p.client_name.clone());
    let username = field(&params, "username").unwrap_or("").to_owned();
    let password = field(&params, "password").unwrap_or("").to_owned();
    let failed = |message: &str| {
        st.pages.login(
            StatusCode::BAD_REQUEST,
            &st.login_path,
            &session.data.csrf,
            client.as_deref(),
            &username,
            Some(message),
        )
    };
    if username.is_empty() || password.is_empty() {
        return failed("Enter your username and password.");
    }
    let user = match st.users.find_user(&username).await {
        Ok(u) => u,
        Err(e) => return st.unavailable(&e),
    };
    // Argon2 takes tens of milliseconds: it runs on the server's bounded pool.
    let check = oauth_core::user::password_check(user.as_ref(), &password);
    let user = match (st.server.run_offloaded(check).await, user) {
        (Ok(true), Some(user)) => user,
        (Ok(_), user) => {
            audit::record(&audit::Event::LoginFailed { user: user.as_ref().map(|u| &u.subject) });
            return failed("Invalid username or password.");
        }
        (Err(_), _) => return st.busy(),
    };
    audit::record(&audit::Event::LoginSucceeded { subject: &user.subject, username: &user.username });
    let now = st.server.now();
    let mut session = match st.sessions.renew(session).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    session.data.user = Some(LoggedIn { subject: user.subject, username: user.username, auth_time: now });
    if let Some(pending) = session.data.pending.as_mut() {
        // This login answers the waiting request's prompt=login or max_age.
        pending.note_login();
    }
    if session.data.pending.is_none() {
        if let Err(e) = st.sessions.save(&session, now).await {
            return st.unavailable(&e);
        }
        return st.see_other(&st.consent_path, Some(&session));
    }
    st.proceed(&req, session, false).await
}

async fn consent_page(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    if session.data.user.is_none() {
        return st.see_other(&st.login_path, None);
    }
    st.proceed(&req, session, true).await
}

async fn consent_submit(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    let mut session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let params = form(&body);
    if !session.data.csrf_ok(field(&params, "csrf_token")) {
        return st.forged();
    }
    let Some(user) = session.data.user.clone() else { return st.see_other(&st.login_path, None) };
    let Some(pending) = session.data.pending.clone() else {
        return st.pages.error(
            StatusCode::BAD_REQUEST,
            "Nothing to approve",
            "No authorization request is waiting. Start again from the application.",
            Some("invalid_request"),
        );
    };
    let approve = match field(&params, "approval") {
        Some("1") => true,
        Some("0") => false,
        _ => {
            return st.pages.error(
                StatusCode::BAD_REQUEST,
                "Invalid answer",
                "Choose Approve or Deny.",
                Some("invalid_request"),
            );
        }
    };
    let now = st.server.now();
    if pending.login_required(Some(user.auth_time), now) {
        return st.see_other(&st.login_path, None);
    }
    if !approve {
        // The pending authorization is used once, whatever the answer.
        session.data.pending = None;
        if let Err(e) = st.sessions.save(&session, now).await {
            return st.unavailable(&e);
        }
        return respond(&req, st.server.deny(&pending));
    }
    let remember = field(&params, "remember") == Some("1");
    audit::record(&audit::Event::ConsentGranted {
        subject: &user.subject,
        client: &pending.client_id,
        scope: &pending.scope,
        remembered: remember,
    });
    if remember {
        let expires_at = now.saturating_add(st.server.policy().consent_lifetime());
        let stored = st
            .server
            .stores()
            .consents
            .put_consent(&user.subject, &pending.client_id, &pending.scope, expires_at)
            .await;
        if let Err(e) = stored {
            return st.unavailable(&e);
        }
    }
    st.finish(&req, session, &pending, Ok(&user)).await
}

async fn render_metrics(metrics: web::Data<crate::metrics::Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(st: web::Data<AppState>) -> HttpResponse {
    match st.sessions.store().ping().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "store not ready");
            HttpResponse::ServiceUnavailable().content_type("text/plain").body("storage unavailable")
        }
    }
}
