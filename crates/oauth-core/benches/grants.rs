//! Criterion benchmarks of the IO-free paths on MemoryStore.
//!
//! Run with: `just bench` (or `cargo bench -p oauth-core`).
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_core::client::SecretHash;
use oauth_core::storage::{ClientStore as _, Stores};
use oauth_core::testing::{demo_client, machine_client};
use oauth_core::types::Subject;
use oauth_core::{Approval, AuthorizationServer, MemoryStore, OAuthRequest, ServerPolicy};

const QUERY: &str = "client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";

fn server(rt: &tokio::runtime::Runtime, grace: u64) -> AuthorizationServer {
    let store = Arc::new(MemoryStore::new());
    rt.block_on(async {
        // A server-generated secret (SHA-256), as production clients have.
        let mut client = demo_client();
        client.secret = Some(SecretHash::sha256("generated-secret"));
        store.put_client(&client).await.unwrap();
        store.put_client(&machine_client()).await.unwrap();
    });
    let issuer = oauth_core::types::Issuer::new("https://auth.example.com", false).unwrap();
    let policy = ServerPolicy::builder(issuer).allow_insecure_transport(true).refresh_grace(grace).build().unwrap();
    AuthorizationServer::new(policy, Stores::single(store))
}

fn server_with_grace(rt: &tokio::runtime::Runtime) -> AuthorizationServer {
    server(rt, 10)
}

fn auth_header() -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("test_client:generated-secret"))
}

async fn issue_code(server: &AuthorizationServer) -> String {
    let pending = server.authorize(&OAuthRequest::get(QUERY)).await.unwrap();
    let approval = Approval { subject: Subject::new("user-1"), scope: None, auth_time: server.now() };
    let response = server.approve(&pending, approval).await.unwrap();
    let location = response.location().unwrap();
    location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let server = server(&rt, 0);
    let grace_server = server_with_grace(&rt);
    let auth = auth_header();

    c.bench_function("authorize: parse and validate", |b| {
        b.iter(|| rt.block_on(server.authorize(&OAuthRequest::get(QUERY))).unwrap())
    });
    c.bench_function("issue code (authorize + approve)", |b| b.iter(|| rt.block_on(issue_code(&server))));
    c.bench_function("client_credentials (client auth + issue token)", |b| {
        let body = "grant_type=client_credentials&client_id=machine&client_secret=machine-secret";
        b.iter(|| {
            let r = rt.block_on(server.token(&OAuthRequest::post_form(body)));
            assert_eq!(r.status, 200);
        })
    });
    c.bench_function("issue and exchange a code", |b| {
        b.iter(|| {
            rt.block_on(async {
                let code = issue_code(&server).await;
                let body =
                    format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
                let r = server.token(&OAuthRequest::post_form(&body).with_header("Authorization", &auth)).await;
                assert_eq!(r.status, 200);
            })
        })
    });
    for (name, server) in [
        ("rotate a refresh token", &server),
        ("rotate a refresh token (refresh_grace 10 s: answer sealed and kept)", &grace_server),
    ] {
        c.bench_function(name, |b| {
            let mut refresh = rt.block_on(async {
                let code = issue_code(server).await;
                let body =
                    format!("grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect");
                let r = server.token(&OAuthRequest::post_form(&body).with_header("Authorization", &auth)).await;
                r.json_body().unwrap()["refresh_token"].as_str().unwrap().to_owned()
            });
            b.iter(|| {
                let body = format!("grant_type=refresh_token&refresh_token={refresh}");
                let r = rt.block_on(server.token(&OAuthRequest::post_form(&body).with_header("Authorization", &auth)));
                refresh = r.json_body().unwrap()["refresh_token"].as_str().unwrap().to_owned();
            })
        });
    }

    // Growth: what separates issuance from lookups on the in-memory store.
    c.bench_function("MemoryStore: 200,000 client_credentials grants into an empty store", |b| {
        use oauth_core::storage::TokenStore as _;
        b.iter_batched(
            || {
                let generator = oauth_core::generate::RandomGenerator;
                let grants: Vec<_> = (0..200_000)
                    .map(|_| {
                        let mut id = oauth_core::TokenGenerator::token(&generator);
                        id.truncate(22);
                        let grant = oauth_core::testing::grant_record(&id, 3600);
                        let (_, _, tokens) = oauth_core::testing::family_tokens(&grant, "secret", None);
                        (grant, tokens)
                    })
                    .collect();
                (MemoryStore::new(), grants)
            },
            |(store, grants)| {
                for (grant, tokens) in &grants {
                    rt.block_on(store.create_grant(grant, tokens)).unwrap();
                }
                (store, grants)
            },
            criterion::BatchSize::PerIteration,
        )
    });
}

criterion_group!(grants, benches);
criterion_main!(grants);
