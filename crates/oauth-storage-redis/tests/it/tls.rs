//! `rediss://` against a real redis-server listening with TLS only, its
//! certificate signed by a CA made for the test.

#[cfg(feature = "tls")]
mod with_tls {
    use std::path::Path;

    use oauth_storage_redis::RedisStore;
    use oauth_storage_redis::testing::{LocalRedis, redis_server_or_skip, skip_or_fail, unique_prefix};
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    /// A CA and a server certificate for 127.0.0.1 and localhost, written
    /// as PEM files into `dir`; returns the CA's PEM.
    fn throwaway_pki(dir: &Path) -> String {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "oauth-storage-redis test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();

        let key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        server.distinguished_name.push(DnType::CommonName, "redis test server");
        let cert = server.signed_by(&key, &ca_cert, &ca_key).unwrap();

        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        ca_cert.pem()
    }

    #[tokio::test]
    async fn conformance_over_tls_with_a_private_ca() {
        let test = "conformance_over_tls_with_a_private_ca";
        let Some(binary) = redis_server_or_skip(test) else { return };
        let dir = std::env::temp_dir().join(format!("oauth-tls-{}", unique_prefix()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = throwaway_pki(&dir);
        let redis = match LocalRedis::start_tls(
            binary,
            &dir.join("server.pem"),
            &dir.join("server.key"),
            &dir.join("ca.pem"),
        ) {
            Ok(redis) => redis,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                // Debian's redis-server 7 is built with TLS; one without it refuses --tls-port.
                return skip_or_fail(test, &format!("redis-server does not serve TLS (built without it?): {e}"));
            }
        };
        let url = redis.url();
        assert!(url.starts_with("rediss://"), "{url}");

        let store =
            RedisStore::builder(url.clone()).tls_root_certificates(ca).key_prefix(unique_prefix()).build().unwrap();
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

        drop(redis);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_ca_needs_rediss() {
        use oauth_storage_redis::BuildError;
        let built = RedisStore::builder("redis://127.0.0.1:6379").tls_root_certificates("pem").build();
        assert!(matches!(built, Err(BuildError::Tls(_))), "{built:?}");
    }
}
