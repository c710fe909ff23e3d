//! Storage traits, the records they keep, and the embedded [`MemoryStore`].
//!
//! The traits are shaped so that each step the protocol needs to be atomic is
//! one call: [`CodeStore::take_code`] consumes a code exactly once,
//! [`TokenStore::refresh`] looks up, checks and rotates a refresh token,
//! detecting reuse and revoking the family, and [`TokenStore::revoke_grant`]
//! removes every token of a grant; [`DeviceStore::poll_device`] checks a
//! device code's poll and takes its approval once. Keys are [`TokenHash`]es: stores never see
//! raw codes or tokens.
//!
//! Every record carries its absolute expiry (`expires_at`, Unix seconds);
//! stores should drop records after it (for example with a TTL), so nothing
//! grows without bound.

use std::sync::Arc;

use async_trait::async_trait;

use crate::client::Client;
use crate::throttle::{Failures, ThrottleKey};
use crate::types::{
    ClientId, CodeChallengeMethod, GrantId, Nonce, RedirectUri, ScopeSet, Subject, TokenHash, TokenKey,
};
use crate::user::User;

mod device;
mod memory;
pub use device::{
    DecideOutcome, DeviceApproval, DeviceDecision, DevicePoll, DeviceRecord, DeviceStatus, DeviceStore, PollOutcome,
};
pub use memory::{MemoryStore, THROTTLE_CAPACITY};

#[cfg(feature = "test-util")]
pub mod conformance;

/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage failure. Endpoints answer it with `temporarily_unavailable` (503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed or could not be reached.
    #[error("storage backend error")]
    Backend(#[source] BoxError),
    /// A stored record could not be decoded.
    #[error("stored record is corrupt")]
    Corrupt(#[source] BoxError),
    /// A write was refused because the record would conflict (for example, a duplicate client id).
    #[error("conflicting record: {0}")]
    Conflict(String),
    /// The store holds as many records as it may (a bounded in-memory
    /// store, or a Redis that refuses writes under `maxmemory`): the write
    /// was refused, nothing changed. Answered with `temporarily_unavailable`
    /// (503) like every storage failure.
    #[error("storage is full")]
    Full,
}

/// Result of a storage call.
pub type StorageResult<T> = Result<T, StorageError>;

/// An authorization code, as stored between approval and exchange.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeRecord {
    /// The grant the exchange will create; replay revokes it.
    pub grant_id: GrantId,
    /// The client the code was issued to.
    pub client_id: ClientId,
    /// The redirect URI of the authorization request.
    pub redirect_uri: RedirectUri,
    /// Whether the authorization request carried `redirect_uri` (then the token request must too).
    pub redirect_uri_sent: bool,
    /// Granted scope.
    pub scope: ScopeSet,
    /// The approving resource owner.
    pub subject: Subject,
    /// PKCE challenge and method.
    pub code_challenge: Option<(String, CodeChallengeMethod)>,
    /// OpenID Connect nonce.
    pub nonce: Option<Nonce>,
    /// When the user authenticated (Unix seconds).
    pub auth_time: u64,
    /// The `dpop_jkt` of the authorization request (RFC 9449 §10): the
    /// exchange must present a DPoP proof made with that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// When the code was issued.
    pub issued_at: u64,
    /// When the code expires.
    pub expires_at: u64,
}

/// Outcome of [`CodeStore::take_code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeTake {
    /// The code was live; it is now consumed.
    Taken(CodeRecord),
    /// The code was consumed before: a replay. The grant it created must be revoked.
    Replayed {
        /// The grant issued from the first redemption.
        grant_id: GrantId,
    },
    /// No such code (never issued, or expired).
    Unknown,
}

/// A grant: the family of tokens issued from one authorization.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantRecord {
    /// Identifier.
    pub id: GrantId,
    /// The client.
    pub client_id: ClientId,
    /// The resource owner; `None` for `client_credentials`.
    pub subject: Option<Subject>,
    /// The scope the resource owner granted (the ceiling for refreshes).
    pub scope: ScopeSet,
    /// When the grant was created.
    pub issued_at: u64,
    /// Absolute end of the family: no token of it lives longer.
    pub expires_at: u64,
    /// When the user authenticated, if a user did.
    pub auth_time: Option<u64>,
}

/// An access or refresh token record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRecord {
    /// The grant the token belongs to.
    pub grant_id: GrantId,
    /// The client the token was issued to.
    pub client_id: ClientId,
    /// The resource owner, if any.
    pub subject: Option<Subject>,
    /// The token's scope.
    pub scope: ScopeSet,
    /// Issue time.
    pub issued_at: u64,
    /// Expiry time.
    pub expires_at: u64,
    /// Absolute end of the grant, which caps every token issued from it later.
    pub grant_expires_at: u64,
    /// When the user authenticated, if a user did.
    pub auth_time: Option<u64>,
    /// The RFC 7638 thumbprint of the DPoP key the token is bound to
    /// (RFC 9449 `cnf.jkt`); `None` for a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// What token exchange (RFC 8693) recorded on a token it issued: its
    /// actor and audience. `None` for other tokens (boxed: most tokens have
    /// none, and a record stays small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Box<crate::exchange::Exchanged>>,
}

impl TokenRecord {
    /// The actor of an exchanged token, prior actors nested (RFC 8693 §4.1).
    pub fn act(&self) -> Option<&crate::exchange::Actor> {
        self.exchange.as_ref().and_then(|e| e.act.as_ref())
    }

    /// The audience an exchanged token was issued for.
    pub fn aud(&self) -> Option<&str> {
        self.exchange.as_ref().and_then(|e| e.aud.as_deref())
    }
}

/// Tokens to persist in one atomic step; every record names the same grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTokens {
    /// The access token hash and record.
    pub access: (TokenHash, TokenRecord),
    /// The refresh token hash and record, if one is issued.
    pub refresh: Option<(TokenHash, TokenRecord)>,
}

/// Outcome of looking up a refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshLookup {
    /// The token is the family's current refresh token.
    Active(TokenRecord),
    /// The token was rotated out: presenting it again is reuse.
    Rotated {
        /// The family to revoke.
        grant_id: GrantId,
    },
    /// No such token (never issued, expired or revoked).
    Unknown,
}

/// What the refresh grant asks of a store in one atomic step ([`TokenStore::refresh`]):
/// check the presented refresh token's record against the request and, when
/// it passes, store the next tokens of its family.
///
/// [`RefreshRequest::check`] and [`RefreshRequest::tokens`] are the rules; a
/// store that runs them elsewhere (a Redis script, say) must give the same
/// answers, and the conformance suite checks that it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRequest {
    /// The authenticated client: the token must have been issued to it.
    pub client_id: ClientId,
    /// A scope for the new access token, which must be within the token's;
    /// `None` keeps the token's scope (RFC 6749 §6).
    pub scope: Option<ScopeSet>,
    /// The time of the request (Unix seconds).
    pub now: u64,
    /// The new access token's hash and lifetime (seconds).
    pub access: (TokenHash, u64),
    /// The new refresh token's hash and lifetime; `None` keeps the presented
    /// token active (rotation off).
    pub refresh: Option<(TokenHash, u64)>,
    /// With a refresh grace period (and rotation): the answer a retry of the
    /// presented token gets, once, instead of revoking the family. The store
    /// keeps it with the family, replacing the one a previous rotation left,
    /// and drops it when a retry takes it.
    pub grace: Option<RetryAnswer>,
    /// The thumbprint of the request's verified DPoP proof key, if it carried
    /// one: a refresh token bound to a key ([`TokenRecord::jkt`]) is only
    /// refreshed with a proof of that key, and the new access token is bound
    /// to this key.
    pub jkt: Option<String>,
}

/// The answer to a refresh, kept for one retry within the grace period
/// ([`RefreshRequest::grace`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryAnswer {
    /// Until when (Unix seconds, exclusive) a retry gets it.
    pub until: u64,
    /// The new tokens, encrypted under a key that only the presented refresh
    /// token gives: opaque to the store, which holds only that token's hash.
    pub sealed: Vec<u8>,
}

/// What presenting a retired refresh token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetiredUse {
    /// A retry within the grace period: it gets the kept answer, once.
    Retry,
    /// Reuse: the whole family is revoked.
    Reuse,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_token_decision_table() {
        let now = 1_000;
        let kept = |until| RetryAnswer { until, sealed: Vec::new() };
        let rows = [
            ("no answer kept (grace off, taken, or replaced)", None, RetiredUse::Reuse),
            ("within the grace", Some(kept(now + 5)), RetiredUse::Retry),
            ("its last second", Some(kept(now + 1)), RetiredUse::Retry),
            ("when it ends", Some(kept(now)), RetiredUse::Reuse),
            ("after it", Some(kept(now - 1)), RetiredUse::Reuse),
        ];
        for (label, answer, expected) in rows {
            assert_eq!(RetryAnswer::decide(answer.as_ref(), now), expected, "{label}");
        }
    }
}

impl RetryAnswer {
    /// The rule for a retired refresh token presented at `now`: a retry when
    /// the family still keeps an answer for this very token (`kept`; none
    /// once a retry took it or a later rotation replaced it) and its grace
    /// has not passed; reuse otherwise.
    pub fn decide(kept: Option<&RetryAnswer>, now: u64) -> RetiredUse {
        match kept {
            Some(answer) if now < answer.until => RetiredUse::Retry,
            _ => RetiredUse::Reuse,
        }
    }
}

/// Why a live refresh token's record refused a [`RefreshRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// The token was issued to another client.
    OtherClient,
    /// The token has expired.
    Expired,
    /// The requested scope is not within the token's.
    WiderScope,
    /// The token is bound to a DPoP key and the request's proof (if any) is
    /// of another key.
    OtherKey,
}

impl RefreshRequest {
    /// Whether the refresh token's record `old` allows this request.
    pub fn check(&self, old: &TokenRecord) -> Result<(), RefreshRefusal> {
        if old.client_id != self.client_id {
            return Err(RefreshRefusal::OtherClient);
        }
        if old.expires_at <= self.now {
            return Err(RefreshRefusal::Expired);
        }
        if old.jkt.is_some() && old.jkt != self.jkt {
            return Err(RefreshRefusal::OtherKey);
        }
        if self.scope.as_ref().is_some_and(|s| !s.is_subset(&old.scope)) {
            return Err(RefreshRefusal::WiderScope);
        }
        Ok(())
    }

    /// The tokens to store when [`check`](Self::check) passes: they inherit the
    /// family's client, subject and authentication time, and expire no later
    /// than the family. A new refresh token keeps the old one's scope and
    /// key binding; the new access token is bound to the request's key.
    pub fn tokens(&self, old: &TokenRecord) -> NewTokens {
        let record = |scope: &ScopeSet, lifetime: u64, jkt: &Option<String>| TokenRecord {
            grant_id: old.grant_id.clone(),
            client_id: old.client_id.clone(),
            subject: old.subject.clone(),
            scope: scope.clone(),
            issued_at: self.now,
            expires_at: self.now.saturating_add(lifetime).min(old.grant_expires_at),
            grant_expires_at: old.grant_expires_at,
            auth_time: old.auth_time,
            jkt: jkt.clone(),
            exchange: None,
        };
        let (access, access_lifetime) = self.access;
        NewTokens {
            access: (access, record(self.scope.as_ref().unwrap_or(&old.scope), access_lifetime, &self.jkt)),
            refresh: self.refresh.map(|(hash, lifetime)| (hash, record(&old.scope, lifetime, &old.jkt))),
        }
    }
}

/// Outcome of [`TokenStore::refresh`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The presented refresh token's record: the tokens
    /// [`RefreshRequest::tokens`] makes from it are stored (and the presented
    /// token retired, when rotating).
    Refreshed(TokenRecord),
    /// The token is live but its record refused the request; nothing changed.
    Refused(RefreshRefusal),
    /// The token had already been rotated out: the whole family is revoked.
    Reused,
    /// The token had just been rotated out and [`RetryAnswer::decide`] says
    /// this is its retry: the kept answer's sealed tokens, now taken (a
    /// second retry is reuse). Nothing else changed.
    Retried(Vec<u8>),
    /// No such token, or its grant is gone.
    Unknown,
}

/// Client registrations.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// The client with this id. Shared rather than copied: the token,
    /// introspection and revocation endpoints read it on every request.
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Arc<Client>>>;
    /// Creates or replaces a client.
    async fn put_client(&self, client: &Client) -> StorageResult<()>;
    /// Deletes a client; true when it existed.
    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool>;
    /// All clients, ordered by id.
    async fn list_clients(&self) -> StorageResult<Vec<Client>>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code until `record.expires_at`.
    async fn put_code(&self, hash: &TokenHash, record: &CodeRecord) -> StorageResult<()>;

    /// Atomically consumes a code: exactly one caller gets [`CodeTake::Taken`];
    /// later callers get [`CodeTake::Replayed`] until the code would have expired.
    async fn take_code(&self, hash: &TokenHash) -> StorageResult<CodeTake>;
}

/// How long (seconds) a store remembers a revocation made by
/// [`TokenStore::revoke_grant`] or [`TokenStore::revoke_client_grants`], so
/// that a [`TokenStore::create_grant`] arriving after it is refused.
///
/// A code's grant id is decided when the code is issued, and the exchange
/// takes the code, then creates the grant: two calls. A replay landing
/// between them revokes a grant that does not exist yet; remembering the
/// revocation makes the creation that follows fail instead, so a replay
/// revokes what the code issued whenever it arrives. The gap it must cover
/// is one token request's processing time, so a minute is ample.
pub const REVOCATION_HOLD: u64 = 60;

/// Most entries one family may hold when [`TokenStore::add_access_token`]
/// adds another: a client allowed to exchange tokens cannot grow one family
/// without bound within the subject token's lifetime. On `MemoryStore` the
/// family's live tokens count; a networked store may count entries that
/// expired and were not pruned yet (Redis counts the family hash's fields).
pub const MAX_FAMILY_ENTRIES: usize = 1024;

/// Grants and their access and refresh tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Atomically stores a new grant with its first tokens, and returns true;
    /// or stores nothing and returns false when the grant was revoked
    /// ([`revoke_grant`](Self::revoke_grant) of its id, or
    /// [`revoke_client_grants`](Self::revoke_client_grants) of its client)
    /// less than [`REVOCATION_HOLD`] seconds ago.
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<bool>;

    /// A live access token (not revoked; the caller checks `expires_at`).
    async fn get_access_token(&self, key: &TokenKey) -> StorageResult<Option<TokenRecord>>;

    /// Looks up a refresh token, telling rotated-out tokens apart (for introspection).
    async fn get_refresh_token(&self, key: &TokenKey) -> StorageResult<RefreshLookup>;

    /// The refresh grant's store work as one atomic step: look up `old`;
    /// when it is the family's active refresh token, check it with
    /// [`RefreshRequest::check`] and, when that passes, store
    /// [`RefreshRequest::tokens`] and (when `request.refresh` is set) retire
    /// `old`, keeping a marker until it would have expired so that its reuse
    /// is detected, and keeping `request.grace` (or dropping the family's
    /// previous retry answer when there is none). Presenting a retired token
    /// is decided by [`RetryAnswer::decide`] with the family's kept answer
    /// when it was made for that token: a retry takes the answer and gets
    /// [`RefreshOutcome::Retried`]; reuse revokes the whole family and
    /// answers [`RefreshOutcome::Reused`]. A networked store should do it in
    /// one round trip.
    async fn refresh(&self, old: &TokenKey, request: &RefreshRequest) -> StorageResult<RefreshOutcome>;

    /// Atomically adds an access token to the live grant `key.grant` under
    /// `key.hash` and returns true; or stores nothing and returns false when
    /// that grant does not exist, has ended, or was revoked, or when the
    /// family holds [`MAX_FAMILY_ENTRIES`] already. Token exchange
    /// (RFC 8693) issues its tokens into the subject token's family this
    /// way, so that revoking the family revokes them too. `record` expires
    /// no later than the family (`grant_expires_at`).
    async fn add_access_token(&self, key: &TokenKey, record: &TokenRecord) -> StorageResult<bool>;

    /// Revokes one access token.
    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()>;

    /// Revokes a grant: removes the grant and every token of it, and
    /// remembers the id for [`REVOCATION_HOLD`] seconds so that a
    /// [`create_grant`](Self::create_grant) of it is refused (a grant may be
    /// revoked before it is created: see [`REVOCATION_HOLD`]).
    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()>;

    /// Revokes every grant of a client (it was deleted): each as
    /// [`revoke_grant`](Self::revoke_grant) does, and for
    /// [`REVOCATION_HOLD`] seconds refuses to create new ones for it, so a
    /// token request that authenticated the client before it was deleted
    /// cannot issue tokens after. Returns how many grants it revoked.
    async fn revoke_client_grants(&self, client: &ClientId) -> StorageResult<u64>;
}

/// Resource owners.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this login name.
    async fn find_user(&self, username: &str) -> StorageResult<Option<User>>;
    /// The user with this subject.
    async fn get_user(&self, subject: &Subject) -> StorageResult<Option<User>>;
    /// Creates or replaces a user.
    async fn put_user(&self, user: &User) -> StorageResult<()>;
}

/// Consents users remember per client (OpenID Connect), revocable.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The scopes `subject` agreed to give `client`, if remembered and not expired.
    async fn get_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<Option<ScopeSet>>;
    /// Remembers (or replaces) a consent until `expires_at`.
    async fn put_consent(
        &self,
        subject: &Subject,
        client: &ClientId,
        scope: &ScopeSet,
        expires_at: u64,
    ) -> StorageResult<()>;
    /// Forgets a consent; true when one existed.
    async fn revoke_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<bool>;
}

/// Counters of failed authentication attempts ([`crate::throttle`]), shared
/// by every server instance on the store.
///
/// A counter is a fixed window that starts at its first failure and ends
/// `window` seconds later, when the counter disappears. Each call touches one
/// counter and is atomic (on Redis: one key, its increment and its expiry in
/// one transaction).
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one failure: starts a window of `window` seconds when none
    /// runs, and answers the count with this failure and the seconds left.
    async fn record_failure(&self, key: &ThrottleKey, window: u64) -> StorageResult<Failures>;
    /// The current count and seconds left; zeros when no window runs.
    async fn failures(&self, key: &ThrottleKey) -> StorageResult<Failures>;
    /// Ends the counter's window (a successful login resets its username).
    async fn clear_failures(&self, key: &ThrottleKey) -> StorageResult<()>;
}

/// Short-lived records used once: pushed authorization requests (RFC 9126
/// §2.2), and the ids of DPoP proofs and client assertions already seen
/// (RFC 9449 §11.1, RFC 7523 §3), which must be refused when presented again
/// on any instance.
///
/// Keys are [`TokenHash`]es the engine derives (domain-separated), so a raw
/// request URI or proof id is never stored. Each call touches one record and
/// is atomic (on Redis: one key, `SET NX EXAT` and `GETDEL`); every record
/// has an expiry.
#[async_trait]
pub trait OnceStore: Send + Sync {
    /// Stores `value` under `key` until `expires_at` unless a live record
    /// has that key. True when stored: the key's first use.
    async fn put_once(&self, key: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<bool>;
    /// Returns the live record under `key` and deletes it, atomically: of
    /// concurrent calls, at most one gets it.
    async fn take_once(&self, key: &TokenHash) -> StorageResult<Option<Vec<u8>>>;
}

/// A store implementing every trait the engine uses (what [`Stores::single`] takes).
pub trait Store:
    ClientStore + CodeStore + TokenStore + UserStore + ConsentStore + ThrottleStore + OnceStore + DeviceStore
{
}
impl<T: ClientStore + CodeStore + TokenStore + UserStore + ConsentStore + ThrottleStore + OnceStore + DeviceStore> Store
    for T
{
}

/// The stores an [`AuthorizationServer`](crate::AuthorizationServer) uses.
///
/// They may differ: for example clients from a read-only configuration file
/// and tokens in Redis.
#[derive(Clone)]
pub struct Stores {
    /// Client registrations.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeStore>,
    /// Grants and tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Remembered consents.
    pub consents: Arc<dyn ConsentStore>,
    /// Failed-attempt counters.
    pub throttle: Arc<dyn ThrottleStore>,
    /// Single-use records (pushed requests, seen proof and assertion ids).
    pub once: Arc<dyn OnceStore>,
    /// Device authorizations (RFC 8628).
    pub devices: Arc<dyn DeviceStore>,
}

impl Stores {
    /// Uses one store for everything.
    pub fn single<S: Store + 'static>(store: Arc<S>) -> Self {
        Self {
            clients: store.clone(),
            codes: store.clone(),
            tokens: store.clone(),
            users: store.clone(),
            consents: store.clone(),
            throttle: store.clone(),
            once: store.clone(),
            devices: store,
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
