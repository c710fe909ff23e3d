//! Criterion benchmarks of RedisStore round trips against a real Redis.
//!
//! Run with: `OAUTH_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p oauth-storage-redis`
//! (skips without the variable). `just bench` starts a throwaway Redis for it.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::storage::{CodeRecord, CodeStore, GrantRecord, NewTokens, TokenRecord, TokenStore};
use oauth_core::types::{ClientId, GrantId, RedirectUri, ScopeSet, Subject, TokenHash, TokenKey};
use oauth_storage_redis::RedisStore;

fn record(grant: &GrantRecord, now: u64) -> TokenRecord {
    TokenRecord {
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        scope: grant.scope.clone(),
        issued_at: now,
        expires_at: now + 300,
        grant_expires_at: grant.expires_at,
        auth_time: Some(now),
    }
}

fn benches(c: &mut Criterion) {
    let Ok(url) = std::env::var("OAUTH_TEST_REDIS_URL") else {
        eprintln!("SKIPPING Redis benchmarks: OAUTH_TEST_REDIS_URL is not set");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = RedisStore::builder(url).key_prefix(format!("bench-{}", std::process::id())).build().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };

    c.bench_function("redis: put + take a code", |b| {
        b.iter(|| {
            let i = next();
            let hash = TokenHash::of(&format!("code-{i}"));
            let code = CodeRecord {
                grant_id: GrantId::new(format!("g{i}")),
                client_id: ClientId::new("c"),
                redirect_uri: RedirectUri::new("https://c.example/cb", false).unwrap(),
                redirect_uri_sent: true,
                scope: ScopeSet::parse("email").unwrap(),
                subject: Subject::new("s"),
                code_challenge: None,
                nonce: None,
                auth_time: now,
                issued_at: now,
                expires_at: now + 60,
            };
            rt.block_on(async {
                store.put_code(&hash, &code).await.unwrap();
                store.take_code(&hash).await.unwrap();
            })
        })
    });

    let grant = |i: u64| GrantRecord {
        id: GrantId::new(format!("bg{i}")),
        client_id: ClientId::new("c"),
        subject: Some(Subject::new("s")),
        scope: ScopeSet::parse("email").unwrap(),
        issued_at: now,
        expires_at: now + 3600,
        auth_time: Some(now),
    };
    c.bench_function("redis: create a grant (access + refresh)", |b| {
        b.iter(|| {
            let g = grant(next());
            let tokens = NewTokens {
                access: (TokenHash::of(&format!("{}.a", g.id)), record(&g, now)),
                refresh: Some((TokenHash::of(&format!("{}.r", g.id)), record(&g, now))),
            };
            rt.block_on(store.create_grant(&g, &tokens)).unwrap();
        })
    });

    let g = grant(next());
    let key = TokenKey::of(&format!("{}.lookup", g.id)).unwrap();
    let tokens = NewTokens { access: (key.hash, record(&g, now)), refresh: None };
    rt.block_on(store.create_grant(&g, &tokens)).unwrap();
    c.bench_function("redis: look up an access token", |b| {
        b.iter(|| assert!(rt.block_on(store.get_access_token(&key)).unwrap().is_some()))
    });

    let g = grant(next());
    let mut current = TokenKey::of(&format!("{}.r0", g.id)).unwrap();
    let first = NewTokens {
        access: (TokenHash::of(&format!("{}.a0", g.id)), record(&g, now)),
        refresh: Some((current.hash, record(&g, now))),
    };
    rt.block_on(store.create_grant(&g, &first)).unwrap();
    c.bench_function("redis: rotate a refresh token", |b| {
        b.iter(|| {
            let i = next();
            let refresh = TokenKey::of(&format!("{}.r{i}", g.id)).unwrap();
            let tokens = NewTokens {
                access: (TokenHash::of(&format!("{}.a{i}", g.id)), record(&g, now)),
                refresh: Some((refresh.hash, record(&g, now))),
            };
            let outcome = rt.block_on(store.rotate_refresh(&current, &tokens)).unwrap();
            assert_eq!(outcome, oauth_core::storage::RotateOutcome::Rotated);
            current = refresh;
        })
    });
}

criterion_group!(roundtrip, benches);
criterion_main!(roundtrip);
