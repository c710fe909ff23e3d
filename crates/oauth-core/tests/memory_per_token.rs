//! How much memory `MemoryStore` allocates per stored token, counted by an
//! instrumented global allocator (this test is its own binary for that).
//!
//! Run with `cargo test -p oauth-core --test memory_per_token -- --nocapture`
//! to see the figure; docs/performance.md quotes it.
#![allow(clippy::unwrap_used, missing_docs)]

use oauth_core::MemoryStore;
use oauth_core::storage::TokenStore as _;
use oauth_core::testing::{family_tokens, grant_record};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Live bytes after storing `n` client_credentials-shaped grants (one access
/// token, no subject, no refresh token), divided by `n`.
async fn bytes_per_client_credentials_token(n: usize) -> usize {
    let store = MemoryStore::new();
    // The records are built before counting: only what the store keeps is measured.
    let families: Vec<_> = (0..n)
        .map(|i| {
            let mut grant = grant_record(&format!("{i:022}"), 3600);
            grant.subject = None;
            grant.auth_time = None;
            let (_, _, mut tokens) = family_tokens(&grant, &format!("{i:043}"), None);
            tokens.access.1.subject = None;
            tokens.access.1.auth_time = None;
            (grant, tokens)
        })
        .collect();
    let region = Region::new(ALLOCATOR);
    for (grant, tokens) in &families {
        store.create_grant(grant, tokens).await.unwrap();
    }
    let change = region.change();
    let live = change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated;
    drop(families);
    usize::try_from(live).unwrap_or(0) / n
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_credentials_token_costs_under_a_kilobyte() {
    let bytes = bytes_per_client_credentials_token(200_000).await;
    println!("MemoryStore: {bytes} bytes allocated per client_credentials token");
    // 626 bytes when measured (hash-map slots, shared identifiers, expiry
    // entries); the bound catches a regression to per-record copies.
    assert!(bytes < 800, "{bytes} bytes per token");
    assert!(bytes > 200, "{bytes} bytes per token: the counting is broken");
}
