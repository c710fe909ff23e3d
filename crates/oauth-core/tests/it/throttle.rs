//! Throttling of failed client authentication and logins: limits, the
//! answers (429 with Retry-After), the hot path that never asks the store,
//! and the unknown client that costs what a known one costs.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth_core::offload::{Job, Offload, Saturated};
use oauth_core::storage::ThrottleStore as _;
use oauth_core::testing::TestServer;
use oauth_core::throttle::{Limit, ThrottleKey, ThrottlePolicy, Verdict};
use oauth_core::types::ClientId;
use oauth_core::{OAuthRequest, OAuthResponse};

use crate::support::{assert_error, assert_tokens, basic, post};

/// Counts the Argon2 jobs it runs.
#[derive(Debug, Default)]
struct CountingPool(AtomicUsize);

#[async_trait::async_trait]
impl Offload for CountingPool {
    async fn run(&self, job: Job) -> Result<bool, Saturated> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(job())
    }
}

const A: &str = "203.0.113.7";
const B: &str = "198.51.100.9";

async fn server(throttle: ThrottlePolicy) -> (TestServer, Arc<CountingPool>) {
    let pool = Arc::new(CountingPool::default());
    let mut t = TestServer::with_policy(|p| p.throttle(throttle)).await;
    t.server = t.server.with_offload(pool.clone());
    (t, pool)
}

fn from(req: OAuthRequest, ip: &str) -> OAuthRequest {
    req.from_source(ip.parse::<IpAddr>().unwrap())
}

const CC: &str = "grant_type=client_credentials&scope=email";

async fn demo(t: &TestServer, secret: &str, ip: &str) -> OAuthResponse {
    t.server.token(&from(post(CC, Some(&basic("test_client", secret))), ip)).await
}

fn assert_throttled(response: &OAuthResponse, retry_after: &str, label: &str) {
    assert_error(response, 429, "temporarily_unavailable", label);
    assert_eq!(response.header("retry-after"), Some(retry_after), "{label}: Retry-After");
}

#[tokio::test]
async fn wrong_secrets_are_throttled_per_client_and_the_cached_right_secret_still_works() {
    let limits = ThrottlePolicy { client: Limit::new(3, 60), ..ThrottlePolicy::default() };
    let (t, pool) = server(limits).await;
    let jobs = || pool.0.load(Ordering::SeqCst);
    // The legitimate client authenticates once: its secret is verified and cached.
    assert_error(&demo(&t, "password", B).await, 400, "unauthorized_client", "right secret");
    assert_eq!(jobs(), 1);
    for i in 1..=3 {
        assert_error(&demo(&t, "wrong", A).await, 401, "invalid_client", "wrong secret under the limit");
        assert_eq!(jobs(), 1 + i, "each verified on the pool");
    }
    t.clock.advance(10);
    // Over the limit: 429 before any Argon2, from any address, for any uncached secret.
    assert_throttled(&demo(&t, "wrong", A).await, "50", "over the client limit");
    assert_throttled(&demo(&t, "another", B).await, "50", "over the client limit, other address");
    assert_eq!(jobs(), 4, "no Argon2 while throttled");
    // The right secret, verified before, is answered from the cache: served.
    assert_error(&demo(&t, "password", B).await, 400, "unauthorized_client", "cached right secret passes");
    assert_eq!(jobs(), 4);
    // Once the window is over, a wrong secret is an ordinary invalid_client again.
    t.clock.advance(51);
    assert_error(&demo(&t, "wrong", A).await, 401, "invalid_client", "window over");
    assert_eq!(jobs(), 5);
}

#[tokio::test]
async fn failures_are_counted_per_source_address_across_clients() {
    let limits = ThrottlePolicy { address: Limit::new(3, 900), ..ThrottlePolicy::default() };
    let (t, pool) = server(limits).await;
    let sprayed = ["test_client", "nobody", "someone"];
    for id in sprayed {
        let response = t.server.token(&from(post(CC, Some(&basic(id, "guess"))), A)).await;
        assert_error(&response, 401, "invalid_client", id);
    }
    let response = t.server.token(&from(post(CC, Some(&basic("other", "guess"))), A)).await;
    assert_throttled(&response, "900", "address over its limit");
    // IPv6 counts per /64: two addresses of one /64 share a counter.
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::3"] {
        let response = t.server.token(&from(post(CC, Some(&basic("x", "guess"))), ip)).await;
        assert_error(&response, 401, "invalid_client", ip);
    }
    let response = t.server.token(&from(post(CC, Some(&basic("y", "guess"))), "2001:db8:1:2::ffff")).await;
    assert_throttled(&response, "900", "same /64");
    let response = t.server.token(&from(post(CC, Some(&basic("y", "guess"))), "2001:db8:1:3::1")).await;
    assert_error(&response, 401, "invalid_client", "another /64");
    // Another address is not affected.
    assert_error(&demo(&t, "wrong", B).await, 401, "invalid_client", "other address");
    assert_eq!(pool.0.load(Ordering::SeqCst), 8, "every attempt let through cost one Argon2");
}

#[tokio::test]
async fn an_unknown_client_costs_what_a_known_one_costs() {
    let (t, pool) = server(ThrottlePolicy::default()).await;
    let jobs = || pool.0.load(Ordering::SeqCst);
    assert_error(&demo(&t, "wrong", A).await, 401, "invalid_client", "known client");
    assert_eq!(jobs(), 1);
    let unknown = t.server.token(&from(post(CC, Some(&basic("no-such-client", "wrong"))), A)).await;
    assert_error(&unknown, 401, "invalid_client", "unknown client");
    assert_eq!(unknown.json_body(), demo(&t, "wrong", A).await.json_body(), "same answer");
    assert_eq!(jobs(), 3, "one Argon2 job for the unknown client too");
    let form = format!("{CC}&client_id=no-such-client&client_secret=wrong");
    assert_error(&t.server.token(&from(post(&form, None), A)).await, 401, "invalid_client", "unknown, post");
    assert_eq!(jobs(), 4);
    // And its failures are counted like a known client's.
    let counted = t.store.failures(&ThrottleKey::client(&ClientId::new("no-such-client"))).await.unwrap();
    assert_eq!(counted.count, 2);
    // An unknown id without a secret needs no Argon2, like a known public client.
    let form = format!("{CC}&client_id=no-such-client");
    assert_error(&t.server.token(&from(post(&form, None), A)).await, 401, "invalid_client", "id only");
    assert_eq!(jobs(), 4);
}

#[tokio::test]
async fn sha256_secrets_never_ask_the_store_on_success_and_are_throttled_after_failures() {
    let limits = ThrottlePolicy { client: Limit::new(2, 60), ..ThrottlePolicy::default() };
    let (t, pool) = server(limits).await;
    let machine = |secret: &str| format!("grant_type=client_credentials&client_id=machine&client_secret={secret}");
    assert_tokens(&t.server.token(&from(post(&machine("machine-secret"), None), A)).await, "right");
    assert_eq!(t.store.throttle_counters(), 0, "a success touches no counter");
    for _ in 0..2 {
        assert_error(&t.server.token(&from(post(&machine("bad"), None), A)).await, 401, "invalid_client", "bad");
    }
    assert_throttled(&t.server.token(&from(post(&machine("bad"), None), A)).await, "60", "past the limit");
    assert_tokens(&t.server.token(&from(post(&machine("machine-secret"), None), A)).await, "right still served");
    assert_eq!(pool.0.load(Ordering::SeqCst), 0, "SHA-256 never uses the pool");
}

#[tokio::test]
async fn introspection_and_revocation_are_throttled_too() {
    let limits = ThrottlePolicy { client: Limit::new(1, 60), ..ThrottlePolicy::default() };
    let (t, _) = server(limits).await;
    let wrong = basic("test_client", "wrong");
    let introspect = || from(post("token=abc", Some(&wrong)), A);
    assert_error(&t.server.introspect(&introspect()).await, 401, "invalid_client", "introspect");
    assert_throttled(&t.server.introspect(&introspect()).await, "60", "introspect");
    let revoke = t.server.revoke(&from(post("token=abc", Some(&wrong)), A)).await;
    assert_throttled(&revoke, "60", "revoke");
}

#[tokio::test]
async fn login_counters_table() {
    let limits =
        ThrottlePolicy { username: Limit::new(2, 900), address: Limit::new(4, 900), ..ThrottlePolicy::default() };
    let (t, _) = server(limits).await;
    let s = &t.server;
    let a = Some(A.parse::<IpAddr>().unwrap());
    let b = Some(B.parse::<IpAddr>().unwrap());
    assert_eq!(s.login_throttle("alice", a).await.unwrap(), Verdict::Allow);
    assert_eq!(s.login_failed("alice", a).await.unwrap(), Verdict::Allow);
    assert_eq!(s.login_failed("alice", b).await.unwrap(), Verdict::Throttled { retry_after: 900 });
    // Per username: from any address.
    assert_eq!(s.login_throttle("alice", a).await.unwrap(), Verdict::Throttled { retry_after: 900 });
    assert_eq!(s.login_throttle("alice", None).await.unwrap(), Verdict::Throttled { retry_after: 900 });
    assert_eq!(s.login_throttle("bob", b).await.unwrap(), Verdict::Allow);
    // Spraying: many usernames from one address.
    for user in ["u1", "u2", "u3"] {
        s.login_failed(user, a).await.unwrap();
    }
    assert_eq!(s.login_throttle("fresh", a).await.unwrap(), Verdict::Throttled { retry_after: 900 });
    assert_eq!(s.login_throttle("fresh", b).await.unwrap(), Verdict::Allow);
    // Success resets the username, not the address.
    s.login_succeeded("alice").await.unwrap();
    assert_eq!(s.login_throttle("alice", b).await.unwrap(), Verdict::Allow);
    assert_eq!(s.login_throttle("alice", a).await.unwrap(), Verdict::Throttled { retry_after: 900 });
    t.clock.advance(900);
    assert_eq!(s.login_throttle("fresh", a).await.unwrap(), Verdict::Allow, "windows end");
}

#[tokio::test]
async fn the_password_grant_uses_the_login_counters() {
    let limits = ThrottlePolicy { username: Limit::new(2, 900), ..ThrottlePolicy::default() };
    let pool = Arc::new(CountingPool::default());
    let mut t = TestServer::with_policy(|p| p.allow_password_grant(true).throttle(limits)).await;
    t.server = t.server.with_offload(pool.clone());
    let mut machine = oauth_core::testing::machine_client();
    machine.grant_types.insert(oauth_core::types::GrantType::Password);
    oauth_core::storage::ClientStore::put_client(t.store.as_ref(), &machine).await.unwrap();
    let grant = |password: &str| {
        let form = format!(
            "grant_type=password&username=admin&password={password}&client_id=machine&client_secret=machine-secret"
        );
        from(post(&form, None), A)
    };
    for _ in 0..2 {
        assert_error(&t.server.token(&grant("wrong")).await, 400, "invalid_grant", "wrong password");
    }
    assert_throttled(&t.server.token(&grant("admin")).await, "900", "right password while locked");
    assert_eq!(pool.0.load(Ordering::SeqCst), 2, "no Argon2 while locked");
}
