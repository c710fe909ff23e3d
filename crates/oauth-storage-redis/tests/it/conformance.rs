use std::sync::Arc;

use oauth_core::storage::{CodeStore, CodeTake, RefreshOutcome, RefreshRequest, TokenStore};
use oauth_core::testing::{code_record, family_tokens, grant_record, wall_clock_now};
use oauth_core::types::TokenHash;

use crate::support::store;

#[tokio::test]
async fn conformance_suite() {
    let Some((store, _, _)) = store("conformance_suite") else { return };
    oauth_core::storage::conformance::run(&store).await;
}

/// 32 concurrent redemptions of one code: exactly one gets it, the rest see a replay.
#[tokio::test]
async fn a_code_is_taken_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_code_is_taken_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    for round in 0..5 {
        let hash = TokenHash::of(&format!("code-{round}"));
        store.put_code(&hash, &code_record(&format!("g{round}"), wall_clock_now() + 60)).await.unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.take_code(&hash).await.unwrap() })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            match task.await.unwrap() {
                CodeTake::Taken(_) => taken += 1,
                CodeTake::Replayed { grant_id } => assert_eq!(grant_id.as_str(), format!("g{round}")),
                CodeTake::Unknown => panic!("a consumed code must be reported as a replay"),
            }
        }
        assert_eq!(taken, 1, "round {round}");
    }
}

/// A code's exchange (take, then create the grant) racing 16 replays (take,
/// then revoke the grant), the exchange pausing between its steps by a
/// varying delay so that replays land before, between and after them:
/// whenever a replay arrives, no token of the code stays usable.
#[tokio::test]
async fn code_replays_revoke_whenever_they_land() {
    let Some((store, _, _)) = store("code_replays_revoke_whenever_they_land") else { return };
    let store = Arc::new(store);
    let mut refused = 0;
    for round in 0..12u64 {
        let grant_id = format!("race-{}-{round}", oauth_storage_redis::testing::unique_prefix());
        let hash = TokenHash::of(&grant_id);
        store.put_code(&hash, &code_record(&grant_id, wall_clock_now() + 60)).await.unwrap();
        let exchange = {
            let store = store.clone();
            let grant_id = grant_id.clone();
            tokio::spawn(async move {
                let CodeTake::Taken(record) = store.take_code(&hash).await.unwrap() else { return None };
                tokio::time::sleep(std::time::Duration::from_millis(round % 4 * 3)).await;
                let g = grant_record(record.grant_id.as_str(), 3600);
                let (access, _, tokens) = family_tokens(&g, "a", Some("r"));
                let created = store.create_grant(&g, &tokens).await.unwrap();
                assert_eq!(g.id.as_str(), grant_id);
                Some((created, access))
            })
        };
        let replays: Vec<_> = (0..16u64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(i % 8)).await;
                    match store.take_code(&hash).await.unwrap() {
                        CodeTake::Replayed { grant_id } => store.revoke_grant(&grant_id).await.unwrap(),
                        other => panic!("the exchange took the code first: {other:?}"),
                    }
                })
            })
            .collect();
        for replay in replays {
            replay.await.unwrap();
        }
        let (created, access) = exchange.await.unwrap().expect("the exchange takes the code");
        refused += usize::from(!created);
        assert_eq!(store.get_access_token(&access).await.unwrap(), None, "round {round}: created = {created}");
    }
    assert!(refused > 0, "some replays landed between the steps, and the creation was refused");
}

#[tokio::test]
async fn prefixes_keep_deployments_apart() {
    let Some((a, url, _)) = store("prefixes_keep_deployments_apart") else { return };
    let b = oauth_storage_redis::RedisStore::builder(url)
        .key_prefix(oauth_storage_redis::testing::unique_prefix())
        .build()
        .unwrap();
    let hash = TokenHash::of("shared-code");
    a.put_code(&hash, &code_record("g", wall_clock_now() + 60)).await.unwrap();
    assert_eq!(b.take_code(&hash).await.unwrap(), CodeTake::Unknown);
    assert!(matches!(a.take_code(&hash).await.unwrap(), CodeTake::Taken(_)));
}

#[test]
fn bad_configuration_is_refused() {
    use oauth_storage_redis::{BuildError, RedisStore};
    assert!(matches!(RedisStore::builder("redis://x").key_prefix("a{b}").build(), Err(BuildError::Prefix)));
    assert!(matches!(RedisStore::builder("http://x").build(), Err(BuildError::Url(_))));
    assert!(matches!(RedisStore::builder("redis://x").key_prefix("").build(), Err(BuildError::Prefix)));
}

/// 32 concurrent refreshes with one refresh token: one succeeds; the others
/// are reuse, which revokes the family: nothing of it stays usable.
#[tokio::test]
async fn a_refresh_grant_succeeds_exactly_once_under_concurrency() {
    let Some((store, _, _)) = store("a_refresh_grant_succeeds_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    let g = grant_record("family2", 3600);
    let (access, refresh, first) = family_tokens(&g, "a0", Some("r0"));
    store.create_grant(&g, &first).await.unwrap();
    let refresh = refresh.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            let (g, refresh) = (g.clone(), refresh.clone());
            tokio::spawn(async move {
                let (new_access, new_refresh, _) =
                    family_tokens(&g, &format!("a{}", i + 1), Some(&format!("r{}", i + 1)));
                let request = RefreshRequest {
                    client_id: g.client_id.clone(),
                    scope: None,
                    now: wall_clock_now(),
                    access: (new_access.hash, 300),
                    refresh: new_refresh.map(|k| (k.hash, 900)),
                    grace: None,
                    jkt: None,
                };
                (store.refresh(&refresh, &request).await.unwrap(), new_access)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut reused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (RefreshOutcome::Refreshed { .. }, new_access) => winners.push(new_access),
            (RefreshOutcome::Reused, _) => reused += 1,
            (RefreshOutcome::Unknown, _) => {}
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh");
    assert!(reused >= 1, "the losers are reuse");
    assert_eq!(store.get_access_token(&access).await.unwrap(), None, "family revoked");
    assert_eq!(store.get_access_token(&winners[0]).await.unwrap(), None, "the winner's tokens die with the family");
}

/// Grants of one client created while the client's grants are revoked
/// (it is being deleted), on several threads: whatever the interleaving,
/// once the revocation has returned no token of any of them is live, whether
/// its creation reported success or refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_created_during_a_client_revocation_do_not_survive_it() {
    let Some((store, _, _)) = store("grants_created_during_a_client_revocation_do_not_survive_it") else { return };
    let store = Arc::new(store);
    for round in 0..5 {
        let client = oauth_core::types::ClientId::new(format!("deleted-{round}"));
        let tasks: Vec<_> = (0..48)
            .map(|i| {
                let (store, client) = (store.clone(), client.clone());
                tokio::spawn(async move {
                    let mut g = grant_record(&format!("r{round}g{i}"), 900);
                    g.client_id = client;
                    let (access, _, tokens) = family_tokens(&g, &format!("a{i}"), Some(&format!("r{i}")));
                    store.create_grant(&g, &tokens).await.unwrap();
                    access
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_micros(300 * round)).await;
        store.revoke_client_grants(&client).await.unwrap();
        for task in tasks {
            let access = task.await.unwrap();
            assert_eq!(store.get_access_token(&access).await.unwrap(), None, "round {round}: a token survived");
        }
    }
}

/// 32 polls of one approved device code from separate tasks (separate
/// connections): exactly one takes the approval.
#[tokio::test]
async fn a_device_approval_is_taken_exactly_once_under_concurrency() {
    use oauth_core::device::DeviceKey;
    use oauth_core::storage::{
        DecideOutcome, DeviceApproval, DeviceDecision, DevicePoll, DeviceRecord, DeviceStatus, DeviceStore, PollOutcome,
    };
    let Some((store, _, _)) = store("a_device_approval_is_taken_exactly_once_under_concurrency") else { return };
    let store = Arc::new(store);
    for round in 0..5u16 {
        let now = wall_clock_now();
        let record = DeviceRecord {
            client_id: "tv".into(),
            scope: oauth_core::testing::scopes("a"),
            issued_at: now,
            expires_at: now + 600,
            interval: 5,
            last_poll: 0,
            status: DeviceStatus::Pending,
        };
        let device = DeviceKey { shard: round, hash: TokenHash::of(&format!("device-{round}")) };
        let user = DeviceKey { shard: round, hash: TokenHash::of(&format!("user-{round}")) };
        assert!(store.put_device(&device, &user, &record).await.unwrap());
        let approval = DeviceApproval { subject: "s".into(), scope: oauth_core::testing::scopes("a"), auth_time: now };
        let decision = DeviceDecision::Approve(approval.clone());
        assert_eq!(store.decide_device(&device, &decision, now).await.unwrap(), DecideOutcome::Decided);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store.poll_device(&device, &DevicePoll { client_id: "tv".into(), now }).await.unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                PollOutcome::Approved(_, got) => {
                    assert_eq!(got, approval);
                    won += 1;
                }
                PollOutcome::SlowDown(_) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}
