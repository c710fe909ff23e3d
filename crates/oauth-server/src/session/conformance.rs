//! The session store conformance suite (feature `test-util`): every
//! [`SessionStore`] must pass [`run`]. It uses fresh random ids, so it can
//! share a backend with other tests, and the wall clock, since backends
//! expire sessions with their own.
//!
//! ```no_run
//! # async fn f() {
//! let store = oauth_server::session::MemorySessions::new();
//! oauth_server::session::conformance::run(&store).await;
//! # }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use oauth_core::generate::{RandomGenerator, TokenGenerator as _};
use oauth_core::types::TokenHash;

use super::SessionStore;

/// Runs every check against `store`; panics with a message naming the failed check.
pub async fn run<S: SessionStore + ?Sized>(store: &S) {
    ok(store.ping().await, "ping");
    let id = new_id();
    assert_eq!(ok(store.load_session(&id).await, "load_session"), None, "unknown session");
    ok(store.save_session(&id, "{\"user\":\"a\"}", now() + 60).await, "save_session");
    assert_eq!(
        ok(store.load_session(&id).await, "load_session").as_deref(),
        Some("{\"user\":\"a\"}"),
        "session round trip"
    );
    let other = new_id();
    assert_eq!(ok(store.load_session(&other).await, "load_session"), None, "sessions are apart");
    ok(store.save_session(&id, "{}", now() + 60).await, "save_session");
    assert_eq!(ok(store.load_session(&id).await, "load_session").as_deref(), Some("{}"), "session replaced");
    ok(store.delete_session(&id).await, "delete_session");
    assert_eq!(ok(store.load_session(&id).await, "load_session"), None, "deleted session");
    ok(store.delete_session(&id).await, "deleting an unknown session is not an error");

    let ended = new_id();
    ok(store.save_session(&ended, "{}", now() + 60).await, "save_session");
    ok(store.save_session(&ended, "{}", now().saturating_sub(1)).await, "save_session (expired)");
    assert_eq!(ok(store.load_session(&ended).await, "load_session"), None, "a session saved as expired is gone");
}

fn new_id() -> TokenHash {
    TokenHash::of(&RandomGenerator.token())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("session conformance: {what} failed: {e}"))
}
