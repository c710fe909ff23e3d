//! The storage conformance suite on MemoryStore, and its bounded memory.

use std::sync::Arc;

use oauth_core::MemoryStore;
use oauth_core::clock::FixedClock;
use oauth_core::storage::{CodeStore as _, conformance};
use oauth_core::testing::T0;

#[tokio::test]
async fn conformance_suite() {
    conformance::run(&MemoryStore::new()).await;
}

#[tokio::test]
async fn expired_entries_are_purged() {
    let clock = Arc::new(FixedClock::new(T0));
    let store = MemoryStore::with_clock(clock.clone());
    let record = |i: u64| oauth_core::storage::CodeRecord {
        grant_id: oauth_core::types::GrantId::new(format!("g{i}")),
        client_id: "c".into(),
        redirect_uri: oauth_core::testing::redirect_uri("https://c.example/cb"),
        redirect_uri_sent: false,
        scope: oauth_core::types::ScopeSet::empty(),
        subject: "s".into(),
        code_challenge: None,
        nonce: None,
        auth_time: T0,
        issued_at: T0,
        expires_at: T0 + 60,
    };
    for i in 0..5000 {
        store.put_code(&oauth_core::types::TokenHash::of(&i.to_string()), &record(i)).await.unwrap();
    }
    assert_eq!(store.live_records(), 5000);
    clock.advance(61);
    assert_eq!(store.live_records(), 0, "nothing outlives its expiry");
}
