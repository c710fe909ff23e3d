//! [`MemoryStore`]: the embedded default store.
//!
//! Everything lives in process memory behind `std` locks that are never held
//! across an `.await` (every method body is synchronous). Expired entries are
//! invisible at once and purged every [`PURGE_EVERY`] writes, so memory stays
//! bounded by the number of live records.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use async_trait::async_trait;

use super::{
    ClientStore, CodeRecord, CodeStore, CodeTake, ConsentStore, GrantRecord, NewTokens, RefreshLookup, RotateOutcome,
    SessionStore, StorageResult, TokenRecord, TokenStore, UserStore,
};
use crate::client::Client;
use crate::clock::{Clock, SystemClock};
use crate::types::{ClientId, GrantId, ScopeSet, Subject, TokenHash, TokenKey};
use crate::user::User;

/// Purge expired entries after this many writes.
const PURGE_EVERY: u64 = 1024;

/// In-memory implementation of every storage trait. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    clients: RwLock<BTreeMap<ClientId, Client>>,
    users: RwLock<BTreeMap<String, User>>,
    state: Mutex<State>,
    sessions: Mutex<HashMap<TokenHash, (String, u64)>>,
    consents: Mutex<HashMap<(Subject, ClientId), (ScopeSet, u64)>>,
    writes: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    codes: HashMap<TokenHash, CodeEntry>,
    grants: HashMap<GrantId, GrantEntry>,
    access: HashMap<TokenHash, TokenRecord>,
    refresh: HashMap<TokenHash, RefreshEntry>,
}

#[derive(Debug)]
enum CodeEntry {
    Live(CodeRecord),
    Used { grant_id: GrantId, expires_at: u64 },
}

#[derive(Debug)]
struct GrantEntry {
    record: GrantRecord,
    /// Every access and refresh token hash of the family, retired ones included.
    tokens: Vec<TokenHash>,
}

#[derive(Debug)]
enum RefreshEntry {
    Active(TokenRecord),
    Rotated { grant_id: GrantId, expires_at: u64 },
}

impl RefreshEntry {
    fn expires_at(&self) -> u64 {
        match self {
            Self::Active(r) => r.expires_at,
            Self::Rotated { expires_at, .. } => *expires_at,
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store on the given clock (tests use a fixed clock).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                clients: RwLock::default(),
                users: RwLock::default(),
                state: Mutex::default(),
                sessions: Mutex::default(),
                consents: Mutex::default(),
                writes: AtomicU64::new(0),
            }),
        }
    }

    /// Number of live records (codes, grants, access and refresh tokens, sessions),
    /// after purging expired ones. For tests and metrics.
    pub fn live_records(&self) -> usize {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        let sessions = {
            let mut s = lock(&self.inner.sessions);
            s.retain(|_, (_, exp)| *exp > now);
            s.len()
        };
        state.codes.len() + state.grants.len() + state.access.len() + state.refresh.len() + sessions
    }

    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }

    /// Counts a write and purges expired entries every [`PURGE_EVERY`] writes.
    fn wrote(&self, state: &mut State, now: u64) {
        if self.inner.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            state.purge(now);
            lock(&self.inner.sessions).retain(|_, (_, exp)| *exp > now);
        }
    }
}

/// Locks a mutex; a poisoned lock still holds consistent data here because
/// every critical section only moves whole records.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn purge(&mut self, now: u64) {
        self.codes.retain(|_, e| match e {
            CodeEntry::Live(r) => r.expires_at > now,
            CodeEntry::Used { expires_at, .. } => *expires_at > now,
        });
        self.access.retain(|_, r| r.expires_at > now);
        self.refresh.retain(|_, e| e.expires_at() > now);
        let (access, refresh) = (&self.access, &self.refresh);
        self.grants.retain(|_, g| {
            g.tokens.retain(|h| access.contains_key(h) || refresh.contains_key(h));
            g.record.expires_at > now
        });
    }

    fn insert_tokens(&mut self, tokens: &NewTokens) {
        let grant_id = &tokens.access.1.grant_id;
        let mut hashes = vec![tokens.access.0];
        self.access.insert(tokens.access.0, tokens.access.1.clone());
        if let Some((hash, record)) = &tokens.refresh {
            self.refresh.insert(*hash, RefreshEntry::Active(record.clone()));
            hashes.push(*hash);
        }
        if let Some(grant) = self.grants.get_mut(grant_id) {
            grant.tokens.extend(hashes);
        }
    }

    fn revoke_grant(&mut self, id: &GrantId) {
        if let Some(grant) = self.grants.remove(id) {
            for hash in grant.tokens {
                self.access.remove(&hash);
                self.refresh.remove(&hash);
            }
        }
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Client>> {
        Ok(self.inner.clients.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned())
    }

    async fn put_client(&self, client: &Client) -> StorageResult<()> {
        self.inner.clients.write().unwrap_or_else(PoisonError::into_inner).insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool> {
        Ok(self.inner.clients.write().unwrap_or_else(PoisonError::into_inner).remove(id).is_some())
    }

    async fn list_clients(&self) -> StorageResult<Vec<Client>> {
        Ok(self.inner.clients.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, hash: &TokenHash, record: &CodeRecord) -> StorageResult<()> {
        let now = self.now();
        let mut state = self.state();
        state.codes.insert(*hash, CodeEntry::Live(record.clone()));
        self.wrote(&mut state, now);
        Ok(())
    }

    async fn take_code(&self, hash: &TokenHash) -> StorageResult<CodeTake> {
        let now = self.now();
        let mut state = self.state();
        let Some(entry) = state.codes.get_mut(hash) else { return Ok(CodeTake::Unknown) };
        let outcome = match entry {
            CodeEntry::Live(record) if record.expires_at > now => {
                let tombstone = CodeEntry::Used { grant_id: record.grant_id.clone(), expires_at: record.expires_at };
                match std::mem::replace(entry, tombstone) {
                    CodeEntry::Live(record) => CodeTake::Taken(record),
                    CodeEntry::Used { .. } => CodeTake::Unknown,
                }
            }
            CodeEntry::Used { grant_id, expires_at } if *expires_at > now => {
                CodeTake::Replayed { grant_id: grant_id.clone() }
            }
            _ => {
                state.codes.remove(hash);
                CodeTake::Unknown
            }
        };
        Ok(outcome)
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<()> {
        let now = self.now();
        let mut state = self.state();
        state.grants.insert(grant.id.clone(), GrantEntry { record: grant.clone(), tokens: Vec::new() });
        state.insert_tokens(tokens);
        self.wrote(&mut state, now);
        Ok(())
    }

    async fn get_access_token(&self, key: &TokenKey) -> StorageResult<Option<TokenRecord>> {
        let now = self.now();
        let state = self.state();
        Ok(state.access.get(&key.hash).filter(|r| r.expires_at > now && r.grant_id == key.grant).cloned())
    }

    async fn get_refresh_token(&self, key: &TokenKey) -> StorageResult<RefreshLookup> {
        let now = self.now();
        let state = self.state();
        Ok(match state.refresh.get(&key.hash) {
            Some(RefreshEntry::Active(r)) if r.expires_at > now && r.grant_id == key.grant => {
                RefreshLookup::Active(r.clone())
            }
            Some(RefreshEntry::Rotated { grant_id, expires_at }) if *expires_at > now && *grant_id == key.grant => {
                RefreshLookup::Rotated { grant_id: grant_id.clone() }
            }
            _ => RefreshLookup::Unknown,
        })
    }

    async fn rotate_refresh(&self, old: &TokenKey, new: &NewTokens) -> StorageResult<RotateOutcome> {
        let now = self.now();
        let mut state = self.state();
        let outcome = match state.refresh.get(&old.hash) {
            Some(RefreshEntry::Active(r))
                if r.expires_at > now && r.grant_id == old.grant && state.grants.contains_key(&r.grant_id) =>
            {
                let grant_id = r.grant_id.clone();
                if new.refresh.is_some() {
                    let grant_expiry = state.grants.get(&grant_id).map_or(now, |g| g.record.expires_at);
                    state.refresh.insert(old.hash, RefreshEntry::Rotated { grant_id, expires_at: grant_expiry });
                }
                state.insert_tokens(new);
                RotateOutcome::Rotated
            }
            Some(RefreshEntry::Rotated { grant_id, expires_at }) if *expires_at > now && *grant_id == old.grant => {
                let grant_id = grant_id.clone();
                state.revoke_grant(&grant_id);
                RotateOutcome::Reused
            }
            _ => RotateOutcome::Unknown,
        };
        self.wrote(&mut state, now);
        Ok(outcome)
    }

    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()> {
        let mut state = self.state();
        if state.access.get(&key.hash).is_some_and(|r| r.grant_id == key.grant) {
            state.access.remove(&key.hash);
        }
        Ok(())
    }

    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()> {
        self.state().revoke_grant(id);
        Ok(())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn find_user(&self, username: &str) -> StorageResult<Option<User>> {
        Ok(self.inner.users.read().unwrap_or_else(PoisonError::into_inner).get(username).cloned())
    }

    async fn get_user(&self, subject: &Subject) -> StorageResult<Option<User>> {
        let users = self.inner.users.read().unwrap_or_else(PoisonError::into_inner);
        Ok(users.values().find(|u| &u.subject == subject).cloned())
    }

    async fn put_user(&self, user: &User) -> StorageResult<()> {
        self.inner.users.write().unwrap_or_else(PoisonError::into_inner).insert(user.username.clone(), user.clone());
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load_session(&self, id: &TokenHash) -> StorageResult<Option<String>> {
        let now = self.now();
        Ok(lock(&self.inner.sessions).get(id).filter(|(_, exp)| *exp > now).map(|(data, _)| data.clone()))
    }

    async fn save_session(&self, id: &TokenHash, data: &str, expires_at: u64) -> StorageResult<()> {
        lock(&self.inner.sessions).insert(*id, (data.to_owned(), expires_at));
        let now = self.now();
        let mut state = self.state();
        self.wrote(&mut state, now);
        Ok(())
    }

    async fn delete_session(&self, id: &TokenHash) -> StorageResult<()> {
        lock(&self.inner.sessions).remove(id);
        Ok(())
    }

    async fn ping(&self) -> StorageResult<()> {
        Ok(())
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn get_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<Option<ScopeSet>> {
        let now = self.now();
        let consents = lock(&self.inner.consents);
        Ok(consents.get(&(subject.clone(), client.clone())).filter(|(_, exp)| *exp > now).map(|(s, _)| s.clone()))
    }

    async fn put_consent(
        &self,
        subject: &Subject,
        client: &ClientId,
        scope: &ScopeSet,
        expires_at: u64,
    ) -> StorageResult<()> {
        let now = self.now();
        let mut consents = lock(&self.inner.consents);
        consents.retain(|_, (_, exp)| *exp > now);
        consents.insert((subject.clone(), client.clone()), (scope.clone(), expires_at));
        Ok(())
    }

    async fn revoke_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<bool> {
        Ok(lock(&self.inner.consents).remove(&(subject.clone(), client.clone())).is_some())
    }
}
