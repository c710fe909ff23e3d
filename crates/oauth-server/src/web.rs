//! The server's own pages and probes: login, consent, the device code entry
//! page (RFC 8628), `/healthz`, `/readyz`, and the glue between the OAuth
//! endpoints and the session.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use oauth_actix::{AdapterOptions, AuthorizeHandler, OAuthEndpoints, respond};
use oauth_core::device::MAX_USER_CODE_INPUT;
use oauth_core::storage::{StorageError, UserStore};
use oauth_core::throttle::Verdict;
use oauth_core::{Approval, AuthorizationServer, AuthorizeError, NextStep, OAuthError, Params, PendingAuthorization};

use crate::audit;
use crate::config::Config;
use crate::pages::Pages;
use crate::session::{FormPurpose, LoggedIn, Session, Sessions};

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
        AdapterOptions {
            body_limit: FORM_LIMIT,
            trust_forwarded_proto: config.server.trust_forwarded_proto,
            // Checked by `Config::assemble`, which runs first.
            trusted_proxies: config.trusted_proxies().unwrap_or_default(),
        }
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

    /// Too many failed logins for this username or from this address.
    fn throttled(
        &self,
        retry_after: u64,
        csrf: &str,
        request: Option<&str>,
        client: Option<&str>,
        username: &str,
    ) -> HttpResponse {
        if let Some(metrics) = &self.metrics {
            metrics.throttled("login");
        }
        let minutes = retry_after.div_ceil(60);
        let message = format!(
            "Too many failed sign-in attempts. Sign-in is paused for this account or network; \
             try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        let mut page = self.pages.login(
            StatusCode::TOO_MANY_REQUESTS,
            &self.login_path,
            csrf,
            request,
            client,
            username,
            Some(&message),
        );
        if let Ok(value) = actix_web::http::header::HeaderValue::try_from(retry_after.max(1).to_string()) {
            page.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
        page
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

    /// `path?request=id`: a page for one waiting request.
    fn for_request(path: &str, request_id: &str) -> String {
        let mut url = String::with_capacity(path.len() + 9 + request_id.len());
        url.push_str(path);
        url.push_str("?request=");
        url.extend(url::form_urlencoded::byte_serialize(request_id.as_bytes()));
        url
    }

    /// The next step of the session's waiting request `request_id`: the
    /// login page (nobody logged in, `prompt=login`, `max_age` passed), the
    /// consent page (no remembered consent covers the scopes, or
    /// `prompt=consent`), or, when neither is needed, the answer to the
    /// client. With `prompt=none`, a needed page becomes `login_required` or
    /// `consent_required` instead. The pages' URLs and forms carry the id.
    async fn proceed(
        &self,
        req: &HttpRequest,
        session: Session,
        request_id: &str,
        on_consent_page: bool,
    ) -> HttpResponse {
        if session.data.device(request_id).is_some() {
            return self.proceed_device(session, request_id, on_consent_page).await;
        }
        let Some(pending) = session.data.request(request_id).map(|r| r.authorization.clone()) else {
            return self.unknown_request();
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
            (NextStep::Approve, Some(user)) => return self.finish(req, session, request_id, Ok(&user)).await,
            (NextStep::Respond(response), _) => return self.finish(req, session, request_id, Err(response)).await,
            (NextStep::Consent, Some(user)) => Some(user),
            _ => None,
        };
        if let Err(e) = self.sessions.save(&session, self.server.now()).await {
            return self.unavailable(&e);
        }
        match consenting {
            Some(user) if on_consent_page => {
                let token = self.sessions.form_token(&session, FormPurpose::Consent(request_id, &pending.scope));
                let page = self.pages.consent(&self.consent_path, &token, request_id, &user.username, &pending);
                self.with_cookie(page, &session)
            }
            Some(_) => self.see_other(&Self::for_request(&self.consent_path, request_id), Some(&session)),
            None => self.see_other(&Self::for_request(&self.login_path, request_id), Some(&session)),
        }
    }

    /// The next step of the session's waiting device authorization
    /// `request_id`: the login page, then always the consent page (a device
    /// is never approved without the user seeing what it asks).
    async fn proceed_device(&self, mut session: Session, request_id: &str, on_consent_page: bool) -> HttpResponse {
        let Some(device) = session.data.device(request_id).cloned() else { return self.unknown_request() };
        let now = self.server.now();
        if device.expires_at <= now {
            session.data.take_device(request_id);
            if let Err(e) = self.sessions.save(&session, now).await {
                return self.unavailable(&e);
            }
            return self.device_gone();
        }
        if let Err(e) = self.sessions.save(&session, now).await {
            return self.unavailable(&e);
        }
        match session.data.user.clone() {
            Some(user) if on_consent_page => {
                let token = self.sessions.form_token(&session, FormPurpose::Consent(request_id, &device.scope));
                let page = self.pages.consent_device(&self.consent_path, &token, request_id, &user.username, &device);
                self.with_cookie(page, &session)
            }
            Some(_) => self.see_other(&Self::for_request(&self.consent_path, request_id), Some(&session)),
            None => self.see_other(&Self::for_request(&self.login_path, request_id), Some(&session)),
        }
    }

    /// A device authorization that expired or was answered meanwhile.
    fn device_gone(&self) -> HttpResponse {
        self.pages.error(
            StatusCode::BAD_REQUEST,
            "Code expired",
            "This device code has expired or was answered already. Start again on your device.",
            Some("expired_token"),
        )
    }

    /// The device page's path (the policy's `verification_uri`).
    fn device_path(&self) -> &str {
        &self.server.policy().paths().device_verification
    }

    /// Uses up the waiting request `request_id` and answers the client: a
    /// code for `Ok(user)`, or the given error response.
    async fn finish(
        &self,
        req: &HttpRequest,
        mut session: Session,
        request_id: &str,
        outcome: Result<&LoggedIn, oauth_core::OAuthResponse>,
    ) -> HttpResponse {
        let Some(pending) = session.data.take_request(request_id) else { return self.unknown_request() };
        if let Err(e) = self.sessions.save(&session, self.server.now()).await {
            return self.unavailable(&e);
        }
        let response = match outcome {
            Err(response) => response,
            Ok(user) => {
                let approval = Approval { subject: user.subject.clone(), scope: None, auth_time: user.auth_time };
                match self.server.approve(&pending, approval).await {
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

    /// A request id that this session does not hold (never sent, answered
    /// already, dropped as the oldest, or the session expired).
    fn unknown_request(&self) -> HttpResponse {
        self.pages.error(
            StatusCode::BAD_REQUEST,
            "Unknown authorization request",
            "This authorization request is unknown, expired or answered already. Start again from the application.",
            Some("invalid_request"),
        )
    }

    /// The consent page without a request: nothing to approve.
    fn nothing_waiting(&self, session: &Session) -> HttpResponse {
        let name = session.data.user.as_ref().map_or("", |u| u.username.as_str());
        self.pages.error(
            StatusCode::OK,
            &format!("Hello, {name}."),
            "No authorization request is waiting for your approval.",
            None,
        )
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
        web::resource(state.device_path())
            .app_data(data.clone())
            .app_data(limit.clone())
            .route(oauth_actix::upgrade_refusal())
            .route(web::get().to(device_page))
            .route(web::post().to(device_submit))
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
        let request_id = session.data.add_request(pending);
        st.proceed(&req, session, &request_id, false).await
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

/// The query of one of the server's pages.
fn query(req: &HttpRequest) -> Params {
    Params::parse(req.query_string())
}

/// The login page, for the waiting request named by `?request=` if any.
/// Nothing is stored: a visitor without a session gets a cookie with a new
/// signed id, and a form token derived from it.
async fn login_page(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let query = query(&req);
    let request_id = field(&query, "request");
    let (client, hint) = match request_id {
        None => (None, None),
        Some(id) => match (session.data.request(id), session.data.device(id)) {
            (Some(r), _) => (Some(r.authorization.client_name.as_str()), r.authorization.login_hint.as_deref()),
            (None, Some(device)) => (Some(device.client_name.as_str()), None),
            (None, None) => return st.unknown_request(),
        },
    };
    let username = session.data.user.as_ref().map(|u| u.username.as_str()).or(hint).unwrap_or("");
    let token = st.sessions.form_token(&session, FormPurpose::Login(request_id));
    let page = st.pages.login(StatusCode::OK, &st.login_path, &token, request_id, client, username, None);
    st.with_cookie(page, &session)
}

async fn login_submit(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let params = form(&body);
    let request_id = field(&params, "request").map(str::to_owned);
    let purpose = FormPurpose::Login(request_id.as_deref());
    if !st.sessions.form_token_ok(&session, purpose, field(&params, "csrf_token")) {
        return st.forged();
    }
    let client = match request_id.as_deref() {
        None => None,
        Some(id) => match (session.data.request(id), session.data.device(id)) {
            (Some(request), _) => Some(request.authorization.client_name.clone()),
            (None, Some(device)) => Some(device.client_name.clone()),
            (None, None) => return st.unknown_request(),
        },
    };
    let username = field(&params, "username").unwrap_or("").to_owned();
    let password = field(&params, "password").unwrap_or("").to_owned();
    let failed = |message: &str| {
        st.pages.login(
            StatusCode::BAD_REQUEST,
            &st.login_path,
            &st.sessions.form_token(&session, purpose),
            request_id.as_deref(),
            client.as_deref(),
            &username,
            Some(message),
        )
    };
    if username.is_empty() || password.is_empty() {
        return failed("Enter your username and password.");
    }
    // Over a limit, the login is refused before the password is looked at,
    // so a correct password during a lockout is not accepted (nor verified).
    let source = oauth_actix::source_address(&req, &st.adapter.trusted_proxies);
    let throttled = |retry_after| {
        let csrf = st.sessions.form_token(&session, purpose);
        st.throttled(retry_after, &csrf, request_id.as_deref(), client.as_deref(), &username)
    };
    match st.server.login_throttle(&username, source).await {
        Ok(Verdict::Allow) => {}
        Ok(Verdict::Throttled { retry_after }) => return throttled(retry_after),
        Err(e) => return st.unavailable(&e),
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
            return match st.server.login_failed(&username, source).await {
                Ok(_) => failed("Invalid username or password."),
                Err(e) => st.unavailable(&e),
            };
        }
        (Err(_), _) => return st.busy(),
    };
    audit::record(&audit::Event::LoginSucceeded { subject: &user.subject, username: &user.username });
    if let Err(e) = st.server.login_succeeded(&username).await {
        return st.unavailable(&e);
    }
    let now = st.server.now();
    let mut session = match st.sessions.renew(session).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    session.data.user = Some(LoggedIn { subject: user.subject, username: user.username, auth_time: now });
    let Some(request_id) = request_id else {
        if let Err(e) = st.sessions.save(&session, now).await {
            return st.unavailable(&e);
        }
        return st.see_other(&st.consent_path, Some(&session));
    };
    if let Some(request) = session.data.request_mut(&request_id) {
        // This login answers this request's prompt=login or max_age (not the other waiting ones').
        request.authorization.note_login();
    }
    st.proceed(&req, session, &request_id, false).await
}

/// The consent page of the waiting request named by `?request=`.
async fn consent_page(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let query = query(&req);
    let request_id = field(&query, "request");
    if session.data.user.is_none() {
        let login = request_id.map_or_else(|| st.login_path.clone(), |id| AppState::for_request(&st.login_path, id));
        return st.see_other(&login, None);
    }
    match request_id {
        Some(id) => st.proceed(&req, session, id, true).await,
        None => st.nothing_waiting(&session),
    }
}

/// The consent form's answer. It approves or denies exactly the waiting
/// request its `request` field names, and only with the scopes its `scope`
/// field says were shown, both bound by its CSRF token: a form shown for
/// one request can never answer another.
async fn consent_submit(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    let mut session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let params = form(&body);
    let Some(request_id) = field(&params, "request").map(str::to_owned) else {
        return st.pages.error(
            StatusCode::BAD_REQUEST,
            "Nothing to approve",
            "The form did not say which authorization request it answers. Start again from the application.",
            Some("invalid_request"),
        );
    };
    if session.data.device(&request_id).is_some() {
        return device_decision(session, &request_id, &params, &st).await;
    }
    let Some(pending) = session.data.request(&request_id).map(|r| r.authorization.clone()) else {
        return st.unknown_request();
    };
    let changed = "The permissions in the form are not the ones of this request. Start again from the application.";
    let (user, approve) = match consent_answer(&st, &session, &request_id, &pending.scope, &params, changed) {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    let now = st.server.now();
    if pending.login_required(Some(user.auth_time), now) {
        return st.see_other(&AppState::for_request(&st.login_path, &request_id), None);
    }
    if !approve {
        // The waiting request is used once, whatever the answer.
        session.data.take_request(&request_id);
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
        // Exactly the scopes the page showed (checked above).
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
    st.finish(&req, session, &request_id, Ok(&user)).await
}

/// The checks every consent form's answer passes, in order, for the waiting
/// request `request_id` whose page showed `scope`: its CSRF token (bound to
/// the request and the scopes), the scopes the form says were shown
/// (`changed` is the page's text when they differ), a signed-in user, and
/// an Approve or Deny. Gives the user and whether they approved, or the
/// page to answer with.
fn consent_answer(
    st: &AppState,
    session: &Session,
    request_id: &str,
    scope: &oauth_core::types::ScopeSet,
    params: &Params,
    changed: &str,
) -> Result<(LoggedIn, bool), HttpResponse> {
    if !st.sessions.form_token_ok(session, FormPurpose::Consent(request_id, scope), field(params, "csrf_token")) {
        return Err(st.forged());
    }
    if field(params, "scope").unwrap_or("") != scope.to_string() {
        return Err(st.pages.error(StatusCode::BAD_REQUEST, "Permissions changed", changed, Some("invalid_request")));
    }
    let Some(user) = session.data.user.clone() else {
        return Err(st.see_other(&AppState::for_request(&st.login_path, request_id), None));
    };
    match field(params, "approval") {
        Some("1") => Ok((user, true)),
        Some("0") => Ok((user, false)),
        _ => Err(st.pages.error(
            StatusCode::BAD_REQUEST,
            "Invalid answer",
            "Choose Approve or Deny.",
            Some("invalid_request"),
        )),
    }
}

/// The consent form's answer for a waiting device authorization: approve
/// or deny it, once, with exactly the scopes shown (bound by the CSRF
/// token), then tell the user to return to the device.
async fn device_decision(mut session: Session, request_id: &str, params: &Params, st: &AppState) -> HttpResponse {
    let Some(device) = session.data.device(request_id).cloned() else { return st.unknown_request() };
    let changed = "The permissions in the form are not the ones the device asked for. Start again on your device.";
    let (user, approve) = match consent_answer(st, &session, request_id, &device.scope, params, changed) {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    // The waiting device authorization is used once, whatever the answer.
    session.data.take_device(request_id);
    let now = st.server.now();
    if let Err(e) = st.sessions.save(&session, now).await {
        return st.unavailable(&e);
    }
    let decided = if approve {
        audit::record(&audit::Event::ConsentGranted {
            subject: &user.subject,
            client: &device.client_id,
            scope: &device.scope,
            remembered: false,
        });
        let approval = Approval { subject: user.subject.clone(), scope: None, auth_time: user.auth_time };
        st.server.approve_device(&device, approval).await
    } else {
        st.server.deny_device(&device).await
    };
    let page = match decided {
        Ok(true) if approve => st.pages.error(
            StatusCode::OK,
            "Device connected",
            &format!(
                "{} is now connected to your account. You can close this page and return to your device.",
                device.client_name
            ),
            None,
        ),
        Ok(true) => st.pages.error(
            StatusCode::OK,
            "Device not connected",
            "You denied the request; the device gets no access. You can close this page and return to your device.",
            None,
        ),
        Ok(false) => st.device_gone(),
        Err(e) => return st.unavailable(&e),
    };
    st.with_cookie(page, &session)
}

/// The device page (RFC 8628 §3.3): a form for the user code, pre-filled
/// from `?user_code=` (`verification_uri_complete`) but always confirmed by
/// the user. Nothing is stored, as for the login page.
async fn device_page(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let query = query(&req);
    let prefill = field(&query, "user_code").filter(|c| c.len() <= MAX_USER_CODE_INPUT).unwrap_or("");
    let token = st.sessions.form_token(&session, FormPurpose::DeviceCode);
    let page = st.pages.device(StatusCode::OK, st.device_path(), &token, prefill, None);
    st.with_cookie(page, &session)
}

/// The user code's answer: throttled per session and per source address
/// (wrong codes count), then the device authorization waits in the session
/// for login and consent like an authorization request.
async fn device_submit(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    let mut session = match st.sessions.load(&req).await {
        Ok(s) => s,
        Err(e) => return st.unavailable(&e),
    };
    let params = form(&body);
    if !st.sessions.form_token_ok(&session, FormPurpose::DeviceCode, field(&params, "csrf_token")) {
        return st.forged();
    }
    let typed = field(&params, "user_code").unwrap_or("");
    let shown = if typed.len() <= MAX_USER_CODE_INPUT { typed } else { "" };
    let again = |status: StatusCode, message: &str| {
        let token = st.sessions.form_token(&session, FormPurpose::DeviceCode);
        st.with_cookie(st.pages.device(status, st.device_path(), &token, shown, Some(message)), &session)
    };
    let source = oauth_actix::source_address(&req, &st.adapter.trusted_proxies);
    let name = st.sessions.throttle_name(&session);
    match st.server.user_code_throttle(&name, source).await {
        Ok(Verdict::Allow) => {}
        Ok(Verdict::Throttled { retry_after }) => {
            if let Some(metrics) = &st.metrics {
                metrics.throttled("device");
            }
            let minutes = retry_after.div_ceil(60);
            let message = format!(
                "Too many wrong codes. Code entry is paused for this browser or network; try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut page = again(StatusCode::TOO_MANY_REQUESTS, &message);
            if let Ok(value) = actix_web::http::header::HeaderValue::try_from(retry_after.max(1).to_string()) {
                page.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return page;
        }
        Err(e) => return st.unavailable(&e),
    }
    let device = match st.server.find_device(typed).await {
        Ok(Some(device)) => device,
        Ok(None) => {
            return match st.server.user_code_failed(&name, source).await {
                Ok(_) => again(
                    StatusCode::BAD_REQUEST,
                    "That code is not valid, or it has expired or been used. Check the code on your device.",
                ),
                Err(e) => st.unavailable(&e),
            };
        }
        Err(e) => return st.unavailable(&e),
    };
    let request_id = session.data.add_device(device);
    st.proceed(&req, session, &request_id, false).await
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
