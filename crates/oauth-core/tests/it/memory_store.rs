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
        dpop_jkt: None,
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

/// A family refreshed hourly for 1,000 hours keeps only what is live: the
/// markers of retired refresh tokens expire when those tokens would have,
/// and the family's token list is pruned, yet still reaches every live token
/// (access tokens live 100 hours here, so many are live at once).
#[tokio::test]
async fn a_long_refreshed_family_holds_only_live_tokens() {
    use oauth_core::storage::{GrantRecord, RefreshLookup, RefreshOutcome, RefreshRequest, TokenStore as _};
    use oauth_core::types::TokenKey;

    let clock = Arc::new(FixedClock::new(T0));
    let store = MemoryStore::with_clock(clock.clone());
    let grant = GrantRecord {
        id: "family".into(),
        client_id: "c".into(),
        subject: Some("s".into()),
        scope: oauth_core::testing::scopes("a"),
        issued_at: T0,
        expires_at: T0 + 90 * 86_400,
        auth_time: Some(T0),
    };
    let (access, first, mut tokens) = oauth_core::testing::family_tokens(&grant, "a0", Some("r0"));
    // The fixture's records are issued at wall-clock time; this test runs at T0.
    for (record, lifetime) in
        [(&mut tokens.access.1, 3600)].into_iter().chain(tokens.refresh.as_mut().map(|(_, r)| (r, 86_400)))
    {
        (record.issued_at, record.expires_at) = (T0, T0 + lifetime);
    }
    store.create_grant(&grant, &tokens).await.unwrap();
    let mut current = first.unwrap();
    let (mut retired, mut issued) = (Vec::new(), vec![access]);
    for n in 1..=1000 {
        clock.advance(3600);
        let key = |kind: &str| TokenKey::of(&format!("family.{kind}{n}")).unwrap();
        let (next_access, next) = (key("a"), key("r"));
        let request = RefreshRequest {
            client_id: "c".into(),
            scope: None,
            now: T0 + n * 3600,
            access: (next_access.hash, 100 * 3600),
            refresh: Some((next.hash, 86_400)),
            grace: None,
            jkt: None,
        };
        let outcome = store.refresh(&current, &request).await.unwrap();
        assert!(matches!(outcome, RefreshOutcome::Refreshed(_)), "refresh {n}: {outcome:?}");
        retired.push(std::mem::replace(&mut current, next));
        issued.push(next_access);
    }
    // The grant, 100 live access tokens, the active refresh token and the
    // markers of the last day's retired tokens.
    let live = store.live_records();
    assert!(live <= 2 + 100 + 25, "a family refreshed 1,000 times holds {live} records");
    assert_eq!(
        store.get_refresh_token(&retired[0]).await.unwrap(),
        RefreshLookup::Unknown,
        "a retired token past its expiry is simply unknown"
    );
    let recent = &retired[retired.len() - 2];
    assert!(matches!(store.get_refresh_token(recent).await.unwrap(), RefreshLookup::Rotated { .. }));
    let reuse = RefreshRequest {
        client_id: "c".into(),
        scope: None,
        now: T0 + 1000 * 3600,
        access: (oauth_core::types::TokenHash::of("x"), 3600),
        refresh: None,
        grace: None,
        jkt: None,
    };
    assert_eq!(store.refresh(recent, &reuse).await.unwrap(), RefreshOutcome::Reused, "recent reuse is detected");
    for access in &issued {
        assert_eq!(store.get_access_token(access).await.unwrap(), None, "reuse revokes every live access token");
    }
    assert_eq!(store.get_refresh_token(&current).await.unwrap(), RefreshLookup::Unknown, "and the refresh token");
    assert_eq!(store.live_records(), 0, "nothing of the family is left");
}

/// A bounded store refuses writes beyond its bound with `StorageError::Full`
/// (changing nothing) and purges expired records before counting. (The
/// server's answer, 503, is tested through HTTP in oauth-server.)
#[tokio::test]
async fn a_full_store_refuses_writes_until_records_expire() {
    use oauth_core::storage::{ConsentStore as _, StorageError, TokenStore as _};
    use oauth_core::testing::{code_record, family_tokens, grant_record, scopes, wall_clock_now};
    use oauth_core::types::TokenHash;

    let now = wall_clock_now();
    let clock = Arc::new(FixedClock::new(now));
    let store = MemoryStore::with_limit(clock.clone(), 3);
    for i in 0..3 {
        store.put_code(&TokenHash::of(&i.to_string()), &code_record("g", now + 60)).await.unwrap();
    }
    let full = store.put_code(&TokenHash::of("3"), &code_record("g", now + 60)).await;
    assert!(matches!(full, Err(StorageError::Full)), "{full:?}");
    let grant = grant_record("family", 3600);
    let (_, _, tokens) = family_tokens(&grant, "a0", Some("r0"));
    assert!(matches!(store.create_grant(&grant, &tokens).await, Err(StorageError::Full)));
    assert_eq!(store.live_records(), 3, "a refused write changes nothing");
    clock.advance(61);
    store.create_grant(&grant, &tokens).await.expect("expired records make room");
    assert_eq!(store.live_records(), 3);

    // Remembered consents have the same bound.
    for i in 0..3 {
        store.put_consent(&format!("s{i}").as_str().into(), &"c".into(), &scopes("a"), now + 3600).await.unwrap();
    }
    store.put_consent(&"s0".into(), &"c".into(), &scopes("a b"), now + 3600).await.expect("replacing one is no growth");
    let full = store.put_consent(&"s3".into(), &"c".into(), &scopes("a"), now + 3600).await;
    assert!(matches!(full, Err(StorageError::Full)), "{full:?}");
}

/// The failure counters are bounded: past the capacity, expired counters are
/// dropped, and when all are live a new key's failure is treated as over
/// any limit instead of being tracked.
#[tokio::test]
async fn throttle_counters_are_bounded() {
    use oauth_core::storage::ThrottleStore as _;
    use oauth_core::throttle::ThrottleKey;
    let clock = Arc::new(FixedClock::new(T0));
    let store = MemoryStore::with_clock(clock.clone());
    store.set_throttle_capacity(100);
    for i in 0..100 {
        let f = store.record_failure(&ThrottleKey::username(&format!("u{i}")), 60).await.unwrap();
        assert_eq!(f.count, 1);
    }
    let full = store.record_failure(&ThrottleKey::username("one-more"), 60).await.unwrap();
    assert_eq!(full.count, u32::MAX, "over any limit when full");
    assert_eq!(full.resets_in, 60);
    assert_eq!(store.throttle_counters(), 100, "not tracked");
    // A key already tracked still counts.
    assert_eq!(store.record_failure(&ThrottleKey::username("u7"), 60).await.unwrap().count, 2);
    clock.advance(60);
    assert_eq!(store.record_failure(&ThrottleKey::username("one-more"), 60).await.unwrap().count, 1, "room again");
    assert_eq!(store.throttle_counters(), 1, "expired counters are gone");
}
