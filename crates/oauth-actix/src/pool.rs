//! [`BlockingPool`]: the threads that run CPU-heavy checks (Argon2) for the
//! whole process, bounded in threads and in queued work.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use oauth_core::offload::{Job, Offload, Saturated};
use tokio::sync::oneshot;

/// A fixed set of threads for the engine's CPU-heavy checks, with a bounded
/// queue in front of them.
///
/// At most `threads` checks run at once, whatever the number of actix
/// workers, so memory stays bounded (Argon2id takes 19 MiB per check) and
/// the async workers never run one. When every thread is busy and `queue`
/// checks wait, the next is refused at once ([`Saturated`]), which the engine
/// answers with `503 temporarily_unavailable` and `Retry-After`.
///
/// [`OAuthEndpoints::new`](crate::OAuthEndpoints::new) installs
/// [`BlockingPool::global`] on a server that has no
/// [`Offload`] yet; set your own with
/// [`AuthorizationServer::with_offload`](oauth_core::AuthorizationServer::with_offload).
#[derive(Debug)]
pub struct BlockingPool {
    sender: SyncSender<Task>,
    threads: usize,
    queue: usize,
}

/// A job and where its verdict goes.
struct Task {
    job: Job,
    reply: oneshot::Sender<bool>,
}

impl BlockingPool {
    /// Starts `threads` threads (at least one) that take checks from a queue
    /// of `queue` places. A thread the OS refuses to start is logged and
    /// left out; with none at all, every check is refused.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (sender, receiver) = sync_channel::<Task>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut started = 0;
        for i in 0..threads.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("oauth-offload-{i}")).spawn(move || work(&receiver));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "could not start a thread for CPU-heavy checks"),
            }
        }
        if started == 0 {
            // Nobody would ever answer: refuse everything instead of hanging.
            let (sender, _) = sync_channel(0);
            return Self { sender, threads: 0, queue: 0 };
        }
        Self { sender, threads: started, queue }
    }

    /// The process-wide pool: one thread per available core and a queue of
    /// [`QUEUE_PER_THREAD`] checks per thread, started on first use.
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<BlockingPool>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                Arc::new(Self::new(cores, cores * QUEUE_PER_THREAD))
            })
            .clone()
    }

    /// The threads that run checks.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The checks that may wait for a thread.
    pub fn queue(&self) -> usize {
        self.queue
    }
}

/// Queued checks per thread in [`BlockingPool::global`] and by default in
/// the server: with Argon2 at about 20 ms, a check waits at most about 1.3 s
/// before it starts. A queued check holds a few hundred bytes (its 19 MiB
/// are taken only when it runs), so the bound is on waiting, not memory; it
/// lets a burst of logins as large as a busy host's connections wait
/// instead of failing.
pub const QUEUE_PER_THREAD: usize = 64;

/// A pool thread: runs checks until the pool is dropped.
fn work(receiver: &Mutex<Receiver<Task>>) {
    loop {
        // The lock is held while waiting; the other threads queue for it, not for work.
        let next = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Task { job, reply }) = next else { return };
        // A panicking check answers nothing (the caller sees Saturated), and the thread lives on.
        if let Ok(verdict) = std::panic::catch_unwind(AssertUnwindSafe(job)) {
            let _ = reply.send(verdict);
        }
    }
}

#[async_trait::async_trait]
impl Offload for BlockingPool {
    async fn run(&self, job: Job) -> Result<bool, Saturated> {
        let (reply, verdict) = oneshot::channel();
        match self.sender.try_send(Task { job, reply }) {
            Ok(()) => verdict.await.map_err(|_| Saturated),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Saturated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_jobs_off_the_caller_and_refuses_beyond_threads_plus_queue() {
        let pool = BlockingPool::new(1, 1);
        assert_eq!((pool.threads(), pool.queue()), (1, 1));
        let caller = std::thread::current().id();
        assert_eq!(pool.run(Box::new(move || std::thread::current().id() != caller)).await, Ok(true));

        // Hold the only thread and fill the one queue place; the next check is refused.
        let (release, held) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let (blocker_reply, blocker) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = started.send(());
            held.recv().is_ok()
        });
        pool.sender.try_send(Task { job, reply: blocker_reply }).expect("a free thread");
        running.recv_timeout(Duration::from_secs(5)).expect("the first job starts");
        let (queued_reply, queued) = oneshot::channel();
        pool.sender.try_send(Task { job: Box::new(|| true), reply: queued_reply }).expect("a queue place");
        assert_eq!(pool.run(Box::new(|| true)).await, Err(Saturated), "threads + queue are full");
        release.send(()).expect("release");
        assert_eq!(blocker.await, Ok(true));
        assert_eq!(queued.await, Ok(true));
        assert_eq!(pool.run(Box::new(|| false)).await, Ok(false), "room again once the work is done");
    }

    #[tokio::test]
    async fn a_panicking_job_is_refused_and_the_thread_survives() {
        let pool = BlockingPool::new(1, 4);
        assert_eq!(pool.run(Box::new(|| panic!("boom"))).await, Err(Saturated));
        assert_eq!(pool.run(Box::new(|| true)).await, Ok(true));
    }
}
