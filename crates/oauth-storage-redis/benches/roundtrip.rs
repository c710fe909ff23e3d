//! Criterion benchmarks of RedisStore round trips against a real Redis.
//!
//! Run with: `OAUTH_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p oauth-storage-redis`
//! (skips without the variable). `just bench` starts a throwaway Redis for it.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::storage::{CodeStore, RefreshOutcome, RefreshRequest, TokenStore};
use oauth_core::testing::{code_record, family_tokens, grant_record, wall_clock_now};
use oauth_core::types::TokenHash;
use oauth_storage_redis::RedisStore;

fn benches(c: &mut Criterion) {
    let Ok(url) = std::env::var("OAUTH_TEST_REDIS_URL") else {
        eprintln!("SKIPPING Redis benchmarks: OAUTH_TEST_REDIS_URL is not set");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = RedisStore::builder(url).key_prefix(format!("bench-{}", std::process::id())).build().unwrap();
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };

    c.bench_function("redis: put + take a code", |b| {
        b.iter(|| {
            let i = next();
            let hash = TokenHash::of(&format!("code-{i}"));
            let code = code_record(&format!("g{i}"), wall_clock_now() + 60);
            rt.block_on(async {
                store.put_code(&hash, &code).await.unwrap();
                store.take_code(&hash).await.unwrap();
            })
        })
    });

    let grant = |i: u64| grant_record(&format!("bg{i}"), 3600);
    c.bench_function("redis: create a grant (access + refresh)", |b| {
        b.iter(|| {
            let g = grant(next());
            let (_, _, tokens) = family_tokens(&g, "a", Some("r"));
            rt.block_on(store.create_grant(&g, &tokens)).unwrap();
        })
    });

    let g = grant(next());
    let (key, _, tokens) = family_tokens(&g, "lookup", None);
    rt.block_on(store.create_grant(&g, &tokens)).unwrap();
    c.bench_function("redis: look up an access token", |b| {
        b.iter(|| assert!(rt.block_on(store.get_access_token(&key)).unwrap().is_some()))
    });

    // The refresh grant's store work: one script.
    let g = grant(next());
    let (_, current, first) = family_tokens(&g, "a0", Some("r0"));
    let mut current = current.unwrap();
    rt.block_on(store.create_grant(&g, &first)).unwrap();
    c.bench_function("redis: refresh grant, one script", |b| {
        b.iter(|| {
            let i = next();
            let (access, refresh, _) = family_tokens(&g, &format!("a{i}"), Some(&format!("r{i}")));
            let refresh = refresh.unwrap();
            let request = RefreshRequest {
                client_id: g.client_id.clone(),
                scope: None,
                now: wall_clock_now(),
                access: (access.hash, 300),
                refresh: Some((refresh.hash, 900)),
                grace: None,
                jkt: None,
            };
            let outcome = rt.block_on(store.refresh(&current, &request));
            assert!(matches!(outcome.unwrap(), RefreshOutcome::Refreshed(_)));
            current = refresh;
        })
    });
}

criterion_group!(roundtrip, benches);
criterion_main!(roundtrip);
