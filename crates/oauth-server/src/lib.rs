//! # oauth-server
//!
//! The assembled authorization server: configuration ([`config`]), login and
//! consent pages ([`pages`]), server-side sessions, probes and access logs,
//! on top of `oauth-actix` and `oauth-core`.
//!
//! [`build_state`] turns a [`Config`] into the shared [`AppState`];
//! [`configure`] mounts everything on an actix `App`, which is what `main`
//! and the tests use; [`run`] serves until SIGTERM or Ctrl-C.

pub mod admin;
pub mod audit;
pub mod client_keys;
pub mod config;
pub mod metrics;
pub mod pages;
pub mod registration;
pub mod session;
pub mod stores;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod web;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer};
use anyhow::Context as _;
use oauth_core::AuthorizationServer;

pub use config::Config;
pub use web::{AppState, configure, configure_admin};

/// Builds the shared state: the configured stores (seeded with the file's
/// clients and users), the engine, sessions and pages.
pub async fn build_state(config: &Config) -> anyhow::Result<Arc<AppState>> {
    build_state_with_clock(config, Arc::new(oauth_core::clock::SystemClock)).await
}

/// [`build_state`] on a given clock (tests move time with a fixed clock).
pub async fn build_state_with_clock(
    config: &Config,
    clock: Arc<dyn oauth_core::Clock>,
) -> anyhow::Result<Arc<AppState>> {
    let config::Assembly { policy, clients, users, cookie_key } = config.assemble()?;
    let mut backends = stores::open(config, clients, users, clock.clone()).await?;
    let metrics = Arc::new(metrics::Metrics::new(backends.pool_status.take()));
    let s = &mut backends.stores;
    s.clients = metrics::Timed::new(s.clients.clone(), metrics.clone());
    s.codes = metrics::Timed::new(s.codes.clone(), metrics.clone());
    s.tokens = metrics::Timed::new(s.tokens.clone(), metrics.clone());
    s.once = metrics::Timed::new(s.once.clone(), metrics.clone());
    s.devices = metrics::Timed::new(s.devices.clone(), metrics.clone());
    backends.sessions = metrics::Timed::new(backends.sessions.clone(), metrics.clone());
    let key = match cookie_key {
        Some(bytes) => actix_web::cookie::Key::from(&bytes),
        None => {
            if !config.storage.is_memory() {
                tracing::warn!(
                    "session.cookie_key is not set: a random key signs session cookies, so sessions do not move between instances"
                );
            }
            actix_web::cookie::Key::generate()
        }
    };
    let secure = policy.issuer().is_https();
    let sessions = session::Sessions::new(
        backends.sessions,
        key,
        config.session.cookie_name.clone(),
        secure,
        config.session.lifetime,
    );
    let pages =
        pages::Pages::new(config.server.templates_dir.as_deref(), &config.scopes, config.server.login_hint.clone())?;
    let users = backends.stores.users.clone();
    let (threads, queue) = config.server.hash_pool_size();
    // One fetcher and cache for clients' and trusted issuers' key sets.
    let keys = Arc::new(client_keys::FetchedClientKeys::new(config.private_key_jwt.fetch_limits()?)?);
    let mut engine = AuthorizationServer::new(policy, backends.stores)
        .with_clock(clock)
        .with_observer(metrics.clone())
        .with_offload(Arc::new(oauth_actix::BlockingPool::new(threads, queue)))
        .with_client_keys(keys.clone())
        .with_issuer_keys(keys);
    if let Some(nonces) = config.dpop.nonces()? {
        if config.dpop.nonce_key.is_none() && !config.storage.is_memory() {
            tracing::warn!("dpop.nonce_key is not set: a random key makes DPoP nonces, so other instances refuse them");
        }
        engine = engine.with_dpop_nonces(nonces);
    }
    let server = Arc::new(engine);
    install_keys(&server, config)?;
    Ok(Arc::new(AppState {
        server,
        sessions,
        pages,
        users,
        adapter: AppState::adapter_options(config),
        login_path: config.endpoints.login.clone(),
        consent_path: config.endpoints.consent.clone(),
        metrics: config.server.metrics.then_some(metrics),
        access_log: AccessLog { every_request: config.server.access_log },
        security_headers: SecurityHeaders::for_config(config, secure),
        admin_listener: config.server.admin_bind.is_some(),
    }))
}

/// Loads the configured signing keys into the server (also on reload).
pub fn install_keys(server: &AuthorizationServer, config: &Config) -> anyhow::Result<()> {
    let keys = config.key_set()?;
    if let Some(keys) = &keys {
        let kids: Vec<&str> = keys.keys().iter().map(|k| k.kid()).collect();
        tracing::info!(
            active = keys.active().kid(),
            alg = keys.active().alg().as_str(),
            ?kids,
            "signing keys installed"
        );
        if config.oidc.ephemeral_key.is_some() {
            tracing::warn!(
                "an ephemeral signing key was generated at start: tokens signed with it stop verifying after a restart; configure [[oidc.keys]] for production"
            );
        }
    }
    server.set_keys(keys);
    Ok(())
}

/// What the [`access_log`] middleware logs (`server.access_log`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLog {
    /// One line per request at `info`; otherwise only 5xx answers, at `warn`.
    pub every_request: bool,
}

/// Headers the [`access_log`] middleware adds to every answer.
#[derive(Debug, Clone, Default)]
pub struct SecurityHeaders {
    /// The `Strict-Transport-Security` value, when one is sent.
    pub hsts: Option<actix_web::http::header::HeaderValue>,
}

impl SecurityHeaders {
    /// HSTS with `server.hsts_max_age` when the issuer is https (`secure`)
    /// and the age is not zero. Browsers ignore the header over plain HTTP,
    /// and a proxy that terminates TLS passes it on.
    pub fn for_config(config: &Config, secure: bool) -> Self {
        let age = config.server.hsts_max_age;
        let hsts = (secure && age > 0)
            .then(|| actix_web::http::header::HeaderValue::from_str(&format!("max-age={age}")).ok())
            .flatten();
        Self { hsts }
    }
}

/// The public app: the access log and security headers around [`configure`].
/// `run` serves it; tests drive it with `actix_web::test::init_service`.
pub fn app(
    state: Arc<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().wrap(from_fn(access_log)).configure(move |cfg| configure(&state, cfg))
}

/// Request metrics, and log lines with method, path (never the query),
/// status and latency: for every request with `server.access_log`, for 5xx
/// answers always. It also adds the [`SecurityHeaders`] registered by
/// [`configure`] to every answer, errors and 404s included (one middleware
/// for both: each layer costs every request a boxed future).
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let metrics = req.app_data::<actix_web::web::Data<metrics::Metrics>>().cloned();
    let every_request = req.app_data::<actix_web::web::Data<AccessLog>>().is_some_and(|log| log.every_request);
    let hsts = req.app_data::<actix_web::web::Data<SecurityHeaders>>().and_then(|h| h.hsts.clone());
    let mut response = next.call(req).await?;
    if let Some(hsts) = hsts {
        response.headers_mut().insert(actix_web::http::header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let request = response.request();
    let (method, path) = (request.method(), request.path());
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if every_request {
        tracing::info!(%method, path, status, latency_us, "request");
    } else if status >= 500 {
        tracing::warn!(%method, path, status, latency_us, "request failed");
    }
    if let Some(metrics) = metrics {
        // The route pattern, not the path: labels stay few and never carry input.
        let endpoint = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        metrics.request(endpoint, method.as_str(), status, elapsed.as_secs_f64());
    }
    Ok(response)
}

/// Serves `config` until SIGTERM or Ctrl-C, then drains in-flight requests.
/// With `reload_from`, SIGHUP re-reads that file and installs its signing
/// keys: key rotation without a restart.
pub async fn run(config: Config, reload_from: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    if let Some(path) = reload_from {
        spawn_key_reload(state.server.clone(), path)?;
    }
    let workers = if config.server.workers == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        config.server.workers
    };
    let factory_state = state.clone();
    let server = HttpServer::new(move || app(factory_state.clone()))
        .workers(workers)
        .shutdown_timeout(10)
        .bind(&config.server.bind)
        .with_context(|| format!("server.bind: cannot listen on {}", config.server.bind))?;
    for addr in server.addrs() {
        tracing::info!(%addr, issuer = %state.server.policy().issuer(), "listening");
    }
    let public = server.run();
    match &config.server.admin_bind {
        None => public.await.context("server failed")?,
        Some(bind) => {
            let admin_state = state.clone();
            let admin = HttpServer::new(move || {
                let state = admin_state.clone();
                App::new().configure(move |cfg| configure_admin(&state, cfg))
            })
            .workers(1)
            .shutdown_timeout(10)
            .bind(bind)
            .with_context(|| format!("server.admin_bind: cannot listen on {bind}"))?;
            for addr in admin.addrs() {
                tracing::info!(%addr, "admin listener (metrics and probes)");
            }
            // Both stop on the same signal; the first error stops the process.
            tokio::try_join!(public, admin.run()).context("server failed")?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Reinstalls the signing keys from `path` on every SIGHUP; a bad file is
/// logged and the current keys stay.
fn spawn_key_reload(server: Arc<AuthorizationServer>, path: std::path::PathBuf) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    actix_web::rt::spawn(async move {
        while hangups.recv().await.is_some() {
            match Config::load(&path).and_then(|config| install_keys(&server, &config)) {
                Ok(()) => tracing::info!(path = %path.display(), "configuration reloaded: signing keys replaced"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "reload failed; the current keys stay"),
            }
        }
    });
    Ok(())
}
