//! A real three-master Redis Cluster started from the redis-server binary.

#[cfg(feature = "cluster")]
mod with_cluster {
    use std::sync::Arc;

    use oauth_core::storage::{CodeStore, CodeTake, TokenStore};
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
            let (_, _, next) = family_tokens(&g, "a2", Some("r2"));
            store.rotate_refresh(refresh.as_ref().unwrap(), &next).await.unwrap();
            store.revoke_grant(&g.id).await.unwrap();
            assert!(store.get_access_token(&access).await.unwrap().is_none());
        }
    }
}
