//! The authorization endpoint ([RFC 6749 §4.1.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1),
//! RFC 7636, RFC 9207), split around login and consent.

use std::sync::Arc;

use super::{AuthorizationServer, storage_error};
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::oidc::Prompt;
use crate::pkce;
use crate::request::{Method, OAuthRequest, Params};
use crate::response::OAuthResponse;
use crate::storage::{CodeRecord, GrantRecord};
use crate::types::{
    AuthorizationCode, ClientId, CodeChallengeMethod, GrantType, Nonce, RedirectUri, ResponseMode, ResponseType,
    ScopeSet, State, Subject,
};

/// A validated authorization request waiting for login and consent.
///
/// Serializable so that the application can keep it in a session between
/// the login and consent pages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingAuthorization {
    /// The verified client.
    pub client_id: ClientId,
    /// Name of the client, for the consent page.
    pub client_name: String,
    /// The verified redirect URI.
    pub redirect_uri: RedirectUri,
    /// Whether the request carried `redirect_uri` explicitly.
    pub redirect_uri_sent: bool,
    /// `code` or `token`.
    pub response_type: ResponseType,
    /// How the response is delivered.
    pub response_mode: ResponseMode,
    /// The requested scope (after defaults).
    pub scope: ScopeSet,
    /// The client's `state`.
    pub state: Option<State>,
    /// OpenID Connect `nonce`.
    pub nonce: Option<Nonce>,
    /// PKCE challenge and method.
    pub code_challenge: Option<(String, CodeChallengeMethod)>,
    /// OpenID Connect `prompt`.
    #[serde(default)]
    pub prompt: Prompt,
    /// OpenID Connect `max_age`: the longest time since the user's login, in seconds.
    #[serde(default)]
    pub max_age: Option<u64>,
    /// OpenID Connect `login_hint`, to prefill the login form.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// When the request was validated (Unix seconds).
    #[serde(default)]
    pub created_at: u64,
    /// The user logged in to answer this request (see [`note_login`](Self::note_login)).
    #[serde(default)]
    pub logged_in: bool,
    /// `dpop_jkt` (RFC 9449 §10): the code is bound to this DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl PendingAuthorization {
    /// True when the request asks for OpenID Connect (`openid` scope).
    pub fn is_openid(&self) -> bool {
        self.scope.contains("openid")
    }

    /// Records that the user just logged in to answer this request. That
    /// login satisfies `prompt=login` and `max_age` for this request, however
    /// long the user then takes on the consent page; a login that merely
    /// happened in the same second as the request does not.
    pub fn note_login(&mut self) {
        self.logged_in = true;
    }

    /// Whether the user must log in (again) before this request can be
    /// answered: nobody is logged in, or, unless the user logged in for this
    /// request ([`note_login`](Self::note_login)), `prompt=login` was sent or
    /// the login is older than `max_age`.
    pub fn login_required(&self, auth_time: Option<u64>, now: u64) -> bool {
        let Some(auth_time) = auth_time else { return true };
        !self.logged_in && (self.prompt.login || self.max_age.is_some_and(|max| now.saturating_sub(auth_time) > max))
    }

    /// Whether the consent page must be shown: `prompt=consent`, or the
    /// remembered consent (if any) does not cover the requested scopes.
    pub fn consent_required(&self, remembered: Option<&ScopeSet>) -> bool {
        self.prompt.consent || !remembered.is_some_and(|r| self.scope.is_subset(r))
    }
}

/// What the application does next with a pending authorization
/// ([`AuthorizationServer::next_step`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Show the login page (nobody logged in, `prompt=login`, or `max_age` passed).
    Login,
    /// Show the consent page (no remembered consent covers the scopes, or `prompt=consent`).
    Consent,
    /// Neither page is needed: call [`AuthorizationServer::approve`].
    Approve,
    /// `prompt=none` but a page would be needed: send this error redirect
    /// (`login_required` or `consent_required`) without showing anything.
    Respond(OAuthResponse),
}

/// The resource owner's decision to approve, as the application reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Who approved.
    pub subject: Subject,
    /// The scopes granted; `None` grants everything requested. Scopes that
    /// were not requested are dropped.
    pub scope: Option<ScopeSet>,
    /// When the user authenticated (Unix seconds).
    pub auth_time: u64,
}

/// Why an authorization request cannot proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// The client or the redirect URI is unknown, or the request cannot be
    /// read: show this to the user and never redirect (RFC 6749 §4.1.2.1).
    /// The page's status is [`AuthorizeError::status`].
    Invalid(OAuthError),
    /// The request used neither GET nor POST: answer
    /// [`into_response`](AuthorizeError::into_response) (`405` with `Allow`).
    MethodNotAllowed,
    /// The error is reported to the client: send this redirect.
    Redirect(OAuthResponse),
}

impl AuthorizeError {
    /// The HTTP status of the answer.
    ///
    /// For [`Invalid`](Self::Invalid) it comes from the error code, except
    /// that an unknown client is `400`, not `401`: nothing authenticates the
    /// client at this endpoint, so there is no challenge to send.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(error) if error.code == ErrorCode::InvalidClient => 400,
            Self::Invalid(error) => error.status(),
            Self::MethodNotAllowed => 405,
            Self::Redirect(response) => response.status,
        }
    }

    /// The response to send when the application has no error page of its own:
    /// the redirect, the `405`, or a JSON error (with its cause, for the log).
    pub fn into_response(self) -> OAuthResponse {
        let status = self.status();
        match self {
            Self::Redirect(response) => response,
            Self::MethodNotAllowed => OAuthResponse::method_not_allowed("GET, POST"),
            Self::Invalid(error) => {
                let mut response = OAuthResponse::from(error);
                response.status = status;
                response
            }
        }
    }
}

/// The fixed description of a parameter over its length limit.
fn too_long(name: &str) -> &'static str {
    match name {
        "nonce" => "The nonce parameter is too long",
        "login_hint" => "The login_hint parameter is too long",
        _ => "The scope parameter is too long",
    }
}

fn invalid(error: OAuthError) -> AuthorizeError {
    AuthorizeError::Invalid(error)
}

/// Where and how errors are reported once the redirect URI is verified.
struct Target<'a> {
    server: &'a AuthorizationServer,
    redirect_uri: RedirectUri,
    mode: ResponseMode,
    state: Option<String>,
    /// A pushed request (RFC 9126 §2.3): errors are answered directly to the
    /// client in the back channel, never redirected.
    direct: bool,
}

impl Target<'_> {
    fn error(&self, error: OAuthError) -> AuthorizeError {
        if self.direct {
            return AuthorizeError::Invalid(error);
        }
        AuthorizeError::Redirect(self.server.redirect_error(
            &self.redirect_uri,
            &self.mode,
            self.state.as_deref(),
            &error,
        ))
    }
}

impl AuthorizationServer {
    /// Validates an authorization request (RFC 6749 §4.1.1, §4.2.1; RFC 7636 §4.3).
    ///
    /// The client and redirect URI are checked first; until both are verified
    /// every error is [`AuthorizeError::Invalid`]. After that, errors are
    /// redirected to the client with `error`, `error_description`, `state` and `iss`.
    pub async fn authorize(&self, req: &OAuthRequest) -> Result<PendingAuthorization, AuthorizeError> {
        let result = self.authorize_inner(req).await;
        match &result {
            Err(AuthorizeError::Invalid(error)) => self.observe_error("authorize", &error.code),
            Err(AuthorizeError::MethodNotAllowed) => self.observe_error("authorize", &ErrorCode::InvalidRequest),
            _ => {}
        }
        result
    }

    async fn authorize_inner(&self, req: &OAuthRequest) -> Result<PendingAuthorization, AuthorizeError> {
        let params = match &req.method {
            Method::Get => &req.query,
            Method::Post if req.is_form() => &req.form,
            Method::Post => {
                return Err(invalid(OAuthError::invalid_request("The body must be application/x-www-form-urlencoded")));
            }
            Method::Other(_) => return Err(AuthorizeError::MethodNotAllowed),
        };
        if !req.secure && !self.policy.allow_insecure_transport() {
            return Err(invalid(OAuthError::invalid_request("The authorization endpoint requires TLS")));
        }
        // A request_uri of ours names a pushed request; any other is a
        // request object by reference, refused by the validation below.
        if params.get("request_uri").map_err(invalid)?.is_some_and(|uri| uri.starts_with(super::REQUEST_URI_PREFIX)) {
            return self.pushed_request(params).await;
        }
        self.validate_request(params, None).await
    }

    /// Validates the parameters of an authorization request: the one
    /// validation of the authorization endpoint and of the PAR endpoint
    /// (RFC 9126 §2.1), where `pushed_by` is the client that authenticated.
    /// A pushed request's errors are all [`AuthorizeError::Invalid`] (answered
    /// in the back channel), and the requirement to push does not apply.
    pub(super) async fn validate_request(
        &self,
        params: &Params,
        pushed_by: Option<Arc<Client>>,
    ) -> Result<PendingAuthorization, AuthorizeError> {
        let limits = self.policy.request_limits();
        if params.decoded_len() > limits.query {
            return Err(invalid(OAuthError::invalid_request("The authorization request is too long")));
        }
        let direct = pushed_by.is_some();
        let (client, redirect_uri, redirect_uri_sent) = self.verify_client_and_redirect(params, pushed_by).await?;

        // From here on, the redirect URI is verified: errors go to the client.
        let response_type = params.get("response_type").ok().flatten().map(ResponseType::parse);
        let default_mode =
            if response_type == Some(ResponseType::Token) { ResponseMode::Fragment } else { ResponseMode::Query };
        let mut target = Target { server: self, redirect_uri, mode: default_mode, state: None, direct };
        let state = params.get("state").map_err(|e| target.error(e))?;
        if state.is_some_and(|s| s.len() > limits.state) {
            // Not echoed: the error carries no state rather than an over-long one.
            return Err(target.error(OAuthError::invalid_request("The state parameter is too long")));
        }
        target.state = state.map(str::to_owned);
        for (name, limit) in [("nonce", limits.nonce), ("login_hint", limits.login_hint), ("scope", limits.scope)] {
            if params.get(name).map_err(|e| target.error(e))?.is_some_and(|v| v.len() > limit) {
                return Err(target.error(OAuthError::invalid_request(too_long(name))));
            }
        }
        if let Some(mode) = params.get("response_mode").map_err(|e| target.error(e))? {
            target.mode = match ResponseMode::parse(mode) {
                ResponseMode::Query if response_type == Some(ResponseType::Token) => {
                    return Err(target.error(OAuthError::invalid_request(
                        "response_mode=query is not allowed for tokens in the front channel",
                    )));
                }
                m @ (ResponseMode::Query | ResponseMode::Fragment | ResponseMode::FormPost) => m,
                _ => return Err(target.error(OAuthError::invalid_request("Unsupported response_mode"))),
            };
        }
        if let Some(name) = params.first_duplicate() {
            return Err(target.error(crate::request::repeated_parameter(name)));
        }
        if !direct
            && (self.policy.require_pushed_authorization_requests()
                || client.require_pushed_authorization_requests
                || self.fapi2(&client))
        {
            return Err(target.error(OAuthError::invalid_request(
                "This client must push its authorization requests (RFC 9126): send request_uri",
            )));
        }

        let Some(response_type) = response_type else {
            return Err(target.error(OAuthError::invalid_request("The response_type parameter is missing")));
        };
        let allowed = match response_type {
            ResponseType::Code => client.grant_types.contains(&GrantType::AuthorizationCode),
            ResponseType::Token => self.policy.allow_implicit() && !self.fapi2(&client),
            _ => false,
        };
        if !allowed || !client.response_types.contains(&response_type) {
            return Err(target.error(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "The response_type is not supported for this client",
            )));
        }

        let scope = self.requested_scope(params, &client).map_err(|e| target.error(e))?;
        let code_challenge = if response_type == ResponseType::Code {
            self.pkce_challenge(params, &client).map_err(|e| target.error(e))?
        } else {
            None
        };
        let nonce = params.get("nonce").map_err(|e| target.error(e))?.map(Nonce::new);
        let oidc = self.oidc_params(params).map_err(|e| target.error(e))?;
        let dpop_jkt = params.get("dpop_jkt").map_err(|e| target.error(e))?;
        // A SHA-256 thumbprint is 43 base64url characters (RFC 7638).
        if dpop_jkt.is_some_and(|jkt| {
            jkt.len() != 43 || !jkt.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err(target.error(OAuthError::invalid_request("The dpop_jkt parameter is malformed")));
        }
        if dpop_jkt.is_some() && response_type != ResponseType::Code {
            return Err(target.error(OAuthError::invalid_request("dpop_jkt binds authorization codes only")));
        }

        Ok(PendingAuthorization {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            redirect_uri: target.redirect_uri,
            redirect_uri_sent,
            response_type,
            response_mode: target.mode,
            scope,
            state: target.state.map(State::new),
            nonce,
            code_challenge,
            prompt: oidc.0,
            max_age: oidc.1,
            login_hint: oidc.2,
            created_at: self.clock.now(),
            logged_in: false,
            dpop_jkt: dpop_jkt.map(str::to_owned),
        })
    }

    /// `prompt`, `max_age` and `login_hint`; request objects are refused.
    fn oidc_params(&self, params: &Params) -> Result<(Prompt, Option<u64>, Option<String>), OAuthError> {
        if params.get("request")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::Extension("request_not_supported".into()),
                "Request objects are not supported",
            ));
        }
        if params.get("request_uri")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::Extension("request_uri_not_supported".into()),
                "request_uri is not supported",
            ));
        }
        let prompt = match params.get("prompt")? {
            Some(p) => Prompt::parse(p).map_err(OAuthError::invalid_request)?,
            None => Prompt::default(),
        };
        let max_age = match params.get("max_age")? {
            Some(m) => {
                Some(m.parse::<u64>().map_err(|_| OAuthError::invalid_request("max_age must be a number of seconds"))?)
            }
            None => None,
        };
        Ok((prompt, max_age, params.get("login_hint")?.map(str::to_owned)))
    }

    /// The client (`pushed_by`, the authenticated client of a pushed
    /// request, whose `client_id` parameter must then be its own) and the
    /// redirect URI.
    async fn verify_client_and_redirect(
        &self,
        params: &Params,
        pushed_by: Option<Arc<Client>>,
    ) -> Result<(Arc<Client>, RedirectUri, bool), AuthorizeError> {
        let client_id = params.get("client_id").map_err(invalid)?;
        let client = match pushed_by {
            Some(client) => {
                if client_id.is_some_and(|id| id != client.id.as_str()) {
                    return Err(invalid(OAuthError::invalid_request(
                        "The client_id parameter is not the authenticated client",
                    )));
                }
                client
            }
            None => {
                let client_id = client_id
                    .ok_or_else(|| invalid(OAuthError::invalid_request("The client_id parameter is missing")))?;
                self.stores
                    .clients
                    .get_client(&ClientId::new(client_id))
                    .await
                    .map_err(|e| invalid(storage_error(e)))?
                    .ok_or_else(|| invalid(OAuthError::invalid_client("Unknown client")))?
            }
        };
        let sent = params.get("redirect_uri").map_err(invalid)?;
        let redirect_uri = match sent {
            Some(uri) => client.redirect_uris.iter().find_map(|r| r.matching(uri)).ok_or_else(|| {
                invalid(OAuthError::invalid_request("The redirect_uri is not registered for this client"))
            })?,
            None => match client.redirect_uris.as_slice() {
                [only] => only.clone(),
                _ => return Err(invalid(OAuthError::invalid_request("The redirect_uri parameter is missing"))),
            },
        };
        Ok((client, redirect_uri, sent.is_some()))
    }

    /// Parses `scope`, applying the client's default and checking the client's allowed scopes.
    /// The `scope` parameter checked against what `client` may request, or
    /// the client's default scopes when it is absent (RFC 6749 §3.3).
    pub fn requested_scope(&self, params: &Params, client: &Client) -> Result<ScopeSet, OAuthError> {
        match params.get("scope")? {
            None => Ok(client.default_scopes.clone()),
            Some(raw) => {
                let scope = ScopeSet::parse(raw).map_err(|_| OAuthError::invalid_scope("The scope is malformed"))?;
                if scope.is_subset(&client.scopes) {
                    Ok(scope)
                } else {
                    Err(OAuthError::invalid_scope("The requested scope exceeds what the client may request"))
                }
            }
        }
    }

    fn pkce_challenge(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<Option<(String, CodeChallengeMethod)>, OAuthError> {
        let challenge = params.get("code_challenge")?;
        let method = params.get("code_challenge_method")?;
        let Some(challenge) = challenge else {
            if method.is_some() {
                return Err(OAuthError::invalid_request("code_challenge_method was sent without code_challenge"));
            }
            if client.pkce_required() || self.policy.require_pkce() || self.fapi2(client) {
                return Err(OAuthError::invalid_request("PKCE is required: send code_challenge with S256"));
            }
            return Ok(None);
        };
        // RFC 7636 §4.3: a missing method means plain.
        let method = CodeChallengeMethod::parse(method.unwrap_or("plain"));
        match method {
            CodeChallengeMethod::S256 => {}
            CodeChallengeMethod::Plain if self.policy.allow_plain_pkce() && !self.fapi2(client) => {}
            _ => return Err(OAuthError::invalid_request("code_challenge_method must be S256")),
        }
        if !pkce::is_valid_challenge(challenge, &method) {
            return Err(OAuthError::invalid_request("The code_challenge is malformed"));
        }
        Ok(Some((challenge.to_owned(), method)))
    }

    /// Decides the next step of a pending authorization (OpenID Connect Core
    /// §3.1.2.3, §3.1.2.4): the login page, the consent page, approval, or,
    /// with `prompt=none`, the error that replaces a page.
    ///
    /// `auth_time` is when the current user logged in (`None`: nobody is);
    /// `remembered` is the consent that user remembered for this client.
    pub fn next_step(
        &self,
        pending: &PendingAuthorization,
        auth_time: Option<u64>,
        remembered: Option<&ScopeSet>,
    ) -> NextStep {
        let (needed, code, description) = if pending.login_required(auth_time, self.clock.now()) {
            (NextStep::Login, ErrorCode::LoginRequired, "The user must log in and prompt=none")
        } else if pending.consent_required(remembered) {
            (NextStep::Consent, ErrorCode::ConsentRequired, "The user must consent and prompt=none")
        } else {
            return NextStep::Approve;
        };
        if pending.prompt.none {
            NextStep::Respond(self.authorization_error(pending, &OAuthError::new(code, description)))
        } else {
            needed
        }
    }

    /// An error redirect for a pending authorization (for example `login_required`).
    pub fn authorization_error(&self, pending: &PendingAuthorization, error: &OAuthError) -> OAuthResponse {
        self.redirect_error(
            &pending.redirect_uri,
            &pending.response_mode,
            pending.state.as_ref().map(State::as_str),
            error,
        )
    }

    fn redirect_error(
        &self,
        uri: &RedirectUri,
        mode: &ResponseMode,
        state: Option<&str>,
        error: &OAuthError,
    ) -> OAuthResponse {
        self.observe_error("authorize", &error.code);
        let mut params: Vec<(&str, &str)> = vec![("error", error.code.as_str())];
        if let Some(d) = &error.description {
            params.push(("error_description", d));
        }
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", self.policy.issuer().as_str()));
        let mut response = OAuthResponse::authorization_redirect(uri, mode, &params);
        response.cause = error.cause.clone();
        response
    }

    /// The resource owner denied the request: `access_denied` with `state` (RFC 6749 §4.1.2.1).
    pub fn deny(&self, pending: &PendingAuthorization) -> OAuthResponse {
        self.authorization_error(
            pending,
            &OAuthError::new(ErrorCode::AccessDenied, "The resource owner denied the request"),
        )
    }

    /// The resource owner approved: issue the code (or, for the implicit
    /// grant, the access token) and redirect to the client.
    ///
    /// The client is looked up again, so a client deleted meanwhile gets nothing.
    pub async fn approve(
        &self,
        pending: &PendingAuthorization,
        approval: Approval,
    ) -> Result<OAuthResponse, AuthorizeError> {
        let client = self
            .stores
            .clients
            .get_client(&pending.client_id)
            .await
            .map_err(|e| invalid(storage_error(e)))?
            .ok_or_else(|| invalid(OAuthError::invalid_client("Unknown client")))?;
        let scope: ScopeSet = match approval.scope {
            Some(granted) => granted.iter().filter(|s| pending.scope.contains(s.as_str())).cloned().collect(),
            None => pending.scope.clone(),
        };
        let now = self.clock.now();
        let state = pending.state.as_ref().map(State::as_str);
        let iss = self.policy.issuer().as_str();
        let scope_string = scope.to_string();

        if pending.response_type == ResponseType::Token {
            let grant = GrantRecord {
                id: self.new_grant_id(),
                client_id: client.id.clone(),
                subject: Some(approval.subject),
                scope: scope.clone(),
                issued_at: now,
                expires_at: now.saturating_add(self.policy.access_token_lifetime()),
                auth_time: Some(approval.auth_time),
            };
            let (access, _, tokens) = match self.mint(&client, &grant, &scope, None, None) {
                Ok(minted) => minted,
                Err(error) => return Ok(self.authorization_error(pending, &error)),
            };
            match self.stores.tokens.create_grant(&grant, &tokens).await {
                Ok(true) => {}
                // A fresh grant id is refused only when its client was deleted meanwhile.
                Ok(false) => {
                    let error = OAuthError::new(ErrorCode::AccessDenied, "The client's grants were revoked");
                    return Ok(self.authorization_error(pending, &error));
                }
                Err(e) => return Ok(self.authorization_error(pending, &storage_error(e))),
            }
            let expires_in = self.policy.access_token_lifetime().to_string();
            let mut params =
                vec![("access_token", access.secret()), ("token_type", "Bearer"), ("expires_in", expires_in.as_str())];
            if !scope.is_empty() {
                params.push(("scope", &scope_string));
            }
            if let Some(state) = state {
                params.push(("state", state));
            }
            params.push(("iss", iss));
            return Ok(OAuthResponse::authorization_redirect(&pending.redirect_uri, &pending.response_mode, &params));
        }

        let code = AuthorizationCode::new(self.generator.token());
        let record = CodeRecord {
            grant_id: self.new_grant_id(),
            client_id: client.id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_sent: pending.redirect_uri_sent,
            scope: scope.clone(),
            subject: approval.subject,
            code_challenge: pending.code_challenge.clone(),
            nonce: pending.nonce.clone(),
            auth_time: approval.auth_time,
            dpop_jkt: pending.dpop_jkt.clone(),
            issued_at: now,
            expires_at: now.saturating_add(self.code_lifetime(&client)),
        };
        if let Err(e) = self.stores.codes.put_code(&code.hash(), &record).await {
            return Ok(self.authorization_error(pending, &storage_error(e)));
        }
        // Same order as the aioauth demo: state, code, scope; then iss (RFC 9207).
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(4);
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("code", code.secret()));
        if !scope.is_empty() {
            params.push(("scope", &scope_string));
        }
        params.push(("iss", iss));
        Ok(OAuthResponse::authorization_redirect(&pending.redirect_uri, &pending.response_mode, &params))
    }
}
