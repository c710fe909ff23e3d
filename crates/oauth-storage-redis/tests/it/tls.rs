//! `rediss://` against a real redis-server listening with TLS only, its
//! certificate signed by a CA made for the test.

#[cfg(feature = "tls")]
mod with_tls {
    use oauth_storage_redis::RedisStore;
    use oauth_storage_redis::testing::{TlsRedis, redis_server_or_skip, skip_or_fail, unique_prefix};

    #[tokio::test]
    async fn conformance_over_tls_with_a_private_ca() {
        let test = "conformance_over_tls_with_a_private_ca";
        let Some(binary) = redis_server_or_skip(test) else { return };
        let redis = match TlsRedis::start(binary) {
            Ok(redis) => redis,
            // Debian's redis-server 7 is built with TLS; one without it refuses --tls-port.
            Err(e) => return skip_or_fail(test, &format!("redis-server does not serve TLS (built without it?): {e}")),
        };
        let url = redis.url();
        assert!(url.starts_with("rediss://"), "{url}");

        let store = RedisStore::builder(url.clone())
            .tls_root_certificates(redis.ca_pem())
            .key_prefix(unique_prefix())
            .build()
            .unwrap();
        store.ping().await.unwrap();
        assert!(store.server_version().await.is_ok(), "the version check passes over TLS");
        oauth_core::storage::conformance::run(&store).await;

        // The CA is what makes the connection: without it (the webpki roots)
        // the certificate is refused, and plain Redis does not get through.
        let untrusted = RedisStore::builder(url.clone()).key_prefix(unique_prefix()).build().unwrap();
        assert!(untrusted.ping().await.is_err(), "a certificate from an unknown CA must be refused");
        let plain = RedisStore::builder(url.replacen("rediss://", "redis://", 1))
            .key_prefix(unique_prefix())
            .timeout(std::time::Duration::from_millis(500))
            .build()
            .unwrap();
        assert!(plain.ping().await.is_err(), "the server speaks TLS only");
    }

    #[test]
    fn a_ca_needs_rediss() {
        use oauth_storage_redis::BuildError;
        let built = RedisStore::builder("redis://127.0.0.1:6379").tls_root_certificates("pem").build();
        assert!(matches!(built, Err(BuildError::Tls(_))), "{built:?}");
    }
}
