//! Prometheus metrics: requests and latency per endpoint, tokens issued per
//! grant type, errors per OAuth error code, store operation latency, Redis
//! pool usage. Every label is a fixed string (route patterns, grant types,
//! RFC error codes, store operation names): never a token, code or secret.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use oauth_core::ErrorCode;
use oauth_core::client::Client;
use oauth_core::device::DeviceKey;
use oauth_core::observe::Observer;
use oauth_core::storage::{
    ClientStore, CodeRecord, CodeStore, CodeTake, DecideOutcome, DeviceDecision, DevicePoll, DeviceRecord, DeviceStore,
    GrantRecord, NewTokens, OnceStore, PollOutcome, RefreshLookup, RefreshOutcome, RefreshRequest, StorageResult,
    TokenRecord, TokenStore,
};
use oauth_core::types::{ClientId, GrantId, GrantType, TokenHash, TokenKey};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::session::SessionStore;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    endpoint: &'static str,
    error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottledLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: &'static str,
    outcome: &'static str,
}

/// The storage calls that [`Timed`] measures, each with its pre-made
/// histograms: timing a call touches no lock and hashes no label.
#[derive(Clone, Copy, Debug)]
enum StoreOp {
    GetClient,
    PutClient,
    DeleteClient,
    ListClients,
    PutCode,
    TakeCode,
    CreateGrant,
    GetAccessToken,
    GetRefreshToken,
    Refresh,
    RevokeAccessToken,
    RevokeGrant,
    RevokeClientGrants,
    AddAccessToken,
    PutOnce,
    TakeOnce,
    PutDevice,
    FindDevice,
    DecideDevice,
    PollDevice,
    LoadSession,
    SaveSession,
    DeleteSession,
    Ping,
}

impl StoreOp {
    const ALL: [Self; 24] = [
        Self::GetClient,
        Self::PutClient,
        Self::DeleteClient,
        Self::ListClients,
        Self::PutCode,
        Self::TakeCode,
        Self::CreateGrant,
        Self::GetAccessToken,
        Self::GetRefreshToken,
        Self::Refresh,
        Self::RevokeAccessToken,
        Self::RevokeGrant,
        Self::RevokeClientGrants,
        Self::AddAccessToken,
        Self::PutOnce,
        Self::TakeOnce,
        Self::PutDevice,
        Self::FindDevice,
        Self::DecideDevice,
        Self::PollDevice,
        Self::LoadSession,
        Self::SaveSession,
        Self::DeleteSession,
        Self::Ping,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::GetClient => "get_client",
            Self::PutClient => "put_client",
            Self::DeleteClient => "delete_client",
            Self::ListClients => "list_clients",
            Self::PutCode => "put_code",
            Self::TakeCode => "take_code",
            Self::CreateGrant => "create_grant",
            Self::GetAccessToken => "get_access_token",
            Self::GetRefreshToken => "get_refresh_token",
            Self::Refresh => "refresh",
            Self::RevokeAccessToken => "revoke_access_token",
            Self::RevokeGrant => "revoke_grant",
            Self::RevokeClientGrants => "revoke_client_grants",
            Self::AddAccessToken => "add_access_token",
            Self::PutOnce => "put_once",
            Self::PutDevice => "put_device",
            Self::FindDevice => "find_device",
            Self::DecideDevice => "decide_device",
            Self::PollDevice => "poll_device",
            Self::TakeOnce => "take_once",
            Self::LoadSession => "load_session",
            Self::SaveSession => "save_session",
            Self::DeleteSession => "delete_session",
            Self::Ping => "ping",
        }
    }
}

/// The method label: the standard methods by name, anything else as
/// `OTHER`, so that no client can mint new series.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The grant type label; extension grants the engine accepts share `other`.
fn grant_label(grant_type: &GrantType) -> &'static str {
    match grant_type {
        GrantType::AuthorizationCode => "authorization_code",
        GrantType::RefreshToken => "refresh_token",
        GrantType::ClientCredentials => "client_credentials",
        GrantType::Password => "password",
        GrantType::TokenExchange => "token_exchange",
        GrantType::DeviceCode => "device_code",
        _ => "other",
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The server's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    tokens: Family<GrantLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    throttled: Family<ThrottledLabels, Counter>,
    /// Per [`StoreOp`]: its (ok, error) series of `store_operation_duration_seconds`.
    store_series: Vec<(Histogram, Histogram)>,
    pool_size: Gauge,
    pool_available: Gauge,
    pool: Option<PoolStatus>,
}

/// Reports (connections, idle connections) of a connection pool.
pub struct PoolStatus(pub Box<dyn Fn() -> (usize, usize) + Send + Sync>);

impl std::fmt::Debug for PoolStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolStatus")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Metrics {
    /// Registers every metric; `pool` reports (size, available) of the Redis pool.
    pub fn new(pool: Option<PoolStatus>) -> Self {
        let mut registry = Registry::with_prefix("oauth");
        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by route, method and status: latency histogram (its _count is the number of requests)",
            requests.clone(),
        );
        let tokens = Family::<GrantLabels, Counter>::default();
        registry.register("tokens_issued", "Token responses by grant type", tokens.clone());
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register("oauth_errors", "OAuth error answers by endpoint and error code", errors.clone());
        let throttled = Family::<ThrottledLabels, Counter>::default();
        registry.register(
            "throttled",
            "Attempts refused with 429 after too many failed authentications, by endpoint (login, token, revoke, introspect)",
            throttled.clone(),
        );
        let store = Family::<StoreLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "store_operation_duration_seconds",
            "Storage call latency by operation and outcome",
            store.clone(),
        );
        let store_series = StoreOp::ALL
            .iter()
            .map(|op| {
                let series = |outcome| store.get_or_create(&StoreLabels { operation: op.name(), outcome }).clone();
                (series("ok"), series("error"))
            })
            .collect();
        let pool_size = Gauge::default();
        registry.register("redis_connection_slots", "Multiplexed Redis connection slots", pool_size.clone());
        let pool_available = Gauge::default();
        registry.register(
            "redis_connections_live",
            "Redis connection slots holding a live connection",
            pool_available.clone(),
        );
        Self { registry, requests, tokens, errors, throttled, store_series, pool_size, pool_available, pool }
    }

    /// Counts one HTTP request.
    pub fn request(&self, endpoint: String, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { endpoint, method: method_label(method), status };
        self.requests.get_or_create(&labels).observe(seconds);
    }

    /// Counts one attempt refused by the throttle at `endpoint`.
    pub fn throttled(&self, endpoint: &'static str) {
        self.throttled.get_or_create(&ThrottledLabels { endpoint }).inc();
    }

    fn store_call(&self, op: StoreOp, start: Instant, ok: bool) {
        if let Some((success, failure)) = self.store_series.get(op as usize) {
            if ok { success } else { failure }.observe(start.elapsed().as_secs_f64());
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        if let Some(pool) = &self.pool {
            let (size, available) = (pool.0)();
            self.pool_size.set(i64::try_from(size).unwrap_or(i64::MAX));
            self.pool_available.set(i64::try_from(available).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Observer for Metrics {
    fn token_issued(&self, grant_type: &GrantType) {
        self.tokens.get_or_create(&GrantLabels { grant_type: grant_label(grant_type) }).inc();
    }

    fn oauth_error(&self, endpoint: &'static str, code: &ErrorCode) {
        self.errors.get_or_create(&ErrorLabels { endpoint, error: code.as_str().to_owned() }).inc();
        if matches!(code, ErrorCode::TooManyAttempts { .. }) {
            self.throttled(endpoint);
        }
    }

    // The engine's only observer is this one, so it also forwards audit events.
    fn audit(&self, event: &oauth_core::observe::AuditEvent<'_>) {
        crate::audit::record_engine(event);
    }
}

/// A store wrapper that times every call of the hot traits.
pub struct Timed<S: ?Sized> {
    inner: Arc<S>,
    metrics: Arc<Metrics>,
}

impl<S: ?Sized> std::fmt::Debug for Timed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timed")
    }
}

impl<S: ?Sized> Timed<S> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<S>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self { inner, metrics })
    }
}

/// Times one delegated call.
macro_rules! timed {
    ($self:ident, $op:ident, $call:expr) => {{
        let start = Instant::now();
        let result = $call.await;
        $self.metrics.store_call(StoreOp::$op, start, result.is_ok());
        result
    }};
}

#[async_trait]
impl<S: ClientStore + ?Sized> ClientStore for Timed<S> {
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Arc<Client>>> {
        timed!(self, GetClient, self.inner.get_client(id))
    }
    async fn put_client(&self, client: &Client) -> StorageResult<()> {
        timed!(self, PutClient, self.inner.put_client(client))
    }
    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool> {
        timed!(self, DeleteClient, self.inner.delete_client(id))
    }
    async fn list_clients(&self) -> StorageResult<Vec<Client>> {
        timed!(self, ListClients, self.inner.list_clients())
    }
}

#[async_trait]
impl<S: CodeStore + ?Sized> CodeStore for Timed<S> {
    async fn put_code(&self, hash: &TokenHash, record: &CodeRecord) -> StorageResult<()> {
        timed!(self, PutCode, self.inner.put_code(hash, record))
    }
    async fn take_code(&self, hash: &TokenHash) -> StorageResult<CodeTake> {
        timed!(self, TakeCode, self.inner.take_code(hash))
    }
}

#[async_trait]
impl<S: OnceStore + ?Sized> OnceStore for Timed<S> {
    async fn put_once(&self, key: &TokenHash, value: &[u8], expires_at: u64) -> StorageResult<bool> {
        timed!(self, PutOnce, self.inner.put_once(key, value, expires_at))
    }
    async fn take_once(&self, key: &TokenHash) -> StorageResult<Option<Vec<u8>>> {
        timed!(self, TakeOnce, self.inner.take_once(key))
    }
}

#[async_trait]
impl<S: DeviceStore + ?Sized> DeviceStore for Timed<S> {
    async fn put_device(&self, device: &DeviceKey, user: &DeviceKey, record: &DeviceRecord) -> StorageResult<bool> {
        timed!(self, PutDevice, self.inner.put_device(device, user, record))
    }
    async fn find_device(&self, user: &DeviceKey) -> StorageResult<Option<(DeviceKey, DeviceRecord)>> {
        timed!(self, FindDevice, self.inner.find_device(user))
    }
    async fn decide_device(
        &self,
        device: &DeviceKey,
        decision: &DeviceDecision,
        now: u64,
    ) -> StorageResult<DecideOutcome> {
        timed!(self, DecideDevice, self.inner.decide_device(device, decision, now))
    }
    async fn poll_device(&self, device: &DeviceKey, poll: &DevicePoll) -> StorageResult<PollOutcome> {
        timed!(self, PollDevice, self.inner.poll_device(device, poll))
    }
}

#[async_trait]
impl<S: TokenStore + ?Sized> TokenStore for Timed<S> {
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<bool> {
        timed!(self, CreateGrant, self.inner.create_grant(grant, tokens))
    }
    async fn get_access_token(&self, key: &TokenKey) -> StorageResult<Option<TokenRecord>> {
        timed!(self, GetAccessToken, self.inner.get_access_token(key))
    }
    async fn get_refresh_token(&self, key: &TokenKey) -> StorageResult<RefreshLookup> {
        timed!(self, GetRefreshToken, self.inner.get_refresh_token(key))
    }
    async fn refresh(&self, old: &TokenKey, request: &RefreshRequest) -> StorageResult<RefreshOutcome> {
        timed!(self, Refresh, self.inner.refresh(old, request))
    }
    async fn add_access_token(&self, key: &TokenKey, record: &TokenRecord) -> StorageResult<bool> {
        timed!(self, AddAccessToken, self.inner.add_access_token(key, record))
    }
    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()> {
        timed!(self, RevokeAccessToken, self.inner.revoke_access_token(key))
    }
    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()> {
        timed!(self, RevokeGrant, self.inner.revoke_grant(id))
    }
    async fn revoke_client_grants(&self, client: &ClientId) -> StorageResult<u64> {
        timed!(self, RevokeClientGrants, self.inner.revoke_client_grants(client))
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Timed<S> {
    async fn load_session(&self, id: &TokenHash) -> StorageResult<Option<String>> {
        timed!(self, LoadSession, self.inner.load_session(id))
    }
    async fn save_session(&self, id: &TokenHash, data: &str, expires_at: u64) -> StorageResult<()> {
        timed!(self, SaveSession, self.inner.save_session(id, data, expires_at))
    }
    async fn delete_session(&self, id: &TokenHash) -> StorageResult<()> {
        timed!(self, DeleteSession, self.inner.delete_session(id))
    }
    async fn ping(&self) -> StorageResult<()> {
        timed!(self, Ping, self.inner.ping())
    }
    fn live_count(&self) -> Option<usize> {
        self.inner.live_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        let metrics = Metrics::default();
        metrics.request("/oauth/token".into(), "POST", 200, 0.001);
        metrics.request("/oauth/token".into(), "BREW", 405, 0.001);
        metrics.token_issued(&GrantType::ClientCredentials);
        metrics.token_issued(&GrantType::parse("urn:example:custom"));
        metrics.token_issued(&GrantType::TokenExchange);
        metrics.token_issued(&GrantType::DeviceCode);
        let text = metrics.render();
        assert!(text.contains(r#"method="POST""#), "{text}");
        assert!(text.contains(r#"method="OTHER""#), "{text}");
        assert!(!text.contains("BREW"), "a client-chosen method must not become a label: {text}");
        assert!(text.contains(r#"oauth_tokens_issued_total{grant_type="client_credentials"} 1"#), "{text}");
        assert!(text.contains(r#"oauth_tokens_issued_total{grant_type="other"} 1"#), "{text}");
        assert!(text.contains(r#"oauth_tokens_issued_total{grant_type="token_exchange"} 1"#), "{text}");
        assert!(text.contains(r#"oauth_tokens_issued_total{grant_type="device_code"} 1"#), "{text}");
        assert!(!text.contains("urn:example"), "{text}");
    }

    #[test]
    fn store_ops_index_their_own_series() {
        let names: std::collections::BTreeSet<&str> = StoreOp::ALL.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), StoreOp::ALL.len(), "one name per operation");
        for (i, op) in StoreOp::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{} is out of place in StoreOp::ALL", op.name());
        }
    }

    #[tokio::test]
    async fn timed_store_calls_land_in_their_series() {
        let metrics = Arc::new(Metrics::default());
        let store = Timed::new(Arc::new(oauth_core::storage::MemoryStore::new()), metrics.clone());
        assert!(store.get_client(&ClientId::new("nobody")).await.is_ok());
        let once = TokenHash::of("jti");
        assert_eq!(store.put_once(&once, b"", u64::MAX / 2).await.ok(), Some(true));
        assert_eq!(store.put_once(&once, b"", u64::MAX / 2).await.ok(), Some(false), "a replay");
        let text = metrics.render();
        let count = |op: &str, outcome: &str| {
            let line =
                format!(r#"oauth_store_operation_duration_seconds_count{{operation="{op}",outcome="{outcome}"}} "#);
            text.lines().find_map(|l| l.strip_prefix(line.as_str())).map(str::to_owned)
        };
        assert_eq!(count("get_client", "ok").as_deref(), Some("1"), "{text}");
        assert_eq!(count("get_client", "error").as_deref(), Some("0"), "{text}");
        assert_eq!(count("take_code", "ok").as_deref(), Some("0"), "{text}");
        assert_eq!(count("put_once", "ok").as_deref(), Some("2"), "DPoP and assertion replay checks: {text}");
    }
}
