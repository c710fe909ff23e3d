//! A real three-master Redis Cluster started from the redis-server binary.

#[cfg(feature = "cluster")]
mod with_cluster {
    use std::sync::Arc;

    use oauth_core::storage::{CodeStore, CodeTake, RefreshOutcome, RefreshRequest, TokenStore};
    use oauth_core::types::TokenHash;
    use oauth_storage_redis::RedisStore;
    use oauth_storage_redis::testing::{LocalCluster, redis_server_or_skip, unique_prefix};

    use oauth_core::testing::{code_record, family_tokens, grant_record, wall_clock_now};

    #[tokio::test]
    async fn conformance_and_atomicity_on_a_cluster() {
        let Some(binary) = redis_server_or_skip("conformance_and_atomicity_on_a_cluster") else { return };
        let cluster = LocalCluster::start(binary).unwrap();
        let store = RedisStore::builder_for_nodes(cluster.urls()).key_prefix(unique_prefix()).build().unwrap();
        oauth_core::storage::conformance::run(&store).await;

        // Many families and codes spread over all slots still behave atomically.
        let store = Arc::new(store);
        for i in 0..20 {
            let hash = TokenHash::of(&format!("cluster-code-{i}"));
            store.put_code(&hash, &code_record(&format!("g{i}"), wall_clock_now() + 60)).await.unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.take_code(&hash).await.unwrap() })
                })
                .collect();
            let mut taken = 0;
            for t in tasks {
                taken += usize::from(matches!(t.await.unwrap(), CodeTake::Taken(_)));
            }
            assert_eq!(taken, 1);
            let g = grant_record(&format!("cfam{i}"), 3600);
            let (access, refresh, new) = family_tokens(&g, "a", Some("r"));
            store.create_grant(&g, &new).await.unwrap();
            assert!(store.get_access_token(&access).await.unwrap().is_some());
            let (next_access, next_refresh, _) = family_tokens(&g, "a2", Some("r2"));
            let request = RefreshRequest {
                client_id: g.client_id.clone(),
                scope: None,
                now: wall_clock_now(),
                access: (next_access.hash, 300),
                refresh: next_refresh.map(|k| (k.hash, 900)),
                grace: None,
                jkt: None,
            };
            let outcome = store.refresh(refresh.as_ref().unwrap(), &request).await.unwrap();
            assert!(matches!(outcome, RefreshOutcome::Refreshed(_)), "{outcome:?}");
            store.revoke_grant(&g.id).await.unwrap();
            assert!(store.get_access_token(&access).await.unwrap().is_none());
        }
    }
}
