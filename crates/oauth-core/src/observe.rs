//! Hooks for metrics and audit logs: the engine reports what it did, the
//! application counts and records.
//!
//! Labels are fixed strings (endpoint names, grant types, RFC error codes),
//! and audit events carry identifiers only (client ids, grant ids): no
//! token, code, secret or password ever reaches an observer.

use std::fmt::Debug;

use crate::error::ErrorCode;
use crate::types::{ClientId, GrantId, GrantType};

/// Receives protocol events. Implementations must be cheap: they run on the request path.
pub trait Observer: Send + Sync + Debug {
    /// The token endpoint issued tokens for this grant type.
    fn token_issued(&self, grant_type: &GrantType);
    /// An endpoint (`authorize`, `token`, `revoke`, `introspect`, `userinfo`) answered an error.
    fn oauth_error(&self, endpoint: &'static str, code: &ErrorCode);
    /// A security-relevant event, for an audit log. The default ignores it.
    fn audit(&self, event: &AuditEvent<'_>) {
        let _ = event;
    }
}

/// A security-relevant event the engine detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent<'a> {
    /// A refresh token was presented again after its rotation: the grant
    /// (every token of the family) is revoked (RFC 9700 §4.14.2).
    RefreshReuse {
        /// The client that presented it.
        client: &'a ClientId,
    },
    /// An authorization code was presented again: what it issued is revoked
    /// (RFC 6749 §4.1.2).
    CodeReplay {
        /// The client that presented it.
        client: &'a ClientId,
        /// The grant the code had issued, now revoked.
        grant: &'a GrantId,
    },
    /// A failure reached a throttle limit (`crate::throttle`): attempts on
    /// this counter are refused with 429 for `seconds`. Reported once per
    /// counter and window, not for each refused attempt.
    ThrottleEngaged {
        /// What the counter counts: `client`, `username` or `address` (the
        /// username and address themselves are not reported).
        counter: &'static str,
        /// The client, for the client counter and client authentication.
        client: Option<&'a ClientId>,
        /// Seconds until the window ends.
        seconds: u64,
    },
}

impl AuditEvent<'_> {
    /// The event's stable name (`refresh.reuse`, `code.replay`,
    /// `throttle.engaged`), for log lines and filters.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RefreshReuse { .. } => "refresh.reuse",
            Self::CodeReplay { .. } => "code.replay",
            Self::ThrottleEngaged { .. } => "throttle.engaged",
        }
    }
}
