//! The private Redis of the benchmark: `oauth_storage_redis::testing`'s
//! `LocalRedis`, pinned to the server core, with the figures the report
//! needs (CPU time, memory, key count) read through `redis-cli`.

use std::path::PathBuf;
use std::process::Command;

use oauth_storage_redis::testing::LocalRedis;

use crate::process::{SERVER_CORE, pin};

/// A `redis-server` on a free loopback port, stopped on drop.
pub(crate) struct Redis {
    local: LocalRedis,
}

impl Redis {
    /// Starts `redis-server` from `PATH`, without persistence, pinned to the server core.
    pub(crate) fn start() -> Self {
        let local = LocalRedis::start(PathBuf::from("redis-server"), &[])
            .expect("redis-server (install it: apt-get install redis-server)");
        pin(SERVER_CORE, local.pid().unwrap());
        Self { local }
    }

    pub(crate) fn url(&self) -> String {
        self.local.url()
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli").args(["-p", &self.local.port().to_string()]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A numeric field of `INFO`.
    pub(crate) fn info(&self, field: &str) -> f64 {
        self.cli(&["info"])
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// User + system CPU seconds of the server so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        self.info("used_cpu_user") + self.info("used_cpu_sys")
    }

    /// The number of keys (`DBSIZE`).
    pub(crate) fn keys(&self) -> f64 {
        self.cli(&["dbsize"]).trim().parse().unwrap_or(0.0)
    }

    /// Deletes every key.
    pub(crate) fn flush_all(&self) {
        self.cli(&["flushall"]);
    }
}
