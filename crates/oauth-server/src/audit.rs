//! Audit events: one structured log line per security-relevant event, under
//! the `audit` tracing target, so that they can be routed on their own
//! (`RUST_LOG=warn,audit=info`).
//!
//! Every line has an `event` field with a stable name (`login.failed`,
//! `refresh.reuse`, …) and identifiers only: subjects, usernames of existing
//! users, client ids, grant ids, scopes. Never a password, secret, code or
//! token, and never a username that matches no user (it may be a password
//! typed into the wrong field).

use oauth_core::observe::AuditEvent;
use oauth_core::types::{ClientId, ScopeSet, Subject};

/// The tracing target of audit lines.
pub const TARGET: &str = "audit";

/// An event the server (rather than the engine) detects.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A user logged in at the login page.
    LoginSucceeded {
        /// The user.
        subject: &'a Subject,
        /// Their login name.
        username: &'a str,
    },
    /// A login failed: wrong password, or no such user (`user` is `None`).
    LoginFailed {
        /// The user whose password was wrong, when the name matched one.
        user: Option<&'a Subject>,
    },
    /// A user approved a client; `remembered` when the consent is stored.
    ConsentGranted {
        /// The user.
        subject: &'a Subject,
        /// The client.
        client: &'a ClientId,
        /// The scopes approved.
        scope: &'a ScopeSet,
        /// Whether the decision is remembered for later requests.
        remembered: bool,
    },
    /// A remembered consent was withdrawn.
    ConsentRevoked {
        /// The user.
        subject: &'a Subject,
        /// The client.
        client: &'a ClientId,
    },
    /// A client was registered.
    ClientCreated {
        /// The client.
        client: &'a ClientId,
    },
    /// A client was deleted (its grants revoked).
    ClientDeleted {
        /// The client.
        client: &'a ClientId,
    },
    /// A client's secret was replaced; the previous one works for `overlap` seconds.
    ClientSecretRotated {
        /// The client.
        client: &'a ClientId,
        /// Seconds the previous secret stays valid.
        overlap: u64,
    },
}

/// Writes one audit line for `event`.
pub fn record(event: &Event<'_>) {
    match event {
        Event::LoginSucceeded { subject, username } => {
            tracing::info!(target: TARGET, event = "login.succeeded", subject = subject.as_str(), username);
        }
        Event::LoginFailed { user } => {
            let subject = user.map(Subject::as_str);
            tracing::warn!(target: TARGET, event = "login.failed", known_user = subject.is_some(), subject);
        }
        Event::ConsentGranted { subject, client, scope, remembered } => {
            tracing::info!(
                target: TARGET,
                event = "consent.granted",
                subject = subject.as_str(),
                client = client.as_str(),
                scope = %scope,
                remembered,
            );
        }
        Event::ConsentRevoked { subject, client } => {
            tracing::info!(target: TARGET, event = "consent.revoked", subject = subject.as_str(), client = client.as_str());
        }
        Event::ClientCreated { client } => {
            tracing::info!(target: TARGET, event = "client.created", client = client.as_str());
        }
        Event::ClientDeleted { client } => {
            tracing::info!(target: TARGET, event = "client.deleted", client = client.as_str());
        }
        Event::ClientSecretRotated { client, overlap } => {
            tracing::info!(target: TARGET, event = "client.secret_rotated", client = client.as_str(), overlap);
        }
    }
}

/// Writes one audit line for an event the engine reports.
pub fn record_engine(event: &AuditEvent<'_>) {
    match event {
        AuditEvent::RefreshReuse { client } => {
            tracing::warn!(target: TARGET, event = event.name(), client = client.as_str());
        }
        AuditEvent::CodeReplay { client, grant } => {
            tracing::warn!(target: TARGET, event = event.name(), client = client.as_str(), grant = grant.as_str());
        }
        AuditEvent::ThrottleEngaged { counter, client, seconds } => {
            let client = client.map(ClientId::as_str);
            tracing::warn!(target: TARGET, event = event.name(), counter, client, seconds);
        }
        // Events added to the engine later still leave a line.
        _ => tracing::warn!(target: TARGET, event = event.name()),
    }
}
