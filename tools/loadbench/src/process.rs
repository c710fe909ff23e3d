//! Child processes: started pinned to a CPU, measured through `/proc`, and
//! killed when dropped.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The CPU of the service under test (server, and Redis when used).
pub(crate) const SERVER_CORE: &str = "0";
/// The CPU of the load generator (`wrk -t1`).
pub(crate) const CLIENT_CORE: &str = "1";

/// A child process, killed and reaped on drop.
pub(crate) struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub(crate) fn new(child: Child) -> Self {
        Self { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds of the process so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        ticks / 100.0
    }

    /// Peak resident set size in MiB (VmHWM).
    pub(crate) fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

/// `program`, to be started pinned to `core`.
pub(crate) fn pinned(core: &str, program: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c").arg(core).arg(program);
    c
}

/// Pins every thread of the running process `pid` to `core` (threads it
/// starts later inherit the affinity).
pub(crate) fn pin(core: &str, pid: u32) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", core, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("taskset");
    assert!(status.success(), "taskset could not pin process {pid} to CPU {core}");
}

/// Waits until `url` answers, for at most a minute.
pub(crate) async fn wait_http(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(url).send().await.is_err() {
        assert!(Instant::now() < deadline, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
