//! Server-side browser sessions: a signed cookie holds a random id; the data
//! lives in the [`SessionStore`] under the id's hash, so any instance sharing
//! the store can continue a flow.
//!
//! Sessions are the server's business, not the engine's: their store trait
//! lives here ([`store`]), with [`MemorySessions`] and, with the `redis`
//! feature, `RedisSessions`; [`conformance`] (feature `test-util`) checks
//! any of them.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use oauth_core::PendingAuthorization;
use oauth_core::generate::{RandomGenerator, TokenGenerator as _};
use oauth_core::storage::StorageError;
use oauth_core::types::{Subject, TokenHash};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

#[cfg(feature = "test-util")]
pub mod conformance;
pub mod store;

#[cfg(feature = "redis")]
pub use store::RedisSessions;
pub use store::{MemorySessions, SessionStore};

/// What a session holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionData {
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// The logged-in user, if any.
    pub user: Option<LoggedIn>,
    /// The authorization request waiting for login and consent.
    pub pending: Option<PendingAuthorization>,
}

/// A logged-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedIn {
    /// The user's subject.
    pub subject: Subject,
    /// The login name, for the pages.
    pub username: String,
    /// When the user authenticated.
    pub auth_time: u64,
}

/// A loaded (or new) session.
#[derive(Debug)]
pub struct Session {
    /// The raw id, only ever in the cookie.
    id: String,
    /// The data.
    pub data: SessionData,
    /// True when the id must be (re)sent in a cookie.
    pub fresh: bool,
}

impl SessionData {
    /// True when `presented` equals the session's CSRF token (constant time).
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        match presented {
            Some(p) if !self.csrf.is_empty() => bool::from(p.as_bytes().ct_eq(self.csrf.as_bytes())),
            _ => false,
        }
    }
}

/// Session handling: cookie attributes, signing key, lifetime and store.
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    key: Key,
    cookie_name: String,
    secure: bool,
    lifetime: u64,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie_name", &self.cookie_name)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions in `store`, cookies signed with `key`. When `secure` (an
    /// https issuer) the cookie is `Secure` and its name carries the
    /// `__Host-` prefix, so browsers refuse it from plain HTTP, from another
    /// path and from a sibling subdomain (RFC 6265bis §4.1.3.2).
    pub fn new(store: Arc<dyn SessionStore>, key: Key, cookie_name: String, secure: bool, lifetime: u64) -> Self {
        let cookie_name = host_prefixed(cookie_name, secure);
        Self { store, key, cookie_name, secure, lifetime }
    }

    /// The cookie's name as sent (with the `__Host-` prefix when secure).
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The store (for readiness checks).
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The session of the request, or a new empty one. An unknown, expired or
    /// forged id is never adopted: the client gets a fresh server-made id.
    pub async fn load(&self, req: &HttpRequest) -> Result<Session, StorageError> {
        if let Some(id) = self.cookie_id(req) {
            if let Some(raw) = self.store.load_session(&TokenHash::of(&id)).await? {
                if let Ok(data) = serde_json::from_str::<SessionData>(&raw) {
                    return Ok(Session { id, data, fresh: false });
                }
            }
        }
        Ok(Self::fresh(SessionData::default()))
    }

    fn fresh(mut data: SessionData) -> Session {
        data.csrf = RandomGenerator.token();
        Session { id: RandomGenerator.token(), data, fresh: true }
    }

    fn cookie_id(&self, req: &HttpRequest) -> Option<String> {
        let cookie = req.cookie(&self.cookie_name)?;
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        jar.signed(&self.key).get(&self.cookie_name).map(|c| c.value().to_owned())
    }

    /// Saves the session (extending its lifetime).
    pub async fn save(&self, session: &Session, now: u64) -> Result<(), StorageError> {
        let data = serde_json::to_string(&session.data).map_err(|e| StorageError::Corrupt(Box::new(e)))?;
        self.store.save_session(&TokenHash::of(&session.id), &data, now.saturating_add(self.lifetime)).await
    }

    /// Replaces the session id (at login, against fixation) and the CSRF
    /// token; the old id is deleted.
    pub async fn renew(&self, session: Session) -> Result<Session, StorageError> {
        self.store.delete_session(&TokenHash::of(&session.id)).await?;
        Ok(Self::fresh(session.data))
    }

    /// The signed cookie carrying the session id: HttpOnly, SameSite=Lax,
    /// Path=/, no Domain; Secure and `__Host-`-prefixed when the issuer is https.
    pub fn cookie(&self, session: &Session) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.cookie_name.clone(), session.id.clone());
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.secure);
        cookie.set_path("/");
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key).add(cookie);
        jar.get(&self.cookie_name).cloned().unwrap_or_else(|| Cookie::new(self.cookie_name.clone(), ""))
    }
}

/// `name` with the `__Host-` prefix when `secure` (and without it otherwise:
/// browsers drop a `__Host-` cookie that is not `Secure`).
fn host_prefixed(name: String, secure: bool) -> String {
    const PREFIX: &str = "__Host-";
    let bare = name.strip_prefix(PREFIX).unwrap_or(&name);
    if secure { format!("{PREFIX}{bare}") } else { bare.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::host_prefixed;

    #[test]
    fn cookie_name_prefix() {
        for (name, secure, expected) in [
            ("oauth_session", true, "__Host-oauth_session"),
            ("oauth_session", false, "oauth_session"),
            ("__Host-s", true, "__Host-s"),
            ("__Host-s", false, "s"),
        ] {
            assert_eq!(host_prefixed(name.to_owned(), secure), expected, "{name} secure={secure}");
        }
    }
}
