//! [`RedisStore`], its builder, and its connections: one multiplexed
//! connection per slot, a timeout on every call, reconnection after failures.
//! The storage traits over it are in `traits`, the records' stored forms in
//! `codec`.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{PoolConfig, Runtime, Timeouts};
use oauth_core::clock::{Clock, SystemClock};
use oauth_core::storage::{StorageError, StorageResult};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::keys::Keys;
use crate::version::{RedisVersion, VersionError};

/// Why a store could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL is not a Redis URL this build supports.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// The key prefix contains `{`, `}` or whitespace, which would break hash tags.
    #[error("key prefix must be non-empty without braces or whitespace")]
    Prefix,
    /// The pool could not be created; the source says why.
    #[error("cannot create the Redis pool")]
    Pool(#[source] oauth_core::storage::BoxError),
    /// A [`RedisStore::records`] namespace is empty, has characters other than
    /// ASCII letters, digits, `-` and `_`, or is one of the store's own.
    #[error("invalid record namespace {0:?}")]
    Namespace(String),
    /// The TLS settings cannot be used: a CA certificate without `rediss://`,
    /// with a Cluster, or that does not parse.
    #[error("Redis TLS: {0}")]
    Tls(String),
}

/// Configures a [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisStoreBuilder {
    urls: Vec<String>,
    prefix: String,
    pool_size: usize,
    timeout: Duration,
    root_ca: Option<Vec<u8>>,
    minimum_version: RedisVersion,
}

impl RedisStoreBuilder {
    /// The key prefix (default `oauth`): several deployments can share a Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The number of multiplexed connections (default 1). One connection
    /// carries every concurrent request, pipelined: Redis then reads and
    /// answers many commands per system call, which is what keeps its CPU per
    /// request low. Each thread sticks to one connection, so a value equal to
    /// the number of server workers gives each worker its own.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long one storage call may take, connection included (default 2 s).
    /// A call that takes longer fails, and the endpoint answers 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts these CA certificates (PEM, one or more) for `rediss://`
    /// instead of the webpki roots: for a Redis whose certificate a private CA
    /// signed. Needs the `tls` feature and a `rediss://` URL; not supported
    /// with a Cluster.
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_ca = Some(pem.into());
        self
    }

    /// Refuses servers older than `minimum` instead of [`RedisVersion::MINIMUM`]
    /// (tests use it to see the refusal on the Redis they have).
    #[cfg(feature = "test-util")]
    pub fn minimum_redis_version(mut self, minimum: RedisVersion) -> Self {
        self.minimum_version = minimum;
        self
    }

    fn pool_config(&self) -> PoolConfig {
        let mut config = PoolConfig::new(self.pool_size);
        config.timeouts =
            Timeouts { wait: Some(self.timeout), create: Some(self.timeout), recycle: Some(self.timeout) };
        config
    }

    /// Builds the store. No connection is made until the first call; each new
    /// connection first checks the server's version (see [`RedisVersion::MINIMUM`]).
    pub fn build(self) -> Result<RedisStore, BuildError> {
        check_prefix(&self.prefix)?;
        let cluster = self.urls.len() > 1 || self.urls.iter().any(|u| u.starts_with("redis-cluster://"));
        if cluster && self.root_ca.is_some() {
            return Err(BuildError::Tls("a CA certificate is not supported with Redis Cluster".into()));
        }
        let pool = if cluster { self.cluster_pool()? } else { self.single_pool()? };
        let slots = Slots::new(self.pool_size);
        Ok(RedisStore {
            pool,
            slots,
            keys: Keys::new(&self.prefix),
            timeout: self.timeout,
            clock: &SystemClock,
            minimum_version: self.minimum_version,
        })
    }

    fn single_pool(&self) -> Result<Pool, BuildError> {
        let url = self.urls.first().ok_or_else(|| BuildError::Url("no URL".into()))?;
        check_url(url)?;
        if let Some(ca) = &self.root_ca {
            if !url.starts_with("rediss://") {
                return Err(BuildError::Tls("a CA certificate needs a rediss:// URL".into()));
            }
            return self.tls_pool(url, ca);
        }
        let mut config = deadpool_redis::Config::from_url(url.clone());
        config.pool = Some(self.pool_config());
        config.create_pool(Some(Runtime::Tokio1)).map(Pool::Single).map_err(|e| BuildError::Pool(e.into()))
    }

    /// A pool whose connections trust `ca`: deadpool's configuration has no
    /// room for certificates, so the manager is made from a client that has them.
    #[cfg(feature = "tls")]
    fn tls_pool(&self, url: &str, ca: &[u8]) -> Result<Pool, BuildError> {
        let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(ca.to_vec()) };
        let client = redis::Client::build_with_tls(url, certificates).map_err(|e| BuildError::Tls(e.to_string()))?;
        let manager = deadpool_redis::Manager::new(client.get_connection_info().clone())
            .map_err(|e| BuildError::Pool(e.into()))?;
        deadpool_redis::Pool::builder(manager)
            .config(self.pool_config())
            .runtime(Runtime::Tokio1)
            .build()
            .map(Pool::Single)
            .map_err(|e| BuildError::Pool(e.into()))
    }

    #[cfg(not(feature = "tls"))]
    fn tls_pool(&self, _: &str, _: &[u8]) -> Result<Pool, BuildError> {
        Err(BuildError::Url("rediss:// needs the `tls` feature".into()))
    }

    #[cfg(feature = "cluster")]
    fn cluster_pool(&self) -> Result<Pool, BuildError> {
        let urls: Vec<String> = self
            .urls
            .iter()
            .map(|u| match u.strip_prefix("redis-cluster://") {
                Some(rest) => format!("redis://{rest}"),
                None => u.clone(),
            })
            .collect();
        for url in &urls {
            check_url(url)?;
        }
        let mut config = deadpool_redis::cluster::Config::from_urls(urls);
        config.pool = Some(self.pool_config());
        config.create_pool(Some(Runtime::Tokio1)).map(Pool::Cluster).map_err(|e| BuildError::Pool(e.into()))
    }

    #[cfg(not(feature = "cluster"))]
    fn cluster_pool(&self) -> Result<Pool, BuildError> {
        Err(BuildError::Url("Redis Cluster needs the `cluster` feature".into()))
    }
}

fn check_prefix(prefix: &str) -> Result<(), BuildError> {
    if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.contains(char::is_whitespace) {
        return Err(BuildError::Prefix);
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), BuildError> {
    let scheme_ok = url.starts_with("redis://") || url.starts_with("unix://");
    let tls = url.starts_with("rediss://");
    if tls && !cfg!(feature = "tls") {
        return Err(BuildError::Url("rediss:// needs the `tls` feature".into()));
    }
    if !(scheme_ok || tls) {
        return Err(BuildError::Url("expected redis://, rediss:// or redis-cluster://".into()));
    }
    #[cfg(feature = "tls")]
    if tls {
        // rustls needs a process-wide crypto provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    redis::parse_redis_url(url).map(|_| ()).ok_or_else(|| BuildError::Url("cannot parse the URL".into()))
}

#[derive(Clone)]
enum Pool {
    Single(deadpool_redis::Pool),
    #[cfg(feature = "cluster")]
    Cluster(deadpool_redis::cluster::Pool),
}

/// A multiplexed connection taken out of the pool for good: cloning it is
/// free, and reusing it skips the pool's health-check round trip (deadpool
/// pings on every checkout, which would double the round trips).
#[derive(Clone)]
enum Conn {
    Single(redis::aio::MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The connections in use, one per slot, made from the pool on demand and
/// dropped when they fail, so that a Redis restart heals by itself.
struct Slots {
    conns: Vec<std::sync::RwLock<Option<Conn>>>,
}

/// Numbers threads in the order they first use a store, so that each thread
/// keeps using one slot: the commands of one worker share a connection and
/// are pipelined together.
fn thread_index() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

impl Slots {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self { conns: (0..n.max(1)).map(|_| std::sync::RwLock::new(None)).collect() })
    }
}

/// Every oauth-core storage trait over Redis. Cheap to clone (a shared pool).
///
/// Atomic across processes: codes are consumed by one Lua script, the
/// refresh grant (lookup, checks, rotation, reuse detection) is one script on
/// the family's hash, and revoking a grant deletes that one key.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    slots: Arc<Slots>,
    keys: Keys,
    timeout: Duration,
    clock: &'static SystemClock,
    minimum_version: RedisVersion,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for one Redis URL (`redis://`, `rediss://` with `tls`,
    /// `redis-cluster://host:port` with `cluster`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        Self::builder_for_nodes(vec![url.into()])
    }

    /// A builder for a Redis Cluster given several node URLs (feature `cluster`).
    pub fn builder_for_nodes(urls: Vec<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            urls,
            prefix: "oauth".into(),
            pool_size: 1,
            timeout: Duration::from_secs(2),
            root_ca: None,
            minimum_version: RedisVersion::MINIMUM,
        }
    }

    /// A store on one URL with the default prefix and pool.
    pub fn from_url(url: &str) -> Result<Self, BuildError> {
        Self::builder(url).build()
    }

    /// A store on an existing pool, from which it takes one multiplexed connection
    /// (and a new one after a failure).
    pub fn from_pool(pool: deadpool_redis::Pool, key_prefix: &str) -> Result<Self, BuildError> {
        check_prefix(key_prefix)?;
        let slots = Slots::new(1);
        Ok(Self {
            pool: Pool::Single(pool),
            slots,
            keys: Keys::new(key_prefix),
            timeout: Duration::from_secs(2),
            clock: &SystemClock,
            minimum_version: RedisVersion::MINIMUM,
        })
    }

    /// Connection usage: (connection slots, slots with a live connection).
    pub fn pool_status(&self) -> (usize, usize) {
        let live = self.slots.conns.iter().filter(|c| c.read().map(|c| c.is_some()).unwrap_or(false)).count();
        (self.slots.conns.len(), live)
    }

    /// Whether Redis answers (for readiness probes).
    pub async fn ping(&self) -> StorageResult<()> {
        self.query::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    /// The version of the Redis server (on a Cluster, the oldest primary),
    /// refused with [`VersionError::TooOld`] when the store does not support
    /// it. A server calls it at start to refuse to run on an old Redis; the
    /// store checks every new connection in any case, so the scripts never
    /// run on one.
    ///
    /// The error is a [`StorageError`] when Redis cannot be reached; then
    /// [`StorageError::Backend`]'s source is the [`VersionError`] when the
    /// version is the problem, which [`VersionError::of`] finds.
    pub async fn server_version(&self) -> StorageResult<RedisVersion> {
        // A connection of its own, not kept in a slot: a multiplexed
        // connection's driver runs on the runtime that made it, and a server
        // calls this from its main runtime. Kept, it served the workers'
        // commands from that other thread, one wake-up and one write per
        // command instead of batched writes: half the throughput on Redis.
        self.bounded(async {
            // Boxed, as in `conn`: the pool's future is large and deep.
            let mut conn = Box::pin(self.new_conn()).await?;
            version_of(&mut conn, self.minimum_version).await
        })
        .await
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Whether this store talks to a Redis Cluster (where keys with
    /// different hash tags cannot share a request).
    pub(crate) fn is_cluster(&self) -> bool {
        match self.pool {
            Pool::Single(_) => false,
            #[cfg(feature = "cluster")]
            Pool::Cluster(_) => true,
        }
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The connection of this thread's slot, made from the pool if the slot is empty.
    async fn conn(&self) -> StorageResult<(usize, Conn)> {
        let slot = thread_index() % self.slots.conns.len();
        let existing = self.slots.conns[slot].read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some(conn) = existing {
            return Ok((slot, conn));
        }
        // Boxed: the pool's future is kilobytes, and every store call's
        // future would otherwise reserve (and copy when boxed) room for it.
        Box::pin(self.connect(slot)).await
    }

    /// A new connection from the pool, taken out of it for good.
    async fn new_conn(&self) -> StorageResult<Conn> {
        match &self.pool {
            Pool::Single(p) => {
                p.get().await.map(|c| Conn::Single(deadpool_redis::Connection::take(c))).map_err(backend)
            }
            #[cfg(feature = "cluster")]
            Pool::Cluster(p) => {
                p.get().await.map(|c| Conn::Cluster(deadpool_redis::cluster::Connection::take(c))).map_err(backend)
            }
        }
    }

    /// Makes the connection of `slot` from the pool.
    async fn connect(&self, slot: usize) -> StorageResult<(usize, Conn)> {
        // Redis cannot be reached: the connections made before are suspect too.
        let conn = Box::pin(self.new_conn()).await.inspect_err(|_| self.drop_conn())?;
        // A server the scripts do not support never gets a command: one
        // round trip per new connection, none per call.
        version_of(&mut conn.clone(), self.minimum_version).await.inspect_err(|_| self.drop_conn())?;
        *self.slots.conns[slot].write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(conn.clone());
        Ok((slot, conn))
    }

    /// Forgets every connection after a failure: when one connection to
    /// Redis broke, the others usually did too (a restart), and the next calls
    /// should not each discover it by failing. (Not every broken connection
    /// reports itself as an I/O error, so any error resets; our scripts and
    /// commands do not fail otherwise.)
    fn drop_conn(&self) {
        for conn in &self.slots.conns {
            *conn.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
    }

    /// Runs one command, within the timeout.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> StorageResult<T> {
        self.bounded(async {
            let (_, mut conn) = self.conn().await?;
            cmd.query_async(&mut conn).await.map_err(|e| self.failed(e))
        })
        .await
    }

    /// Runs a pipeline (a transaction when it is atomic), within the timeout.
    pub(crate) async fn pipeline<T: redis::FromRedisValue>(&self, pipe: &Pipeline) -> StorageResult<T> {
        self.bounded(async {
            let (_, mut conn) = self.conn().await?;
            pipe.query_async::<T>(&mut conn).await.map_err(|e| self.failed(e))
        })
        .await
    }

    /// Runs a script (EVALSHA, loading it on first use), within the timeout.
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> StorageResult<T> {
        self.bounded(async {
            let (_, mut conn) = self.conn().await?;
            invocation.invoke_async(&mut conn).await.map_err(|e| self.failed(e))
        })
        .await
    }

    /// The nodes a full `SCAN` must visit: the one server, or every primary
    /// of a cluster (from `CLUSTER NODES`).
    pub(crate) async fn scan_nodes(&self) -> StorageResult<Vec<ScanNode>> {
        match &self.pool {
            Pool::Single(_) => Ok(vec![ScanNode::Single]),
            #[cfg(feature = "cluster")]
            Pool::Cluster(_) => {
                let nodes: String = self.query(redis::cmd("CLUSTER").arg("NODES")).await?;
                let primaries = cluster_primaries(&nodes);
                if primaries.is_empty() {
                    return Err(StorageError::Backend("CLUSTER NODES lists no primary".into()));
                }
                Ok(primaries)
            }
        }
    }

    /// One `SCAN` step on `node`: the next cursor (0 at the end) and the keys
    /// matching `pattern` in this step.
    pub(crate) async fn scan(&self, node: &ScanNode, cursor: u64, pattern: &str) -> StorageResult<(u64, Vec<String>)> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(1000);
        match node {
            ScanNode::Single => self.query(&cmd).await,
            #[cfg(feature = "cluster")]
            ScanNode::Primary { host, port } => {
                use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
                let routing =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                self.bounded(async {
                    let (_, conn) = self.conn().await?;
                    let Conn::Cluster(mut conn) = conn else {
                        return Err(StorageError::Backend("a cluster node to scan, but no cluster".into()));
                    };
                    let value = conn.route_command(&cmd, routing).await.map_err(|e| self.failed(e))?;
                    redis::from_redis_value(&value).map_err(backend)
                })
                .await
            }
        }
    }

    /// Maps a failed call's error. Redis refusing a write because it is out
    /// of memory (`maxmemory` reached under `noeviction`) is
    /// [`StorageError::Full`], and the connection stays; any other error
    /// drops the connections (see [`Self::drop_conn`]).
    fn failed(&self, e: redis::RedisError) -> StorageError {
        if e.code() == Some("OOM") {
            return StorageError::Full;
        }
        self.drop_conn();
        backend(e)
    }

    async fn bounded<T>(&self, fut: impl std::future::Future<Output = StorageResult<T>>) -> StorageResult<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result,
            Err(elapsed) => {
                // A connection that stopped answering is replaced too.
                self.drop_conn();
                Err(backend(elapsed))
            }
        }
    }
}

/// A node a full `SCAN` visits (see [`RedisStore::scan_nodes`]).
pub(crate) enum ScanNode {
    /// The one server.
    Single,
    /// A cluster primary, by the address the cluster gives.
    #[cfg(feature = "cluster")]
    Primary { host: String, port: u16 },
}

/// The primaries of a `CLUSTER NODES` answer: lines of `id host:port@cport
/// flags ...`, where `flags` has `master` (and not `fail`).
#[cfg(feature = "cluster")]
fn cluster_primaries(nodes: &str) -> Vec<ScanNode> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.nth(1)?;
            let flags = fields.next()?;
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master") || flags.iter().any(|f| f.starts_with("fail")) {
                return None;
            }
            let address = address.split(['@', ',']).next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some(ScanNode::Primary { host: host.to_owned(), port: port.parse().ok()? })
        })
        .collect()
}

/// Reads `INFO server` on `conn` (every primary, on a Cluster) and refuses
/// a version below `minimum`. An ACL user may not run `INFO` (it is in
/// `@dangerous`); then the version comes from `HELLO`, which every user may
/// run (on a Cluster, from the node that answers).
async fn version_of(conn: &mut Conn, minimum: RedisVersion) -> StorageResult<RedisVersion> {
    let info: Result<Value, redis::RedisError> = redis::cmd("INFO").arg("server").query_async(conn).await;
    let answer = match info {
        Ok(answer) => answer,
        Err(e) if e.code() == Some("NOPERM") => {
            let hello: Value = redis::cmd("HELLO").query_async(conn).await.map_err(backend)?;
            crate::version::info_from_hello(&hello)
        }
        Err(e) => return Err(backend(e)),
    };
    crate::version::check_info(&answer, minimum).map_err(backend)
}

impl VersionError {
    /// The version problem behind a storage error, if that is what it is.
    pub fn of(error: &StorageError) -> Option<&VersionError> {
        match error {
            StorageError::Backend(source) => source.downcast_ref(),
            _ => None,
        }
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::Backend(Box::new(e))
}
