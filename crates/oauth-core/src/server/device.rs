//! The device authorization endpoint ([RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1))
//! and the user's side of the flow: finding a device authorization by its
//! user code (throttled), then approving or denying it once.
//!
//! The device then polls the token endpoint with the
//! `urn:ietf:params:oauth:grant-type:device_code` grant
//! ([`crate::grant`]'s `DeviceCodeGrant`).

use std::net::IpAddr;

use super::{AuthorizationServer, storage_error};
use crate::Approval;
use crate::device::{DeviceCode, DeviceKey, UserCode};
use crate::error::{ErrorCode, OAuthError};
use crate::request::OAuthRequest;
use crate::response::OAuthResponse;
use crate::storage::{DecideOutcome, DeviceApproval, DeviceDecision, DeviceRecord, DeviceStatus, StorageError};
use crate::throttle::{Limit, ThrottleKey, Verdict, verdict};
use crate::types::{ClientId, GrantType, ScopeSet};

/// How many user codes are drawn before giving up when each is taken (a
/// store holding that many live codes is full, not unlucky).
const USER_CODE_ATTEMPTS: usize = 4;

/// A device authorization waiting for its user: what the verification page
/// shows, and keeps in the session between the login and consent pages.
/// It names the record by its [`DeviceKey`] (hashes only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingDevice {
    /// Where the record is kept.
    pub key: DeviceKey,
    /// The client the device belongs to.
    pub client_id: ClientId,
    /// The client's name, for the consent page.
    pub client_name: String,
    /// The scope the device asked for.
    pub scope: ScopeSet,
    /// When the user code expires.
    pub expires_at: u64,
}

/// The answer of the device authorization endpoint (RFC 8628 §3.2).
#[derive(serde::Serialize)]
struct DeviceAuthorizationBody {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

impl AuthorizationServer {
    /// Handles a device authorization request (RFC 8628 §3.1): client
    /// authentication as at the token endpoint (public clients send
    /// `client_id`), a client registered for the device code grant, and
    /// `scope` checked as everywhere. Answers the device code, the user code
    /// (`XXXX-XXXX`), the verification URIs, `expires_in` and `interval`.
    pub async fn device_authorization(&self, req: &OAuthRequest) -> OAuthResponse {
        const ENDPOINT: &str = "device_authorization";
        if let Err(response) = self.check_back_channel(ENDPOINT, req) {
            return response;
        }
        match self.device_authorization_inner(req).await {
            Ok(body) => OAuthResponse::json(200, &body),
            Err(error) => self.error_response(ENDPOINT, error),
        }
    }

    async fn device_authorization_inner(&self, req: &OAuthRequest) -> Result<DeviceAuthorizationBody, OAuthError> {
        let p = &self.policy;
        let client = self.authenticate_client(req, &p.paths().device_authorization).await?;
        if !client.grant_types.contains(&GrantType::DeviceCode) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "The client may not use the device code grant"));
        }
        let scope = self.requested_scope(&req.form, &client)?;
        let now = self.clock.now();
        let record = DeviceRecord {
            client_id: client.id.clone(),
            scope,
            issued_at: now,
            expires_at: now.saturating_add(p.device_code_lifetime()),
            interval: p.device_poll_interval(),
            last_poll: 0,
            status: DeviceStatus::Pending,
        };
        for _ in 0..USER_CODE_ATTEMPTS {
            let user = UserCode::from_seed(&self.generator.token());
            let device = DeviceCode::new(&user, &self.generator.token());
            let key = device.key().ok_or_else(|| OAuthError::new(ErrorCode::ServerError, "No device code was made"))?;
            if self.stores.devices.put_device(&key, &user.key(), &record).await.map_err(storage_error)? {
                let verification_uri = p.endpoint_url(&p.paths().device_verification);
                let shown = user.display();
                return Ok(DeviceAuthorizationBody {
                    device_code: device.secret().to_owned(),
                    verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
                    verification_uri,
                    user_code: shown,
                    expires_in: p.device_code_lifetime(),
                    interval: p.device_poll_interval(),
                });
            }
        }
        Err(OAuthError::unavailable())
    }

    /// The device authorization a user code (as typed: case, dashes and
    /// spaces do not matter) names, when it is live and undecided. `None`
    /// for a malformed, unknown, expired or already decided code: a wrong
    /// code, which the application counts with [`user_code_failed`](Self::user_code_failed).
    pub async fn find_device(&self, user_code: &str) -> Result<Option<PendingDevice>, StorageError> {
        let Some(user) = UserCode::parse(user_code) else { return Ok(None) };
        let Some((key, record)) = self.stores.devices.find_device(&user.key()).await? else { return Ok(None) };
        if record.expires_at <= self.clock.now() || record.status != DeviceStatus::Pending {
            return Ok(None);
        }
        let client_name = match self.stores.clients.get_client(&record.client_id).await? {
            Some(client) => client.name.clone(),
            None => return Ok(None),
        };
        Ok(Some(PendingDevice {
            key,
            client_id: record.client_id,
            client_name,
            scope: record.scope,
            expires_at: record.expires_at,
        }))
    }

    /// Records the user's approval of a device authorization, once: the
    /// scopes granted are those of `approval` that the device asked for
    /// (all of them when `None`). False when it was decided before or has
    /// expired (nothing changed).
    pub async fn approve_device(&self, pending: &PendingDevice, approval: Approval) -> Result<bool, StorageError> {
        let scope = match approval.scope {
            Some(granted) => granted.iter().filter(|s| pending.scope.contains(s.as_str())).cloned().collect(),
            None => pending.scope.clone(),
        };
        let decision =
            DeviceDecision::Approve(DeviceApproval { subject: approval.subject, scope, auth_time: approval.auth_time });
        self.decide_device(pending, &decision).await
    }

    /// Records the user's denial of a device authorization, once: the
    /// device's next poll gets `access_denied`. False when it was decided
    /// before or has expired.
    pub async fn deny_device(&self, pending: &PendingDevice) -> Result<bool, StorageError> {
        self.decide_device(pending, &DeviceDecision::Deny).await
    }

    async fn decide_device(&self, pending: &PendingDevice, decision: &DeviceDecision) -> Result<bool, StorageError> {
        let outcome = self.stores.devices.decide_device(&pending.key, decision, self.clock.now()).await?;
        Ok(outcome == DecideOutcome::Decided)
    }

    /// The counters of wrong user codes: per session (with the `username`
    /// limit: one person trying) and per source address (the `address`
    /// limit).
    fn user_code_counters(&self, session: &str, source: Option<IpAddr>) -> ([(Limit, ThrottleKey); 2], usize) {
        let p = self.policy.throttle();
        let session = (p.username, ThrottleKey::user_code_session(session));
        match source {
            Some(ip) => ([session, (p.address, ThrottleKey::address(ip))], 2),
            None => ([session, session], 1),
        }
    }

    /// Before looking up a user code: [`Verdict::Throttled`] when the
    /// session (any stable identifier of the visitor's session) or the
    /// source address has entered too many wrong codes. The application
    /// must then refuse without looking the code up.
    pub async fn user_code_throttle(&self, session: &str, source: Option<IpAddr>) -> Result<Verdict, StorageError> {
        let (counters, n) = self.user_code_counters(session, source);
        Ok(verdict(&self.read(&counters[..n]).await?))
    }

    /// After a wrong user code ([`find_device`](Self::find_device) found
    /// nothing): counts it for the session and the source address. Returns
    /// whether a limit is now reached.
    pub async fn user_code_failed(&self, session: &str, source: Option<IpAddr>) -> Result<Verdict, StorageError> {
        let (counters, n) = self.user_code_counters(session, source);
        Ok(verdict(&self.record(&counters[..n], ["user_code", "address"], None).await?))
    }
}
