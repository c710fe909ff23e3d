//! Test helpers (feature `test-util`).
//!
//! - [`redis_url_or_skip`]: the Redis of `OAUTH_TEST_REDIS_URL`; without it,
//!   tests skip loudly, except in CI (`CI` set), where they fail. "Loudly":
//!   the line goes to the process's stderr, past the test harness's capture,
//!   and each skipped test's name is appended to the file named by
//!   `OAUTH_TEST_SKIP_LOG`, if set, so that `just test` can count them.
//! - [`unique_prefix`]: a fresh key prefix per test, so tests run in parallel.
//! - [`LocalRedis`] and [`LocalCluster`]: private `redis-server` processes on
//!   free loopback ports, for tests that stop Redis, need a cluster or TLS
//!   ([`TlsRedis`]: `rediss://` with a throwaway CA), and for the load benchmark
//!   (`tools/loadbench`), which pins it by [`LocalRedis::pid`].

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming the test Redis.
pub const REDIS_URL_VAR: &str = "OAUTH_TEST_REDIS_URL";

/// The environment variable naming a file to which each skipped test
/// appends its name, one a line.
pub const SKIP_LOG_VAR: &str = "OAUTH_TEST_SKIP_LOG";

/// True when running in CI, where skipping is a failure.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The test Redis URL; `None` (with a loud message) when it is not configured
/// outside CI. In CI a missing Redis panics, so the run fails.
pub fn redis_url_or_skip(test: &str) -> Option<String> {
    match std::env::var(REDIS_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("{test}: {REDIS_URL_VAR} is not set, and Redis tests are mandatory in CI"),
        _ => {
            skip(
                test,
                &format!("no Redis ({REDIS_URL_VAR} is not set; `just test` sets it when redis-server is installed)"),
            );
            None
        }
    }
}

/// The `redis-server` binary, or `None` with a loud message outside CI (panics in CI).
pub fn redis_server_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("redis-server")).find(|p| p.is_file()));
    match found {
        Some(path) => Some(path),
        None if in_ci() => panic!("{test}: redis-server is not installed, and Redis tests are mandatory in CI"),
        None => {
            skip(test, "redis-server is not on PATH");
            None
        }
    }
}

/// Skips `test` loudly with `why`, or, in CI, panics with it: for a test
/// whose requirement is missing on this machine.
pub fn skip_or_fail(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: {why}, and Redis tests are mandatory in CI");
    }
    skip(test, why);
}

/// Reports a skipped test where a reader sees it: an `eprintln!` would be
/// captured by the test harness and shown only if the test failed, so the
/// run would report the test as passed and nothing else. Also appends the
/// test's name to the file of [`SKIP_LOG_VAR`], when set.
fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPING {test}: {why}");
    if let Some(path) = std::env::var_os(SKIP_LOG_VAR) {
        if let Ok(mut log) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(log, "{test}");
        }
    }
}

/// A unique key prefix (`test-<uuid>`).
pub fn unique_prefix() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A free TCP port on loopback (racy by nature, good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A private `redis-server` on a free loopback port; stopped on drop.
#[derive(Debug)]
pub struct LocalRedis {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    tls: bool,
    child: Option<Child>,
}

impl LocalRedis {
    /// Starts a server without persistence, with extra `redis-server` arguments.
    pub fn start(binary: PathBuf, extra: &[&str]) -> std::io::Result<Self> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("oauth-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut redis =
            Self { binary, port, dir, extra: extra.iter().map(|s| (*s).to_owned()).collect(), tls: false, child: None };
        redis.resume()?;
        Ok(redis)
    }

    /// Starts a server that speaks TLS only (`--port 0`, `--tls-port` on a
    /// free port), with this certificate and key (PEM files), the CA file
    /// `redis-server` requires, and no client certificates asked. Fails if
    /// this `redis-server` was built without TLS.
    pub fn start_tls(
        binary: PathBuf,
        cert_file: &std::path::Path,
        key_file: &std::path::Path,
        ca_file: &std::path::Path,
    ) -> std::io::Result<Self> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("oauth-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
        let extra = vec![
            "--tls-cert-file".to_owned(),
            path(cert_file),
            "--tls-key-file".to_owned(),
            path(key_file),
            "--tls-ca-cert-file".to_owned(),
            path(ca_file),
            "--tls-auth-clients".to_owned(),
            "no".to_owned(),
        ];
        let mut redis = Self { binary, port, dir, extra, tls: true, child: None };
        redis.resume()?;
        Ok(redis)
    }

    /// The URL of this server (`rediss://` when it speaks TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id while it runs (the load benchmark pins it to a CPU).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (as a crash would: no save).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, and waits until it answers.
    pub fn resume(&mut self) -> std::io::Result<()> {
        let port = self.port.to_string();
        let mut args = vec!["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--logfile", "redis.log"];
        if self.tls {
            args.extend(["--port", "0", "--tls-port", &port]);
        } else {
            args.extend(["--port", &port]);
        }
        args.extend(self.extra.iter().map(String::as_str));
        let child = Command::new(&self.binary)
            .args(&args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
                self.stop();
                return Err(std::io::Error::other(format!(
                    "redis-server did not start ({}); its log ends with: {}",
                    exited.map_or("timed out".to_owned(), |s| s.to_string()),
                    tail.join(" | ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local Redis Cluster of three masters on free loopback ports, created
/// with `redis-cli --cluster create`; stopped on drop.
#[derive(Debug)]
pub struct LocalCluster {
    nodes: Vec<LocalRedis>,
}

impl LocalCluster {
    /// Starts three cluster-enabled servers and joins them.
    pub fn start(binary: PathBuf) -> std::io::Result<Self> {
        let nodes = (0..3)
            .map(|_| LocalRedis::start(binary.clone(), &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]))
            .collect::<std::io::Result<Vec<_>>>()?;
        let cli = binary.with_file_name("redis-cli");
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        let status = Command::new(&cli)
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other("redis-cli --cluster create failed"));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in &addrs {
            let port = addr.rsplit(':').next().unwrap_or_default();
            loop {
                let out = Command::new(&cli).args(["-p", port, "cluster", "info"]).output()?;
                if String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(std::io::Error::other("cluster did not become ready"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(Self { nodes })
    }

    /// The node URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(LocalRedis::url).collect()
    }
}

/// A private TLS-only `redis-server` ([`LocalRedis::start_tls`]) whose
/// certificate (for `127.0.0.1` and `localhost`) a throwaway CA signed; the
/// CA's PEM is in [`TlsRedis::ca_pem`] and the file [`TlsRedis::ca_file`].
/// Stopped, and its files removed, on drop.
#[derive(Debug)]
pub struct TlsRedis {
    redis: LocalRedis,
    dir: PathBuf,
    ca_pem: String,
}

impl TlsRedis {
    /// Makes the CA and certificate, and starts the server. Fails if this
    /// `redis-server` was built without TLS (the error carries its log).
    pub fn start(binary: PathBuf) -> std::io::Result<Self> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let pki = |e: rcgen::Error| std::io::Error::other(format!("making the test certificates: {e}"));
        let ca_key = KeyPair::generate().map_err(pki)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "oauth-storage-redis test CA");
        let ca_cert = ca.self_signed(&ca_key).map_err(pki)?;
        let key = KeyPair::generate().map_err(pki)?;
        let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(pki)?;
        server.distinguished_name.push(DnType::CommonName, "redis test server");
        let cert = server.signed_by(&key, &ca_cert, &ca_key).map_err(pki)?;

        let dir = std::env::temp_dir().join(format!("oauth-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let started = (|| {
            std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
            std::fs::write(dir.join("server.pem"), cert.pem())?;
            std::fs::write(dir.join("server.key"), key.serialize_pem())?;
            LocalRedis::start_tls(binary, &dir.join("server.pem"), &dir.join("server.key"), &dir.join("ca.pem"))
        })();
        match started {
            Ok(redis) => Ok(Self { redis, dir, ca_pem: ca_cert.pem() }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// The `rediss://` URL.
    pub fn url(&self) -> String {
        self.redis.url()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file holding [`TlsRedis::ca_pem`].
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        self.redis.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
