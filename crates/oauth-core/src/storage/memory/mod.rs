//! [`MemoryStore`]: the embedded default store.
//!
//! Everything lives in process memory behind `std` locks that are never held
//! across an `.await` (every method body is synchronous). Expired entries are
//! invisible at once; each write also removes the entries whose time has come,
//! found through a time-ordered index, so memory stays bounded by the live
//! records and no call pays for a scan of the whole store.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use async_trait::async_trait;

use self::containers::{ExpiryIndex, Fold, Sharded, Timed};
use super::{
    ClientStore, CodeRecord, CodeStore, CodeTake, ConsentStore, DecideOutcome, DeviceDecision, DevicePoll,
    DeviceRecord, DeviceStore, GrantRecord, NewTokens, OnceStore, PollOutcome, REVOCATION_HOLD, RefreshLookup,
    RefreshOutcome, RefreshRequest, RetiredUse, RetryAnswer, StorageError, StorageResult, ThrottleStore, TokenRecord,
    TokenStore, UserStore,
};
use crate::client::Client;
use crate::clock::{Clock, SystemClock};
use crate::device::DeviceKey;
use crate::throttle::{Failures, ThrottleKey};
use crate::types::{ClientId, GrantId, ScopeSet, Subject, TokenHash, TokenKey};
use crate::user::User;

mod containers;

/// What an expiry index entry points at.
#[derive(Debug)]
enum Expiring {
    Code(TokenHash),
    Access(TokenHash),
    Refresh(TokenHash),
    Grant(GrantId),
    Revoked(GrantId),
    RevokedClient(ClientId),
}

/// In-memory implementation of every storage trait. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    /// Most live records of the token state, and most remembered consents.
    max_records: usize,
    clients: RwLock<BTreeMap<ClientId, Arc<Client>>>,
    users: RwLock<BTreeMap<String, User>>,
    state: Mutex<State>,
    consents: Mutex<Timed<(Subject, ClientId), ScopeSet>>,
    throttle: Mutex<Counters>,
    once: Mutex<Timed<TokenHash, Vec<u8>>>,
    devices: Mutex<Devices>,
}

/// Device authorizations: records by device key, and user-code keys
/// pointing at them, under one lock.
#[derive(Debug, Default)]
struct Devices {
    records: Timed<DeviceKey, DeviceRecord>,
    users: Timed<DeviceKey, DeviceKey>,
}

/// How many failure counters a [`MemoryStore`] keeps at most by default.
/// An entry costs about 100 bytes, so the bound is about 10 MB.
pub const THROTTLE_CAPACITY: usize = 100_000;

/// The failure counters: count and window end by key, bounded.
#[derive(Debug)]
struct Counters {
    map: std::collections::HashMap<ThrottleKey, (u32, u64)>,
    expiries: containers::ExpiryIndex<ThrottleKey>,
    capacity: usize,
}

impl Counters {
    fn purge(&mut self, now: u64) {
        for key in self.expiries.due(now) {
            if self.map.get(&key).is_some_and(|(_, end)| *end <= now) {
                self.map.remove(&key);
            }
        }
    }

    fn get(&self, key: &ThrottleKey, now: u64) -> Failures {
        match self.map.get(key) {
            Some(&(count, end)) if end > now => Failures { count, resets_in: end - now },
            _ => Failures::default(),
        }
    }
}

/// A grant id with its hash computed once. A map rehashes every key when it
/// grows; reading this hash costs nothing, where hashing the id would follow
/// each key to its string on the heap, a cache miss per entry (hashing grant
/// ids was half of the growing grants map's resize time).
#[derive(Debug, Clone)]
struct GrantKey {
    hash: u64,
    id: GrantId,
}

impl GrantKey {
    fn new(id: &GrantId) -> Self {
        Self { hash: Fold::default().hash_one(id), id: id.clone() }
    }
}

impl PartialEq for GrantKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.id == other.id
    }
}

impl Eq for GrantKey {}

impl Hash for GrantKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The token state, under one lock: every operation that must be atomic
/// (take a code, refresh, revoke a family) is one critical section.
#[derive(Debug, Default)]
struct State {
    codes: Sharded<TokenHash, CodeEntry>,
    grants: Sharded<GrantKey, Box<GrantEntry>>,
    access: Sharded<TokenHash, TokenRecord>,
    refresh: Sharded<TokenHash, RefreshEntry>,
    /// Revoked grant ids, until when `create_grant` refuses them.
    revoked: Sharded<GrantKey, u64>,
    /// Clients whose grants were revoked, until when `create_grant` refuses theirs.
    revoked_clients: BTreeMap<ClientId, u64>,
    expiries: ExpiryIndex<Expiring>,
}

#[derive(Debug)]
enum CodeEntry {
    Live(CodeRecord),
    Used { grant_id: GrantId, expires_at: u64 },
}

/// A grant's entry. Its map holds it boxed: a growing map moves every slot
/// when it doubles, and a pointer moves faster than the whole entry (grants
/// are looked up only to rotate and revoke, so the extra hop is rare).
#[derive(Debug)]
struct GrantEntry {
    record: GrantRecord,
    /// The hash of the access token issued with the grant, held in the
    /// entry: a `client_credentials` grant needs no list.
    first: TokenHash,
    /// The hashes of the family's other tokens: the live ones, and expired
    /// ones until the list is next pruned.
    others: Vec<TokenHash>,
    /// The answer kept for a retry of the refresh token retired last
    /// (refresh grace), with that token's hash: one per family at most.
    retry: Option<(TokenHash, RetryAnswer)>,
}

impl GrantEntry {
    fn tokens(&self) -> impl Iterator<Item = &TokenHash> {
        std::iter::once(&self.first).chain(&self.others)
    }
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
        Self::with_limit(clock, Self::DEFAULT_MAX_RECORDS)
    }

    /// The default bound of [`with_limit`](Self::with_limit): a million
    /// records, a few hundred megabytes.
    pub const DEFAULT_MAX_RECORDS: usize = 1_000_000;

    /// An empty store on the given clock holding at most `max_records` live
    /// records of the token state (codes, grants, access and refresh tokens),
    /// at most `max_records` remembered consents, at most `max_records`
    /// single-use records and at most `max_records` device authorizations. A write that would go
    /// beyond, once expired records are purged, fails with
    /// [`StorageError::Full`] and changes nothing.
    pub fn with_limit(clock: Arc<dyn Clock>, max_records: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                max_records,
                clients: RwLock::default(),
                users: RwLock::default(),
                state: Mutex::default(),
                consents: Mutex::default(),
                throttle: Mutex::new(Counters {
                    map: std::collections::HashMap::new(),
                    expiries: containers::ExpiryIndex::default(),
                    capacity: THROTTLE_CAPACITY,
                }),
                once: Mutex::default(),
                devices: Mutex::default(),
            }),
        }
    }

    /// Number of live records (codes, grants, access and refresh tokens),
    /// after purging expired ones. For tests and metrics.
    pub fn live_records(&self) -> usize {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        state.codes.len() + state.grants.len() + state.access.len() + state.refresh.len()
    }

    /// Sets how many failure counters the store keeps (default
    /// [`THROTTLE_CAPACITY`]). When every slot holds a live window, a failure
    /// for a key not yet counted is answered as over any limit (`count` =
    /// `u32::MAX`) instead of being tracked: an attacker rotating addresses or
    /// usernames cannot grow the store, and failures stay refused while it is
    /// full; successes are never refused by it (their check sees zero).
    pub fn set_throttle_capacity(&self, capacity: usize) {
        lock(&self.inner.throttle).capacity = capacity;
    }

    /// Number of live failure counters. For tests.
    pub fn throttle_counters(&self) -> usize {
        let now = self.now();
        let mut counters = lock(&self.inner.throttle);
        counters.purge(now);
        counters.map.len()
    }

    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }
}

/// Locks a mutex; a poisoned lock still holds consistent data here because
/// every critical section only moves whole records.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// Live records (expired ones too until purged).
    fn len(&self) -> usize {
        self.codes.len() + self.grants.len() + self.access.len() + self.refresh.len()
    }

    /// Refuses a write adding `adding` records beyond `max`; call after `purge`.
    fn room_for(&self, adding: usize, max: usize) -> StorageResult<()> {
        if self.len().saturating_add(adding) > max { Err(StorageError::Full) } else { Ok(()) }
    }

    /// Removes what has expired, by the index: only due entries are touched.
    fn purge(&mut self, now: u64) {
        for key in self.expiries.due(now) {
            match key {
                Expiring::Code(h) => {
                    let expired = match self.codes.get(&h) {
                        Some(CodeEntry::Live(r)) => r.expires_at <= now,
                        Some(CodeEntry::Used { expires_at, .. }) => *expires_at <= now,
                        None => false,
                    };
                    if expired {
                        self.codes.remove(&h);
                    }
                }
                Expiring::Access(h) => {
                    if self.access.get(&h).is_some_and(|r| r.expires_at <= now) {
                        self.access.remove(&h);
                    }
                }
                Expiring::Refresh(h) => {
                    if self.refresh.get(&h).is_some_and(|e| e.expires_at() <= now) {
                        self.refresh.remove(&h);
                    }
                }
                Expiring::Grant(id) => {
                    let key = GrantKey::new(&id);
                    if self.grants.get(&key).is_some_and(|g| g.record.expires_at <= now) {
                        self.grants.remove(&key);
                    }
                }
                Expiring::Revoked(id) => {
                    let key = GrantKey::new(&id);
                    if self.revoked.get(&key).is_some_and(|until| *until <= now) {
                        self.revoked.remove(&key);
                    }
                }
                Expiring::RevokedClient(id) => {
                    if self.revoked_clients.get(&id).is_some_and(|until| *until <= now) {
                        self.revoked_clients.remove(&id);
                    }
                }
            }
        }
    }

    /// Stores the tokens' records (their grant's entry lists them).
    fn insert_tokens(&mut self, tokens: NewTokens) {
        let (hash, record) = tokens.access;
        self.expiries.schedule(record.expires_at, Expiring::Access(hash));
        self.access.insert(hash, record);
        if let Some((hash, record)) = tokens.refresh {
            self.expiries.schedule(record.expires_at, Expiring::Refresh(hash));
            self.refresh.insert(hash, RefreshEntry::Active(record));
        }
    }

    /// Removes a grant and its tokens, and refuses to create it again for
    /// [`REVOCATION_HOLD`] seconds.
    fn revoke_grant(&mut self, id: &GrantId, now: u64) {
        let key = GrantKey::new(id);
        if let Some(grant) = self.grants.remove(&key) {
            for hash in grant.tokens() {
                self.access.remove(hash);
                self.refresh.remove(hash);
            }
        }
        let until = now.saturating_add(REVOCATION_HOLD);
        self.revoked.insert(key, until);
        self.expiries.schedule(until, Expiring::Revoked(id.clone()));
    }

    /// Whether `create_grant` must refuse `grant` (revoked, or its client's grants were).
    fn refuses(&self, grant: &GrantRecord, now: u64) -> bool {
        self.revoked.get(&GrantKey::new(&grant.id)).is_some_and(|until| *until > now)
            || self.revoked_clients.get(&grant.client_id).is_some_and(|until| *until > now)
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Arc<Client>>> {
        Ok(self.inner.clients.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned())
    }

    async fn put_client(&self, client: &Client) -> StorageResult<()> {
        let client = Arc::new(client.clone());
        self.inner.clients.write().unwrap_or_else(PoisonError::into_inner).insert(client.id.clone(), client);
        Ok(())
    }

    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool> {
        Ok(self.inner.clients.write().unwrap_or_else(PoisonError::into_inner).remove(id).is_some())
    }

    async fn list_clients(&self) -> StorageResult<Vec<Client>> {
        Ok(self
            .inner
            .clients
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|c| Client::clone(c))
            .collect())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn put_code(&self, hash: &TokenHash, record: &CodeRecord) -> StorageResult<()> {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        state.room_for(1, self.inner.max_records)?;
        state.codes.insert(*hash, CodeEntry::Live(record.clone()));
        state.expiries.schedule(record.expires_at, Expiring::Code(*hash));
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
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<bool> {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        if state.refuses(grant, now) {
            return Ok(false);
        }
        state.room_for(2 + usize::from(tokens.refresh.is_some()), self.inner.max_records)?;
        let others = tokens.refresh.as_ref().map(|(hash, _)| vec![*hash]).unwrap_or_default();
        let entry = GrantEntry { record: grant.clone(), first: tokens.access.0, others, retry: None };
        state.grants.insert(GrantKey::new(&grant.id), Box::new(entry));
        state.expiries.schedule(grant.expires_at, Expiring::Grant(grant.id.clone()));
        state.insert_tokens(tokens.clone());
        Ok(true)
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

    async fn refresh(&self, old: &TokenKey, request: &RefreshRequest) -> StorageResult<RefreshOutcome> {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        let record = match state.refresh.get(&old.hash) {
            Some(RefreshEntry::Active(r)) if r.expires_at > now && r.grant_id == old.grant => r.clone(),
            Some(RefreshEntry::Rotated { grant_id, expires_at }) if *expires_at > now && *grant_id == old.grant => {
                let grant_id = grant_id.clone();
                if let Some(grant) = state.grants.get_mut(&GrantKey::new(&grant_id)) {
                    let kept = grant.retry.as_ref().filter(|(hash, _)| *hash == old.hash).map(|(_, answer)| answer);
                    if RetryAnswer::decide(kept, now) == RetiredUse::Retry {
                        if let Some((_, answer)) = grant.retry.take() {
                            return Ok(RefreshOutcome::Retried(answer.sealed));
                        }
                    }
                }
                state.revoke_grant(&grant_id, now);
                return Ok(RefreshOutcome::Reused);
            }
            _ => return Ok(RefreshOutcome::Unknown),
        };
        if let Err(refusal) = request.check(&record) {
            return Ok(RefreshOutcome::Refused(refusal));
        }
        if !state.grants.contains_key(&GrantKey::new(&record.grant_id)) {
            return Ok(RefreshOutcome::Unknown);
        }
        let new = request.tokens(&record);
        // The old refresh token's entry is replaced in place: only the new access token adds one.
        let adding = if new.refresh.is_some() { 2 } else { 1 };
        state.room_for(adding, self.inner.max_records)?;
        if new.refresh.is_some() {
            // Reuse is detected until the retired token would have expired;
            // the index already holds that time for its hash.
            let marker = RefreshEntry::Rotated { grant_id: record.grant_id.clone(), expires_at: record.expires_at };
            state.refresh.insert(old.hash, marker);
        }
        let (new_access, new_refresh) = (new.access.0, new.refresh.as_ref().map(|(hash, _)| *hash));
        state.insert_tokens(new);
        let State { grants, access, refresh, .. } = &mut *state;
        if let Some(grant) = grants.get_mut(&GrantKey::new(&record.grant_id)) {
            // Before the list would grow, drop what has expired: a family
            // refreshed for months lists only its live tokens, at an
            // amortized constant cost per rotation.
            if grant.others.len() >= 64 && grant.others.len() + 2 > grant.others.capacity() {
                grant.others.retain(|h| access.contains_key(h) || refresh.contains_key(h));
            }
            grant.others.push(new_access);
            grant.others.extend(new_refresh);
            grant.retry = request.grace.clone().filter(|_| new_refresh.is_some()).map(|answer| (old.hash, answer));
        }
        Ok(RefreshOutcome::Refreshed(record))
    }

    async fn add_access_token(&self, key: &TokenKey, record: &TokenRecord) -> StorageResult<bool> {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        let grant_key = GrantKey::new(&key.grant);
        let live = state.grants.get(&grant_key).is_some_and(|g| g.record.expires_at > now);
        if !live || record.grant_id != key.grant {
            return Ok(false);
        }
        {
            let State { grants, access, refresh, .. } = &mut *state;
            if let Some(grant) = grants.get_mut(&grant_key) {
                // The family's entries: its first access token and the others.
                let prune = 1 + grant.others.len() >= super::MAX_FAMILY_ENTRIES
                    || (grant.others.len() >= 64 && grant.others.len() + 1 > grant.others.capacity());
                if prune {
                    grant.others.retain(|h| access.contains_key(h) || refresh.contains_key(h));
                }
                if 1 + grant.others.len() >= super::MAX_FAMILY_ENTRIES {
                    return Ok(false);
                }
            }
        }
        state.room_for(1, self.inner.max_records)?;
        let record = TokenRecord { expires_at: record.expires_at.min(record.grant_expires_at), ..record.clone() };
        state.expiries.schedule(record.expires_at, Expiring::Access(key.hash));
        state.access.insert(key.hash, record);
        if let Some(grant) = state.grants.get_mut(&grant_key) {
            grant.others.push(key.hash);
        }
        Ok(true)
    }

    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()> {
        let mut state = self.state();
        if state.access.get(&key.hash).is_some_and(|r| r.grant_id == key.grant) {
            state.access.remove(&key.hash);
        }
        Ok(())
    }

    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()> {
        let now = self.now();
        self.state().revoke_grant(id, now);
        Ok(())
    }

    /// Walks every grant under the lock: deleting a client is rare, and an
    /// index per client would cost every grant's creation.
    async fn revoke_client_grants(&self, client: &ClientId) -> StorageResult<u64> {
        let now = self.now();
        let mut state = self.state();
        state.purge(now);
        let ids: Vec<GrantId> =
            state.grants.iter().filter(|(_, g)| g.record.client_id == *client).map(|(k, _)| k.id.clone()).collect();
        for id in &ids {
            state.revoke_grant(id, now);
        }
        let until = now.saturating_add(REVOCATION_HOLD);
        state.revoked_clients.insert(client.clone(), until);
        state.expiries.schedule(until, Expiring::RevokedClient(client.clone()));
        Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
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
impl ConsentStore for MemoryStore {
    async fn get_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<Option<ScopeSet>> {
        let now = self.now();
        Ok(lock(&self.inner.consents).get(&(subject.clone(), client.clone()), now).cloned())
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
        let key = (subject.clone(), client.clone());
        if consents.len_after_purge(now) >= self.inner.max_records && consents.get(&key, now).is_none() {
            return Err(StorageError::Full);
        }
        consents.insert(key, scope.clone(), expires_at, now);
        Ok(())
    }

    async fn revoke_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<bool> {
        Ok(lock(&self.inner.consents).remove(&(subject.clone(), client.clone())))
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn record_failure(&self, key: &ThrottleKey, window: u64) -> StorageResult<Failures> {
        let now = self.now();
        let mut counters = lock(&self.inner.throttle);
        counters.purge(now);
        let live = counters.map.get(key).is_some_and(|(_, end)| *end > now);
        if !live && counters.map.len() >= counters.capacity && !counters.map.contains_key(key) {
            // Full of live windows: refuse to track more, and treat as over the limit.
            let resets_in = counters.map.values().map(|(_, end)| end.saturating_sub(now)).min().unwrap_or(window);
            return Ok(Failures { count: u32::MAX, resets_in: resets_in.max(1) });
        }
        let end = now.saturating_add(window);
        let entry = counters.map.entry(*key).or_insert((0, end));
        if !live {
            *entry = (0, end);
        }
        entry.0 = entry.0.saturating_add(1);
        let (count, end) = *entry;
        if !live {
            counters.expiries.schedule(end, *key);
        }
        Ok(Failures { count, resets_in: end - now })
    }

    async fn failures(&self, key: &ThrottleKey) -> StorageResult<Failures> {
        let now = self.now();
        Ok(lock(&self.inner.throttle).get(key, now))
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> StorageResult<()> {
        lock(&self.inner.throttle).map.remove(key);
        Ok(())
    }
}

#[async_trait]
impl OnceStore for MemoryStore {
    async fn put_once(&self, key: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<bool> {
        let now = self.now();
        let mut once = lock(&self.inner.once);
        if once.get(key, now).is_some() {
            return Ok(false);
        }
        if once.len_after_purge(now) >= self.inner.max_records {
            return Err(StorageError::Full);
        }
        once.insert(*key, value.to_vec(), expires_at, now);
        Ok(true)
    }

    async fn take_once(&self, key: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
        let now = self.now();
        Ok(lock(&self.inner.once).take(key, now))
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn put_device(&self, device: &DeviceKey, user: &DeviceKey, record: &DeviceRecord) -> StorageResult<bool> {
        let now = self.now();
        let mut devices = lock(&self.inner.devices);
        if devices.users.get(user, now).is_some() {
            return Ok(false);
        }
        if devices.records.len_after_purge(now) >= self.inner.max_records {
            return Err(StorageError::Full);
        }
        let until = record.keep_until();
        devices.records.insert(*device, record.clone(), until, now);
        devices.users.insert(*user, *device, until, now);
        Ok(true)
    }

    async fn find_device(&self, user: &DeviceKey) -> StorageResult<Option<(DeviceKey, DeviceRecord)>> {
        let now = self.now();
        let devices = lock(&self.inner.devices);
        let Some(device) = devices.users.get(user, now).copied() else { return Ok(None) };
        Ok(devices.records.get(&device, now).map(|record| (device, record.clone())))
    }

    async fn decide_device(
        &self,
        device: &DeviceKey,
        decision: &DeviceDecision,
        now: u64,
    ) -> StorageResult<DecideOutcome> {
        let at = self.now();
        let mut devices = lock(&self.inner.devices);
        Ok(match devices.records.get_mut(device, at) {
            Some(record) => record.decide(decision, now),
            None => DecideOutcome::Unknown,
        })
    }

    async fn poll_device(&self, device: &DeviceKey, poll: &DevicePoll) -> StorageResult<PollOutcome> {
        let now = self.now();
        let mut devices = lock(&self.inner.devices);
        Ok(match devices.records.get_mut(device, now) {
            Some(record) => poll.apply(record),
            None => PollOutcome::Unknown,
        })
    }
}
