//! [`FetchedClientKeys`]: the JWK Sets of `private_key_jwt` clients and of
//! token exchange's trusted issuers, inline or fetched from their `jwks_uri`
//! with a time limit and a size limit, and cached. The engine asks it through
//! `oauth_core::assertion::ClientKeys` and `oauth_core::exchange::IssuerKeys`,
//! so core stays free of IO.
//!
//! A set is kept for `jwks_cache_ttl` seconds. When an assertion names a key
//! the cached set lacks (the client rotated its keys), the engine asks for a
//! refresh; the set is fetched again at most once per
//! `jwks_refetch_interval` seconds, since anyone can send an unknown `kid`.
//! A fetch that fails keeps the cached set while it is fresh; a client whose
//! first fetch failed is tried again after [`RETRY_AFTER_FAILURE`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oauth_core::assertion::{ClientKeys, KeySetError, check_jwks};
use oauth_core::client::Client;
use oauth_core::exchange::{IssuerKeys, TrustedIssuer};
use serde_json::Value;

/// How soon a `jwks_uri` whose fetch failed, with nothing cached, is tried again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Most `jwks_uri`s cached; the cache is cleared when full.
const MAX_CACHED: usize = 10_000;

/// Limits of `jwks_uri` fetching (`[private_key_jwt]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Time limit of one fetch, connection included.
    pub timeout: Duration,
    /// Largest accepted body, in bytes.
    pub max_bytes: usize,
    /// How long a fetched set is used before it is fetched again.
    pub cache_ttl: Duration,
    /// Least time between two fetches of one URI asked for by an unknown `kid`.
    pub refetch_interval: Duration,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            max_bytes: 64 * 1024,
            cache_ttl: Duration::from_secs(300),
            refetch_interval: Duration::from_secs(60),
        }
    }
}

/// One `jwks_uri`'s cache entry.
struct Entry {
    /// The last set fetched, and when.
    keys: Option<(Arc<Value>, Instant)>,
    /// The last fetch attempt, successful or not.
    attempted: Instant,
}

/// The server's [`ClientKeys`]: inline `jwks` as registered, `jwks_uri`
/// fetched over HTTP(S) and cached.
pub struct FetchedClientKeys {
    http: reqwest::Client,
    limits: FetchLimits,
    cache: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for FetchedClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedClientKeys").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl FetchedClientKeys {
    /// A fetcher with `limits`; redirects are not followed.
    pub fn new(limits: FetchLimits) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("oauth-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, limits, cache: Mutex::new(HashMap::new()) })
    }

    /// What the cache can answer for `uri` without a fetch, or `None` when
    /// a fetch is due.
    fn cached(&self, uri: &str, refresh: bool, now: Instant) -> Option<Result<Arc<Value>, KeySetError>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = cache.get(uri)?;
        let since_attempt = now.duration_since(entry.attempted);
        match &entry.keys {
            Some((keys, fetched)) => {
                let fresh = now.duration_since(*fetched) < self.limits.cache_ttl;
                let may_refetch = since_attempt >= self.limits.refetch_interval;
                (fresh && !(refresh && may_refetch)).then(|| Ok(keys.clone()))
            }
            None => (since_attempt < RETRY_AFTER_FAILURE)
                .then(|| Err(KeySetError::Unavailable("the last fetch failed moments ago".into()))),
        }
    }

    /// Fetches `uri`: status 200, at most `max_bytes`, a valid JWK Set.
    async fn fetch(&self, uri: &str) -> Result<Value, String> {
        let mut response =
            self.http.get(uri).header("accept", "application/json").send().await.map_err(|e| e.to_string())?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", response.status()));
        }
        if response.content_length().is_some_and(|n| n > self.limits.max_bytes as u64) {
            return Err("the JWK Set is too large".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > self.limits.max_bytes {
                return Err("the JWK Set is too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let keys: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        check_jwks(&keys)?;
        Ok(keys)
    }
}

#[async_trait::async_trait]
impl ClientKeys for FetchedClientKeys {
    async fn key_set(&self, client: &Client, refresh: bool) -> Result<Arc<Value>, KeySetError> {
        if let Some(jwks) = &client.jwks {
            return Ok(Arc::new(jwks.clone()));
        }
        let Some(uri) = client.jwks_uri.as_deref() else { return Err(KeySetError::Missing) };
        self.uri_key_set(uri, refresh, "client", client.id.as_str()).await
    }
}

#[async_trait::async_trait]
impl IssuerKeys for FetchedClientKeys {
    async fn key_set(&self, issuer: &TrustedIssuer, refresh: bool) -> Result<Arc<Value>, KeySetError> {
        if let Some(jwks) = &issuer.jwks {
            return Ok(Arc::new(jwks.clone()));
        }
        let Some(uri) = issuer.jwks_uri.as_deref() else { return Err(KeySetError::Missing) };
        self.uri_key_set(uri, refresh, "trusted issuer", &issuer.issuer).await
    }
}

impl FetchedClientKeys {
    /// The set at `uri`, from the cache or fetched; `owner` names whose it is in logs.
    async fn uri_key_set(
        &self,
        uri: &str,
        refresh: bool,
        kind: &'static str,
        owner: &str,
    ) -> Result<Arc<Value>, KeySetError> {
        if let Some(answer) = self.cached(uri, refresh, Instant::now()) {
            return answer;
        }
        let result = self.fetch(uri).await;
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED && !cache.contains_key(uri) {
            cache.clear();
        }
        let entry = cache.entry(uri.to_owned()).or_insert(Entry { keys: None, attempted: now });
        entry.attempted = now;
        match result {
            Ok(keys) => {
                let keys = Arc::new(keys);
                entry.keys = Some((keys.clone(), now));
                Ok(keys)
            }
            Err(error) => {
                tracing::warn!(kind, owner, jwks_uri = uri, %error, "fetching a JWK Set failed");
                match &entry.keys {
                    Some((keys, fetched)) if now.duration_since(*fetched) < self.limits.cache_ttl => Ok(keys.clone()),
                    _ => Err(KeySetError::Unavailable(error)),
                }
            }
        }
    }
}
