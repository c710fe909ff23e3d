//! The throttle's use by the engine: client authentication (token,
//! introspection, revocation) and the login page's checks, which the
//! application calls ([`AuthorizationServer::login_throttle`] and friends).
//!
//! Client authentication consults the counters only before an Argon2
//! verification (a secret not in the cache of verified secrets), and records
//! every failure. A secret already verified, or a SHA-256 hashed secret that
//! verifies, costs no store call: a flood of wrong secrets cannot lock out
//! the client that holds the right one, and the hot path stays as it was.

use std::net::IpAddr;

use crate::error::OAuthError;
use crate::observe::AuditEvent;
use crate::request::{OAuthRequest, PresentedCredentials};
use crate::storage::StorageError;
use crate::throttle::{Failures, Limit, ThrottleKey, Verdict, verdict, verdict_after_failure};
use crate::types::ClientId;

use super::{AuthorizationServer, storage_error};

impl AuthorizationServer {
    /// The counters of a client authentication: per client, and per source
    /// address when the adapter knows it.
    fn client_counters(&self, req: &OAuthRequest, client: &ClientId) -> ([(Limit, ThrottleKey); 2], usize) {
        let p = self.policy.throttle();
        let client = (p.client, ThrottleKey::client(client));
        match req.source {
            Some(ip) => ([client, (p.address, ThrottleKey::address(ip))], 2),
            None => ([client, client], 1),
        }
    }

    pub(super) async fn read(&self, counters: &[(Limit, ThrottleKey)]) -> Result<Vec<(Limit, Failures)>, StorageError> {
        let mut out = Vec::with_capacity(counters.len());
        for (limit, key) in counters {
            out.push((*limit, self.stores.throttle.failures(key).await?));
        }
        Ok(out)
    }

    /// Counts a failure on each counter. `names` say what each counts
    /// (`client`, `username`, `address`); the failure that reaches a limit
    /// is audited, once per counter and window.
    pub(super) async fn record(
        &self,
        counters: &[(Limit, ThrottleKey)],
        names: [&'static str; 2],
        client: Option<&ClientId>,
    ) -> Result<Vec<(Limit, Failures)>, StorageError> {
        let mut out = Vec::with_capacity(counters.len());
        for ((limit, key), counter) in counters.iter().zip(names) {
            let failures = self.stores.throttle.record_failure(key, limit.window).await?;
            if failures.count == limit.max_failures {
                self.audit(AuditEvent::ThrottleEngaged { counter, client, seconds: failures.resets_in });
            }
            out.push((*limit, failures));
        }
        Ok(out)
    }

    /// Before an Argon2 verification of a client secret: `429` when the
    /// client or the source address is over its limit.
    pub(super) async fn check_client_throttle(&self, req: &OAuthRequest, client: &ClientId) -> Result<(), OAuthError> {
        let (counters, n) = self.client_counters(req, client);
        match verdict(&self.read(&counters[..n]).await.map_err(storage_error)?) {
            Verdict::Allow => Ok(()),
            Verdict::Throttled { retry_after } => Err(OAuthError::too_many_attempts(retry_after)),
        }
    }

    /// After a failed client authentication: counts it, and answers `error`,
    /// or `429` when the attempt went past a limit (paths that do not check
    /// first: a SHA-256 secret).
    pub(super) async fn client_failed(&self, req: &OAuthRequest, client: &ClientId, error: OAuthError) -> OAuthError {
        let (counters, n) = self.client_counters(req, client);
        match self.record(&counters[..n], ["client", "address"], Some(client)).await {
            Ok(counts) => match verdict_after_failure(&counts) {
                Verdict::Allow => error,
                Verdict::Throttled { retry_after } => OAuthError::too_many_attempts(retry_after),
            },
            Err(e) => storage_error(e),
        }
    }

    /// An unknown `client_id`: the same work as a known client with an
    /// Argon2 secret (the throttle's check, an Argon2 verification against
    /// a dummy hash on the [`Offload`](crate::offload::Offload), the
    /// failure counted), so response time does not tell which ids exist.
    pub(super) async fn unknown_client(&self, req: &OAuthRequest, presented: &PresentedCredentials) -> OAuthError {
        let id = presented.client_id();
        if let PresentedCredentials::Basic { secret, .. } | PresentedCredentials::Post { secret, .. } = presented {
            if let Err(error) = self.check_client_throttle(req, id).await {
                return error;
            }
            let secret = secret.secret().to_owned();
            let job: crate::offload::Job = Box::new(move || {
                crate::user::verify_dummy(&secret);
                false
            });
            if let Err(saturated) = self.run_offloaded(job).await {
                return saturated.into();
            }
        }
        self.client_failed(req, id, OAuthError::invalid_client("Client authentication failed")).await
    }

    /// The login page's counters: per username, and per source address.
    fn login_counters(&self, username: &str, source: Option<IpAddr>) -> ([(Limit, ThrottleKey); 2], usize) {
        let p = self.policy.throttle();
        let user = (p.username, ThrottleKey::username(username));
        match source {
            Some(ip) => ([user, (p.address, ThrottleKey::address(ip))], 2),
            None => ([user, user], 1),
        }
    }

    /// Before verifying a password: [`Verdict::Throttled`] when the username
    /// or the source address reached its limit. The application must then
    /// refuse the login, correct password or not, without verifying it.
    pub async fn login_throttle(&self, username: &str, source: Option<IpAddr>) -> Result<Verdict, StorageError> {
        let (counters, n) = self.login_counters(username, source);
        Ok(verdict(&self.read(&counters[..n]).await?))
    }

    /// After a wrong password (or unknown username): counts the failure for
    /// the username and the source address. Returns whether a limit is now
    /// reached (the next attempt will be throttled).
    pub async fn login_failed(&self, username: &str, source: Option<IpAddr>) -> Result<Verdict, StorageError> {
        let (counters, n) = self.login_counters(username, source);
        Ok(verdict(&self.record(&counters[..n], ["username", "address"], None).await?))
    }

    /// After a successful login: resets the username's counter (the user
    /// proved the password; the address counter keeps running, so an
    /// attacker who owns one account cannot use it to reset spraying).
    pub async fn login_succeeded(&self, username: &str) -> Result<(), StorageError> {
        self.stores.throttle.clear_failures(&ThrottleKey::username(username)).await
    }
}
