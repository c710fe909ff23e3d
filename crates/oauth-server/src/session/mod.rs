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
use oauth_core::generate::{RandomGenerator, TokenGenerator as _};
use oauth_core::storage::StorageError;
use oauth_core::types::{ScopeSet, Subject, TokenHash};
use oauth_core::{PendingAuthorization, PendingDevice};
use serde::{Deserialize, Serialize};

#[cfg(feature = "test-util")]
pub mod conformance;
pub mod store;

#[cfg(feature = "redis")]
pub use store::RedisSessions;
pub use store::{MemorySessions, SessionStore};

/// Most authorization requests one session keeps waiting at once (one per
/// browser tab, say); a new one beyond drops the oldest.
pub const MAX_PENDING: usize = 8;

/// What a session holds. Its forms' CSRF tokens are not stored: they are
/// derived from the session id with the cookie key ([`Sessions::form_token`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionData {
    /// The logged-in user, if any.
    pub user: Option<LoggedIn>,
    /// The authorization requests waiting for login and consent, oldest
    /// first, at most [`MAX_PENDING`], each under its own id.
    #[serde(default)]
    pub requests: Vec<PendingRequest>,
    /// The device authorizations (RFC 8628) whose user code was entered,
    /// waiting for login and consent, oldest first, at most [`MAX_PENDING`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<PendingDeviceRequest>,
}

/// One device authorization waiting in a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingDeviceRequest {
    /// Its random id, used like [`PendingRequest::id`] by the login and consent pages.
    pub id: String,
    /// The device authorization the user code named.
    pub device: PendingDevice,
}

/// One authorization request waiting in a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRequest {
    /// Its random id: the `request` query parameter and hidden form field of
    /// the login and consent pages shown for it.
    pub id: String,
    /// The validated request.
    pub authorization: PendingAuthorization,
}

impl SessionData {
    /// Keeps a validated request under a new unguessable id, dropping the
    /// oldest when [`MAX_PENDING`] are waiting already; returns the id.
    pub fn add_request(&mut self, authorization: PendingAuthorization) -> String {
        let id = RandomGenerator.token();
        if self.requests.len() >= MAX_PENDING {
            let excess = self.requests.len() + 1 - MAX_PENDING;
            self.requests.drain(..excess);
        }
        self.requests.push(PendingRequest { id: id.clone(), authorization });
        id
    }

    /// The waiting request with this id.
    pub fn request(&self, id: &str) -> Option<&PendingRequest> {
        self.requests.iter().find(|r| r.id == id)
    }

    /// The waiting request with this id, to change.
    pub fn request_mut(&mut self, id: &str) -> Option<&mut PendingRequest> {
        self.requests.iter_mut().find(|r| r.id == id)
    }

    /// Keeps a device authorization under a new unguessable id, dropping the
    /// oldest when [`MAX_PENDING`] are waiting already; returns the id.
    pub fn add_device(&mut self, device: PendingDevice) -> String {
        let id = RandomGenerator.token();
        if self.devices.len() >= MAX_PENDING {
            let excess = self.devices.len() + 1 - MAX_PENDING;
            self.devices.drain(..excess);
        }
        self.devices.push(PendingDeviceRequest { id: id.clone(), device });
        id
    }

    /// The waiting device authorization with this id.
    pub fn device(&self, id: &str) -> Option<&PendingDevice> {
        self.devices.iter().find(|r| r.id == id).map(|r| &r.device)
    }

    /// Removes and returns the waiting device authorization with this id.
    pub fn take_device(&mut self, id: &str) -> Option<PendingDevice> {
        let i = self.devices.iter().position(|r| r.id == id)?;
        Some(self.devices.remove(i).device)
    }

    /// Removes and returns the waiting request with this id: each is answered once.
    pub fn take_request(&mut self, id: &str) -> Option<PendingAuthorization> {
        let i = self.requests.iter().position(|r| r.id == id)?;
        Some(self.requests.remove(i).authorization)
    }
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

/// What a form token is for: each binds different facts.
#[derive(Debug, Clone, Copy)]
pub enum FormPurpose<'a> {
    /// The login form, for the waiting request with this id (if any).
    Login(Option<&'a str>),
    /// The consent form of the waiting request with this id, showing these scopes.
    Consent(&'a str, &'a ScopeSet),
    /// The device page's user-code form.
    DeviceCode,
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

    /// The session of the request, or a new empty one. A forged id is never
    /// adopted: the client gets a fresh server-made id. An id this server
    /// signed but does not store (a login form was shown to a browser
    /// without a session, or the session expired) keeps its id with empty
    /// data, so that the form tokens made for it still verify: nothing is
    /// stored for a visitor until a login succeeds or a validated
    /// authorization request must be kept.
    pub async fn load(&self, req: &HttpRequest) -> Result<Session, StorageError> {
        if let Some(id) = self.cookie_id(req) {
            let data = match self.store.load_session(&TokenHash::of(&id)).await? {
                Some(raw) => serde_json::from_str::<SessionData>(&raw).unwrap_or_default(),
                None => SessionData::default(),
            };
            return Ok(Session { id, data, fresh: false });
        }
        Ok(Self::fresh(SessionData::default()))
    }

    /// A stable, non-secret name of the session for throttle counters: a
    /// domain-separated hash of its id (the raw id stays in the cookie).
    pub fn throttle_name(&self, session: &Session) -> String {
        TokenHash::of_once("oauth-server/session", &[&session.id]).to_hex()
    }

    fn fresh(data: SessionData) -> Session {
        Session { id: RandomGenerator.token(), data, fresh: true }
    }

    /// The CSRF token of a form of this session: an HMAC-SHA256, keyed with
    /// the cookie key's signing half, of the session id and what the form is
    /// for (the waiting request's id, and for consent the scopes shown).
    /// Nothing is stored: the token is checked by computing it again.
    pub fn form_token(&self, session: &Session, purpose: FormPurpose<'_>) -> String {
        use base64::Engine as _;
        use hmac::Mac as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.form_mac(session, purpose).finalize().into_bytes())
    }

    /// Whether `presented` is the token of this session's form for
    /// `purpose` (compared in constant time).
    pub fn form_token_ok(&self, session: &Session, purpose: FormPurpose<'_>, presented: Option<&str>) -> bool {
        use base64::Engine as _;
        use hmac::Mac as _;
        let Some(bytes) = presented.and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        else {
            return false;
        };
        self.form_mac(session, purpose).verify_slice(&bytes).is_ok()
    }

    fn form_mac(&self, session: &Session, purpose: FormPurpose<'_>) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac as _;
        use hmac::digest::KeyInit;
        // HMAC pads a short key with zeros to the block size: padding it here
        // is the same HMAC, through the constructor that cannot fail.
        let mut key = [0u8; 64];
        let signing = self.key.signing();
        let n = signing.len().min(key.len());
        key[..n].copy_from_slice(&signing[..n]);
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&key.into());
        // Every field is length-prefixed, so no two inputs run together.
        let mut field = |bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        field(b"oauth-server form token v1");
        field(session.id.as_bytes());
        match purpose {
            FormPurpose::Login(request) => {
                field(b"login");
                field(request.unwrap_or("").as_bytes());
            }
            FormPurpose::Consent(request, scope) => {
                field(b"consent");
                field(request.as_bytes());
                field(scope.to_string().as_bytes());
            }
            FormPurpose::DeviceCode => field(b"device code"),
        }
        mac
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

    /// Replaces the session id (at login, against fixation), and so every
    /// form token; the old id is deleted.
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
