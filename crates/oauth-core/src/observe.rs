//! Hooks for metrics: the engine reports what it did, the application counts.
//!
//! Labels are fixed strings (endpoint names, grant types, RFC error codes):
//! no token, code, secret or client input ever reaches an observer.

use std::fmt::Debug;

use crate::error::ErrorCode;
use crate::types::GrantType;

/// Receives protocol events. Implementations must be cheap: they run on the request path.
pub trait Observer: Send + Sync + Debug {
    /// The token endpoint issued tokens for this grant type.
    fn token_issued(&self, grant_type: &GrantType);
    /// An endpoint (`authorize`, `token`, `revoke`, `introspect`, `userinfo`) answered an error.
    fn oauth_error(&self, endpoint: &'static str, code: &ErrorCode);
}
