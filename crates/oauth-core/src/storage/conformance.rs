//! The storage conformance suite (feature `test-util`).
//!
//! One function per trait, so a backend that implements only some of them
//! (say, a token store in front of file-configured clients) is verified for
//! what it implements: [`clients`], [`codes`], [`tokens`], [`users`],
//! [`consents`], [`throttle`], [`once`] and [`devices`]; [`run`] runs them all on a store implementing [`Store`].
//! The checks use fresh random keys, so they can run against a shared
//! backend in parallel with other tests, and real time for expiries, since
//! backends expire records with their own clock.
//!
//! ```no_run
//! # async fn f() {
//! use oauth_core::storage::conformance;
//! let store = oauth_core::MemoryStore::new();
//! conformance::run(&store).await;
//! // or, for a backend of tokens only:
//! conformance::tokens(&store).await;
//! # }
//! ```

use super::{
    ClientStore, CodeStore, CodeTake, ConsentStore, DecideOutcome, DeviceApproval, DeviceDecision, DevicePoll,
    DeviceRecord, DeviceStatus, DeviceStore, GrantRecord, NewTokens, OnceStore, PollOutcome, RefreshLookup,
    RefreshOutcome, RefreshRefusal, RefreshRequest, RetryAnswer, Store, ThrottleStore, TokenStore, UserStore,
};
use crate::client::{Client, SecretHash};
use crate::device::{DEVICE_EXPIRED_HOLD, DeviceKey, SLOW_DOWN_STEP};
use crate::generate::{RandomGenerator, TokenGenerator};
use crate::testing::{code_record, family_tokens, grant_record, wall_clock_now};
use crate::throttle::{Failures, ThrottleKey};
use crate::types::{ClientId, GrantId, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod, TokenHash, TokenKey};
use crate::user::{PasswordHash, User};

/// Runs every trait's checks against `store`; panics with a message naming the failed check.
pub async fn run<S: Store + ?Sized>(store: &S) {
    clients(store).await;
    users(store).await;
    codes(store).await;
    tokens(store).await;
    consents(store).await;
    throttle(store).await;
    code_replay_before_its_grant(store).await;
    once(store).await;
    devices(store).await;
}

/// [`ThrottleStore`]: counters per key, a window from the first failure
/// that the count does not extend, reset, and the end of the window.
/// Blocks the thread about two seconds (real time, for the backend's expiry).
pub async fn throttle<S: ThrottleStore + ?Sized>(store: &S) {
    let key = ThrottleKey::username(&unique("user"));
    let other = ThrottleKey::username(&unique("user"));
    assert_eq!(ok(store.failures(&key).await, "failures"), Failures::default(), "no window yet");
    for expected in 1..=3 {
        let f = ok(store.record_failure(&key, 60).await, "record_failure");
        assert_eq!(f.count, expected, "counted");
        assert!((59..=60).contains(&f.resets_in), "the window runs from the first failure: {f:?}");
    }
    // A later failure with another window length does not move the window.
    let f = ok(store.record_failure(&key, 600).await, "record_failure");
    assert_eq!(f.count, 4, "counted");
    assert!(f.resets_in <= 60, "the window is not extended: {f:?}");
    let f = ok(store.failures(&key).await, "failures");
    assert_eq!(f.count, 4, "failures reads the count");
    assert!((58..=60).contains(&f.resets_in), "and the time left: {f:?}");
    assert_eq!(ok(store.failures(&other).await, "failures"), Failures::default(), "per key");
    assert_eq!(
        ok(store.failures(&ThrottleKey::client(&ClientId::new(unique("c")))).await, "failures"),
        Failures::default(),
        "per kind"
    );
    ok(store.clear_failures(&key).await, "clear_failures");
    assert_eq!(ok(store.failures(&key).await, "failures"), Failures::default(), "cleared");
    assert_eq!(ok(store.record_failure(&key, 60).await, "record_failure").count, 1, "counting starts again");
    ok(store.clear_failures(&other).await, "clear_failures of nothing");

    let short = ThrottleKey::address(std::net::IpAddr::V6(std::net::Ipv6Addr::from(rand::random::<u128>())));
    assert_eq!(ok(store.record_failure(&short, 1).await, "record_failure").count, 1, "short window");
    assert_eq!(ok(store.record_failure(&short, 1).await, "record_failure").count, 2, "short window");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(ok(store.failures(&short).await, "failures"), Failures::default(), "the window ended");
    let f = ok(store.record_failure(&short, 1).await, "record_failure");
    assert_eq!(f.count, 1, "a new window after the end: {f:?}");
}

/// A code's exchange is two calls (take the code, create its grant); a
/// replay landing between them revokes the grant before it exists, and the
/// creation that follows must then be refused.
async fn code_replay_before_its_grant<S: CodeStore + TokenStore + ?Sized>(store: &S) {
    let hash = TokenHash::of(&unique("code"));
    let record = code_record(&unique("grant"), now() + 60);
    ok(store.put_code(&hash, &record).await, "put_code");
    let CodeTake::Taken(taken) = ok(store.take_code(&hash).await, "take_code") else {
        panic!("conformance: the first take gets the code")
    };
    // The replay, between the take and the grant's creation.
    let CodeTake::Replayed { grant_id } = ok(store.take_code(&hash).await, "take_code") else {
        panic!("conformance: the second take is a replay")
    };
    ok(store.revoke_grant(&grant_id).await, "revoke_grant");
    let mut grant = grant_record(taken.grant_id.as_str(), 3600);
    grant.client_id = taken.client_id.clone();
    let (access, refresh, tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
    assert!(
        !ok(store.create_grant(&grant, &tokens).await, "create_grant"),
        "a grant revoked by a replay before its creation is refused"
    );
    assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "no access token of it is stored");
    let refresh = refresh.unwrap_or_else(|| panic!("refresh"));
    assert_eq!(ok(store.get_refresh_token(&refresh).await, "get"), RefreshLookup::Unknown, "nor a refresh token");
}

/// [`OnceStore`]: a key is stored once, taken once, and never outlives its
/// expiry. (Concurrent first uses are a backend's own test: this suite runs
/// without an async runtime.)
pub async fn once<S: OnceStore + ?Sized>(store: &S) {
    let key = TokenHash::of(&unique("once"));
    let later = now() + 60;
    assert_eq!(ok(store.take_once(&key).await, "take_once"), None, "nothing stored yet");
    assert!(ok(store.put_once(&key, b"first", later).await, "put_once"), "the first use is stored");
    assert!(!ok(store.put_once(&key, b"second", later).await, "put_once"), "a second use is refused");
    assert_eq!(ok(store.take_once(&key).await, "take_once").as_deref(), Some(&b"first"[..]), "the first value stays");
    assert_eq!(ok(store.take_once(&key).await, "take_once"), None, "taken once");

    let expired = TokenHash::of(&unique("once"));
    assert!(ok(store.put_once(&expired, b"old", now() - 1).await, "put_once"), "stored already expired");
    assert_eq!(ok(store.take_once(&expired).await, "take_once"), None, "an expired record is never returned");
    assert!(ok(store.put_once(&expired, b"new", later).await, "put_once"), "an expired record does not block its key");
}

/// [`TokenStore`]: grants and their tokens, the refresh grant (rotation,
/// refusals, reuse revoking the family) and revocation.
pub async fn tokens<S: TokenStore + ?Sized>(store: &S) {
    grants_and_tokens(store).await;
    refresh_grant(store).await;
    revocation(store).await;
    revoked_grants_stay_revoked(store).await;
    client_revocation(store).await;
    refresh_retry(store).await;
    added_access_tokens(store).await;
}

/// [`TokenStore::add_access_token`] (token exchange): a token added to a
/// live family, with its `act` and `aud`, lives with it and dies with its
/// revocation; nothing is added to a revoked or unknown family.
async fn added_access_tokens<S: TokenStore + ?Sized>(store: &S) {
    let f = new_family(store).await;
    let added = key_in(&f.grant.id);
    let mut record = f.tokens.access.1.clone();
    record.client_id = ClientId::new(unique("service"));
    record.subject = Some(Subject::new("user-é"));
    record.scope = ScopeSet::parse("a").unwrap_or_default();
    record.exchange = Some(Box::new(crate::exchange::Exchanged {
        aud: Some("https://api.example.com".into()),
        act: Some(crate::exchange::Actor {
            sub: "service-b".into(),
            iss: None,
            act: Some(Box::new(crate::exchange::Actor {
                sub: "service-a".into(),
                iss: Some("https://idp.example.com".into()),
                act: None,
            })),
        }),
    }));
    assert!(ok(store.add_access_token(&added, &record).await, "add_access_token"), "added to a live family");
    assert_eq!(ok(store.get_access_token(&added).await, "get"), Some(record.clone()), "round trip, act and aud kept");
    assert!(ok(store.get_access_token(&f.access).await, "get").is_some(), "the family's own token stays");
    let plain = key_in(&f.grant.id);
    let plain_record = f.tokens.access.1.clone();
    assert!(ok(store.add_access_token(&plain, &plain_record).await, "add_access_token"), "without act");
    assert_eq!(ok(store.get_access_token(&plain).await, "get"), Some(plain_record), "round trip without act");
    ok(store.revoke_access_token(&plain).await, "revoke_access_token");
    assert_eq!(ok(store.get_access_token(&plain).await, "get"), None, "an added token is revoked alone");
    assert!(ok(store.get_access_token(&added).await, "get").is_some(), "leaving the other");
    ok(store.revoke_grant(&f.grant.id).await, "revoke_grant");
    assert_eq!(ok(store.get_access_token(&added).await, "get"), None, "revoking the family revokes the added token");
    let late = key_in(&f.grant.id);
    assert!(!ok(store.add_access_token(&late, &record).await, "add_access_token"), "a revoked family takes none");
    assert_eq!(ok(store.get_access_token(&late).await, "get"), None, "and stores nothing");
    let unknown = GrantId::new(unique("grant"));
    let stray = key_in(&unknown);
    let stray_record = crate::storage::TokenRecord { grant_id: unknown, ..record };
    assert!(!ok(store.add_access_token(&stray, &stray_record).await, "add_access_token"), "an unknown family");
    assert_eq!(ok(store.get_access_token(&stray).await, "get"), None, "stores nothing");

    // A family takes at most MAX_FAMILY_ENTRIES: the next token is refused
    // and stored nowhere; revoking one added token does not make room on a
    // store that counts unpruned entries, so only the refusal is checked.
    let full = new_family(store).await;
    let plain = full.tokens.access.1.clone();
    let mut added = 0;
    for _ in 0..crate::storage::MAX_FAMILY_ENTRIES + 8 {
        if ok(store.add_access_token(&key_in(&full.grant.id), &plain).await, "add_access_token") {
            added += 1;
        }
    }
    assert!(added < crate::storage::MAX_FAMILY_ENTRIES, "a family is bounded: {added} added");
    assert!(added + 8 >= crate::storage::MAX_FAMILY_ENTRIES, "and takes all but its own few entries: {added} added");
    let over = key_in(&full.grant.id);
    assert!(!ok(store.add_access_token(&over, &plain).await, "add_access_token"), "a full family takes none");
    assert_eq!(ok(store.get_access_token(&over).await, "get"), None, "and stores nothing");
    assert!(ok(store.get_access_token(&full.access).await, "get").is_some(), "the family itself lives on");
}

/// Rotates `f.refresh` (keeping `grace` for a retry); returns the new access and refresh keys.
async fn rotate<S: TokenStore + ?Sized>(
    store: &S,
    grant: &GrantRecord,
    old: &TokenKey,
    grace: Option<RetryAnswer>,
) -> (TokenKey, TokenKey) {
    let (access, refresh) = (key_in(&grant.id), key_in(&grant.id));
    let request = RefreshRequest {
        client_id: grant.client_id.clone(),
        scope: None,
        now: now(),
        access: (access.hash, 300),
        refresh: Some((refresh.hash, 900)),
        grace,
        jkt: None,
    };
    let outcome = ok(store.refresh(old, &request).await, "refresh");
    assert!(matches!(outcome, RefreshOutcome::Refreshed(_)), "rotation: {outcome:?}");
    (access, refresh)
}

/// The refresh grace ([`RetryAnswer::decide`]): a retired token's retry
/// gets the kept answer once, while it lasts and until the next rotation;
/// otherwise it is reuse.
async fn refresh_retry<S: TokenStore + ?Sized>(store: &S) {
    let answer = |until: u64, tag: &str| Some(RetryAnswer { until, sealed: format!("sealed {tag}").into_bytes() });
    let retry_of = |f: &Family| RefreshRequest {
        client_id: f.grant.client_id.clone(),
        scope: None,
        now: now(),
        access: (key_in(&f.grant.id).hash, 300),
        refresh: Some((key_in(&f.grant.id).hash, 900)),
        grace: None,
        jkt: None,
    };
    let f = new_family(store).await;
    let (access, refresh) = rotate(store, &f.grant, &f.refresh, answer(now() + 30, "a")).await;
    assert_eq!(
        ok(store.refresh(&f.refresh, &retry_of(&f)).await, "refresh"),
        RefreshOutcome::Retried(b"sealed a".to_vec()),
        "a retry within the grace gets the kept answer"
    );
    assert!(ok(store.get_access_token(&access).await, "get").is_some(), "a retry keeps the family");
    assert!(
        matches!(ok(store.get_refresh_token(&refresh).await, "get"), RefreshLookup::Active(_)),
        "and its new refresh token"
    );
    assert_eq!(
        ok(store.refresh(&f.refresh, &retry_of(&f)).await, "refresh"),
        RefreshOutcome::Reused,
        "a second retry is reuse"
    );
    assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "which revokes the family");

    let f = new_family(store).await;
    let (access, _) = rotate(store, &f.grant, &f.refresh, answer(now().saturating_sub(1), "late")).await;
    assert_eq!(
        ok(store.refresh(&f.refresh, &retry_of(&f)).await, "refresh"),
        RefreshOutcome::Reused,
        "a retry after the grace is reuse"
    );
    assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "late retry revokes");

    let f = new_family(store).await;
    let (_, next) = rotate(store, &f.grant, &f.refresh, answer(now() + 30, "first")).await;
    let (access, _) = rotate(store, &f.grant, &next, answer(now() + 30, "second")).await;
    assert_eq!(
        ok(store.refresh(&f.refresh, &retry_of(&f)).await, "refresh"),
        RefreshOutcome::Reused,
        "the next rotation replaced the answer: an older token's retry is reuse"
    );
    assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "and revokes");

    let f = new_family(store).await;
    let (_, next) = rotate(store, &f.grant, &f.refresh, answer(now() + 30, "dropped")).await;
    rotate(store, &f.grant, &next, None).await;
    assert_eq!(
        ok(store.refresh(&next, &retry_of(&f)).await, "refresh"),
        RefreshOutcome::Reused,
        "a rotation without grace keeps no answer"
    );
}

/// [`ConsentStore`]: remembered consents, per client, revocable.
pub async fn consents<S: ConsentStore + ?Sized>(store: &S) {
    let subject = Subject::new(unique("sub"));
    let client = ClientId::new(unique("client"));
    assert_eq!(ok(store.get_consent(&subject, &client).await, "get_consent"), None, "no consent yet");
    let scope = ScopeSet::parse("openid email").unwrap_or_default();
    ok(store.put_consent(&subject, &client, &scope, now() + 60).await, "put_consent");
    assert_eq!(ok(store.get_consent(&subject, &client).await, "get_consent"), Some(scope), "consent remembered");
    let other = ClientId::new(unique("client"));
    assert_eq!(ok(store.get_consent(&subject, &other).await, "get_consent"), None, "per client");
    assert!(ok(store.revoke_consent(&subject, &client).await, "revoke_consent"), "revoked");
    assert_eq!(ok(store.get_consent(&subject, &client).await, "get_consent"), None, "revoked consent is gone");
    assert!(!ok(store.revoke_consent(&subject, &client).await, "revoke_consent"), "revoking twice");
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &RandomGenerator.token()[..16])
}

fn now() -> u64 {
    wall_clock_now()
}

fn ok<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("conformance: {what} failed: {e}"))
}

/// [`ClientStore`]: registrations round trip, are listed and deleted.
pub async fn clients<S: ClientStore + ?Sized>(store: &S) {
    let mut client = Client::new(unique("client"));
    client.secret = Some(SecretHash::sha256("s3cret"));
    client.auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    client.redirect_uris = vec![ok(RedirectUri::new("https://c.example/cb", false), "uri")];
    client.scopes = ok(ScopeSet::parse("a b"), "scope");
    ok(store.put_client(&client).await, "put_client");
    assert_eq!(
        ok(store.get_client(&client.id).await, "get_client"),
        Some(std::sync::Arc::new(client.clone())),
        "client round trip"
    );
    let listed = ok(store.list_clients().await, "list_clients");
    assert!(listed.iter().any(|c| c == &client), "list_clients includes the new client");
    assert!(ok(store.delete_client(&client.id).await, "delete_client"), "delete_client reports an existing client");
    assert_eq!(ok(store.get_client(&client.id).await, "get_client"), None, "deleted client is gone");
    assert!(!ok(store.delete_client(&client.id).await, "delete_client"), "deleting twice reports false");
    assert_eq!(ok(store.get_client(&ClientId::new(unique("nobody"))).await, "get_client"), None, "unknown client");
}

/// [`UserStore`]: users are found by login name and by subject.
pub async fn users<S: UserStore + ?Sized>(store: &S) {
    let user = User {
        subject: Subject::new(unique("sub")),
        username: unique("user"),
        password_hash: PasswordHash::from_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        )
        .unwrap_or_else(|| panic!("conformance: fixture hash")),
        claims: [("email".to_owned(), serde_json::json!("u@example.com"))].into_iter().collect(),
    };
    ok(store.put_user(&user).await, "put_user");
    assert_eq!(ok(store.find_user(&user.username).await, "find_user"), Some(user.clone()), "find_user");
    assert_eq!(ok(store.get_user(&user.subject).await, "get_user"), Some(user.clone()), "get_user");
    assert_eq!(ok(store.find_user(&unique("nobody")).await, "find_user"), None, "unknown user");
}

/// [`CodeStore`]: a code is taken once, then reported as a replay naming its grant.
pub async fn codes<S: CodeStore + ?Sized>(store: &S) {
    let hash = TokenHash::of(&unique("code"));
    let record = code_record(&unique("grant"), now() + 60);
    ok(store.put_code(&hash, &record).await, "put_code");
    assert_eq!(
        ok(store.take_code(&hash).await, "take_code"),
        CodeTake::Taken(record.clone()),
        "first take gets the code"
    );
    assert_eq!(
        ok(store.take_code(&hash).await, "take_code"),
        CodeTake::Replayed { grant_id: record.grant_id.clone() },
        "second take is a replay naming the grant"
    );
    assert_eq!(
        ok(store.take_code(&TokenHash::of(&unique("code"))).await, "take_code"),
        CodeTake::Unknown,
        "unknown code"
    );

    let expired = TokenHash::of(&unique("code"));
    ok(store.put_code(&expired, &code_record(&unique("grant"), now().saturating_sub(1))).await, "put_code (expired)");
    assert_eq!(ok(store.take_code(&expired).await, "take_code"), CodeTake::Unknown, "an expired code is unknown");
}

struct Family {
    grant: GrantRecord,
    access: TokenKey,
    refresh: TokenKey,
    tokens: NewTokens,
}

async fn new_family<S: TokenStore + ?Sized>(store: &S) -> Family {
    let grant = grant_record(&unique("grant"), 3600);
    let (access, refresh, tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
    assert!(ok(store.create_grant(&grant, &tokens).await, "create_grant"), "a new grant is created");
    let refresh = refresh.unwrap_or_else(|| panic!("refresh"));
    Family { grant, access, refresh, tokens }
}

async fn family_of<S: TokenStore + ?Sized>(store: &S, client: &ClientId) -> Family {
    let mut grant = grant_record(&unique("grant"), 3600);
    grant.client_id = client.clone();
    let (access, refresh, tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
    assert!(ok(store.create_grant(&grant, &tokens).await, "create_grant"), "a new grant is created");
    let refresh = refresh.unwrap_or_else(|| panic!("refresh"));
    Family { grant, access, refresh, tokens }
}

/// A revoked grant id cannot be created (again), whether it existed or not.
async fn revoked_grants_stay_revoked<S: TokenStore + ?Sized>(store: &S) {
    let grant = grant_record(&unique("grant"), 3600);
    let (access, _, tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
    ok(store.revoke_grant(&grant.id).await, "revoke_grant of a grant not created yet");
    assert!(!ok(store.create_grant(&grant, &tokens).await, "create_grant"), "a grant revoked before its creation");
    assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "a refused grant stores no token");
    let f = new_family(store).await;
    ok(store.revoke_grant(&f.grant.id).await, "revoke_grant");
    assert!(!ok(store.create_grant(&f.grant, &f.tokens).await, "create_grant"), "a revoked grant is not recreated");
    assert_eq!(ok(store.get_access_token(&f.access).await, "get"), None, "nor its tokens");
    let other = new_family(store).await;
    assert!(ok(store.get_access_token(&other.access).await, "get").is_some(), "other grants are unaffected");
}

/// Revoking a client's grants (it was deleted) revokes every family of it,
/// tokens issued by refreshes included, and refuses new grants for it.
async fn client_revocation<S: TokenStore + ?Sized>(store: &S) {
    let client = ClientId::new(unique("client"));
    let other = ClientId::new(unique("client"));
    let a = family_of(store, &client).await;
    let b = family_of(store, &client).await;
    let kept = family_of(store, &other).await;
    let rotated = refresh_without_rotation(store, &a).await;
    assert_eq!(ok(store.revoke_client_grants(&client).await, "revoke_client_grants"), 2, "both grants revoked");
    for (key, what) in [(&a.access, "first access token"), (&rotated, "refreshed access token"), (&b.access, "b")] {
        assert_eq!(ok(store.get_access_token(key).await, "get"), None, "{what} of a revoked client is gone");
    }
    for f in [&a, &b] {
        assert_eq!(ok(store.get_refresh_token(&f.refresh).await, "get"), RefreshLookup::Unknown, "refresh gone");
        let request = RefreshRequest {
            client_id: client.clone(),
            scope: None,
            now: now(),
            access: (key_in(&f.grant.id).hash, 300),
            refresh: Some((key_in(&f.grant.id).hash, 900)),
            grace: None,
            jkt: None,
        };
        assert_eq!(ok(store.refresh(&f.refresh, &request).await, "refresh"), RefreshOutcome::Unknown, "no refresh");
    }
    assert!(ok(store.get_access_token(&kept.access).await, "get").is_some(), "another client's tokens stay");
    let mut late = grant_record(&unique("grant"), 3600);
    late.client_id = client.clone();
    let (late_access, _, tokens) = family_tokens(&late, &unique("at"), None);
    assert!(
        !ok(store.create_grant(&late, &tokens).await, "create_grant"),
        "a grant of a revoked client (a request already past authentication) is refused"
    );
    assert_eq!(ok(store.get_access_token(&late_access).await, "get"), None, "and stores no token");
    let again = family_of(store, &other).await;
    assert!(ok(store.get_access_token(&again.access).await, "get").is_some(), "other clients still get grants");
    let nobody = ClientId::new(unique("client"));
    assert_eq!(ok(store.revoke_client_grants(&nobody).await, "revoke_client_grants"), 0, "a client without grants");
}

async fn grants_and_tokens<S: TokenStore + ?Sized>(store: &S) {
    let f = new_family(store).await;
    assert_eq!(
        ok(store.get_access_token(&f.access).await, "get_access_token"),
        Some(f.tokens.access.1.clone()),
        "access token round trip"
    );
    let refresh_record = f.tokens.refresh.as_ref().map(|(_, r)| r.clone()).unwrap_or_else(|| panic!("refresh"));
    assert_eq!(
        ok(store.get_refresh_token(&f.refresh).await, "get_refresh_token"),
        RefreshLookup::Active(refresh_record),
        "refresh token round trip"
    );
    assert_eq!(
        ok(store.get_access_token(&f.refresh).await, "get_access_token"),
        None,
        "a refresh token is not an access token"
    );
    assert_eq!(
        ok(store.get_refresh_token(&f.access).await, "get_refresh_token"),
        RefreshLookup::Unknown,
        "an access token is not a refresh token"
    );
    // A token is found only in its own family.
    let other_family = TokenKey { grant: GrantId::new(unique("grant")), hash: f.access.hash };
    assert_eq!(ok(store.get_access_token(&other_family).await, "get"), None, "the hash alone does not find a token");
    ok(store.revoke_access_token(&other_family).await, "revoke_access_token");
    assert!(ok(store.get_access_token(&f.access).await, "get").is_some(), "revocation needs the right family");
}

/// One case of [`refresh_grant`]: a family, a request against its refresh
/// token, and the expected outcome (`None`: refreshed).
struct RefreshCase {
    name: &'static str,
    subject: bool,
    family_scope: &'static str,
    client: &'static str,
    scope: Option<&'static str>,
    /// Seconds after now at which the request is made.
    later: u64,
    access_lifetime: u64,
    /// `None`: no rotation.
    refresh_lifetime: Option<u64>,
    /// The DPoP key thumbprint the family's tokens are bound to.
    bound: Option<&'static str>,
    /// The thumbprint of the request's DPoP proof key.
    proof: Option<&'static str>,
    refused: Option<RefreshRefusal>,
}

/// Two DPoP key thumbprints.
const KEY_A: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const KEY_B: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

/// A family with a subject and scope "a b", refreshed by its client with rotation.
const BASE: RefreshCase = RefreshCase {
    name: "rotation keeps the scope",
    subject: true,
    family_scope: "a b",
    client: "c",
    scope: None,
    later: 0,
    access_lifetime: 300,
    refresh_lifetime: Some(900),
    bound: None,
    proof: None,
    refused: None,
};

const REFRESH_CASES: &[RefreshCase] = &[
    BASE,
    RefreshCase { name: "a narrower scope for the access token only", scope: Some("b"), ..BASE },
    RefreshCase { name: "without rotation", refresh_lifetime: None, ..BASE },
    RefreshCase {
        name: "lifetimes are capped by the family",
        access_lifetime: 7200,
        refresh_lifetime: Some(86_400),
        ..BASE
    },
    RefreshCase { name: "no subject, empty scope", subject: false, family_scope: "", ..BASE },
    RefreshCase { name: "the empty scope is within any scope", family_scope: "a", scope: Some(""), ..BASE },
    RefreshCase { name: "another client", client: "d", refused: Some(RefreshRefusal::OtherClient), ..BASE },
    RefreshCase {
        name: "a client whose id extends the token's",
        client: "cc",
        refused: Some(RefreshRefusal::OtherClient),
        ..BASE
    },
    RefreshCase { name: "a wider scope", scope: Some("a c"), refused: Some(RefreshRefusal::WiderScope), ..BASE },
    RefreshCase {
        name: "a scope that only prefixes one",
        family_scope: "ab",
        scope: Some("a"),
        refused: Some(RefreshRefusal::WiderScope),
        ..BASE
    },
    RefreshCase { name: "expired", later: 900, refused: Some(RefreshRefusal::Expired), ..BASE },
    RefreshCase { name: "bound, with a proof of its key", bound: Some(KEY_A), proof: Some(KEY_A), ..BASE },
    RefreshCase {
        name: "bound, no subject, a narrower scope, with its key",
        bound: Some(KEY_A),
        proof: Some(KEY_A),
        subject: false,
        scope: Some("b"),
        ..BASE
    },
    RefreshCase {
        name: "bound, without rotation",
        bound: Some(KEY_A),
        proof: Some(KEY_A),
        refresh_lifetime: None,
        ..BASE
    },
    RefreshCase { name: "bound, without a proof", bound: Some(KEY_A), refused: Some(RefreshRefusal::OtherKey), ..BASE },
    RefreshCase {
        name: "bound, with another key",
        bound: Some(KEY_A),
        proof: Some(KEY_B),
        refused: Some(RefreshRefusal::OtherKey),
        ..BASE
    },
    RefreshCase {
        name: "bound, with a key its thumbprint extends",
        bound: Some(KEY_A),
        proof: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X"),
        refused: Some(RefreshRefusal::OtherKey),
        ..BASE
    },
    RefreshCase {
        name: "bound, another key and another client: nothing changes",
        bound: Some(KEY_A),
        proof: Some(KEY_B),
        client: "d",
        refused: Some(RefreshRefusal::OtherClient),
        ..BASE
    },
    RefreshCase { name: "unbound, with a proof: the new access token is bound", proof: Some(KEY_B), ..BASE },
    RefreshCase { name: "unbound, with a proof and a narrower scope", proof: Some(KEY_B), scope: Some("a"), ..BASE },
];

/// [`TokenStore::refresh`](super::TokenStore::refresh): the table above, then reuse.
async fn refresh_grant<S: TokenStore + ?Sized>(store: &S) {
    for case in REFRESH_CASES {
        let name = case.name;
        let mut grant = grant_record(&unique("grant"), 3600);
        grant.scope = ok(ScopeSet::parse(case.family_scope), "scope");
        if !case.subject {
            (grant.subject, grant.auth_time) = (None, None);
        }
        let (first_access, old, mut tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
        let old = old.unwrap_or_else(|| panic!("refresh"));
        tokens.access.1.jkt = case.bound.map(str::to_owned);
        if let Some((_, record)) = &mut tokens.refresh {
            record.jkt = case.bound.map(str::to_owned);
        }
        ok(store.create_grant(&grant, &tokens).await, "create_grant");
        let old_record = tokens.refresh.map(|(_, r)| r).unwrap_or_else(|| panic!("refresh"));
        let (access, refresh) = (key_in(&grant.id), key_in(&grant.id));
        let request = RefreshRequest {
            client_id: ClientId::new(case.client),
            scope: case.scope.map(|s| ok(ScopeSet::parse(s), "scope")),
            now: now() + case.later,
            access: (access.hash, case.access_lifetime),
            refresh: case.refresh_lifetime.map(|l| (refresh.hash, l)),
            grace: None,
            jkt: case.proof.map(str::to_owned),
        };
        let outcome = ok(store.refresh(&old, &request).await, "refresh");
        let stored_access = ok(store.get_access_token(&access).await, "get_access_token");
        let old_now = ok(store.get_refresh_token(&old).await, "get_refresh_token");
        if let Some(refusal) = case.refused {
            assert_eq!(outcome, RefreshOutcome::Refused(refusal), "{name}");
            assert_eq!(stored_access, None, "{name}: a refusal stores nothing");
            assert_eq!(old_now, RefreshLookup::Active(old_record), "{name}: a refusal keeps the token");
            continue;
        }
        let new = request.tokens(&old_record);
        assert_eq!(outcome, RefreshOutcome::Refreshed(old_record.clone()), "{name}");
        assert_eq!(stored_access, Some(new.access.1.clone()), "{name}: the access token is stored as made");
        assert_eq!(new.access.1.jkt.as_deref(), case.proof, "{name}: the access token is bound to the proof's key");
        if let Some((_, record)) = &new.refresh {
            assert_eq!(record.jkt.as_deref(), case.bound, "{name}: the refresh token keeps its binding");
        }
        assert!(new.access.1.expires_at <= grant.expires_at, "{name}: capped by the family");
        match &new.refresh {
            Some((_, record)) => {
                assert_eq!(
                    ok(store.get_refresh_token(&refresh).await, "get_refresh_token"),
                    RefreshLookup::Active(record.clone()),
                    "{name}: the new refresh token is stored as made"
                );
                assert_eq!(old_now, RefreshLookup::Rotated { grant_id: grant.id.clone() }, "{name}: retired");
                assert_eq!(
                    ok(store.refresh(&old, &request).await, "refresh"),
                    RefreshOutcome::Reused,
                    "{name}: presenting the retired token again"
                );
                assert_eq!(ok(store.get_access_token(&access).await, "get"), None, "{name}: reuse revokes");
                assert_eq!(
                    ok(store.get_access_token(&first_access).await, "get"),
                    None,
                    "{name}: reuse revokes the family's first access token"
                );
                assert_eq!(
                    ok(store.get_refresh_token(&refresh).await, "get"),
                    RefreshLookup::Unknown,
                    "{name}: reuse revokes the current refresh token"
                );
            }
            None => assert_eq!(old_now, RefreshLookup::Active(old_record), "{name}: the token stays active"),
        }
    }
    let f = new_family(store).await;
    let request = RefreshRequest {
        client_id: f.grant.client_id.clone(),
        scope: None,
        now: now(),
        access: (TokenHash::of(&unique("at")), 300),
        refresh: None,
        grace: None,
        jkt: None,
    };
    let stranger = key_in(&GrantId::new(unique("grant")));
    assert_eq!(ok(store.refresh(&stranger, &request).await, "refresh"), RefreshOutcome::Unknown, "unknown token");
    let never_issued = key_in(&f.grant.id);
    assert_eq!(
        ok(store.refresh(&never_issued, &request).await, "refresh"),
        RefreshOutcome::Unknown,
        "a token its family never issued"
    );
    assert_eq!(
        ok(store.refresh(&f.access, &request).await, "refresh"),
        RefreshOutcome::Unknown,
        "an access token is not a refresh token"
    );
}

/// A refresh of `f` without rotation: the new access token's key.
async fn refresh_without_rotation<S: TokenStore + ?Sized>(store: &S, f: &Family) -> TokenKey {
    let access = key_in(&f.grant.id);
    let request = RefreshRequest {
        client_id: f.grant.client_id.clone(),
        scope: None,
        now: now(),
        access: (access.hash, 300),
        refresh: None,
        grace: None,
        jkt: None,
    };
    let outcome = ok(store.refresh(&f.refresh, &request).await, "refresh");
    assert!(matches!(outcome, RefreshOutcome::Refreshed(_)), "refresh without rotation: {outcome:?}");
    access
}

fn key_in(grant: &GrantId) -> TokenKey {
    TokenKey::of(&format!("{grant}.{}", unique("rt"))).unwrap_or_else(|| panic!("fixture token"))
}

async fn revocation<S: TokenStore + ?Sized>(store: &S) {
    let f = new_family(store).await;
    let access2 = refresh_without_rotation(store, &f).await;
    ok(store.revoke_access_token(&f.access).await, "revoke_access_token");
    assert_eq!(ok(store.get_access_token(&f.access).await, "get"), None, "revoked access token is gone");
    assert!(ok(store.get_access_token(&access2).await, "get").is_some(), "revoking one access token leaves the others");
    ok(store.revoke_grant(&f.grant.id).await, "revoke_grant");
    assert_eq!(ok(store.get_access_token(&access2).await, "get"), None, "revoke_grant removes access tokens");
    assert_eq!(
        ok(store.get_refresh_token(&f.refresh).await, "get"),
        RefreshLookup::Unknown,
        "revoke_grant removes refresh tokens"
    );
    let request = RefreshRequest {
        client_id: f.grant.client_id.clone(),
        scope: None,
        now: now(),
        access: (key_in(&f.grant.id).hash, 300),
        refresh: Some((key_in(&f.grant.id).hash, 900)),
        grace: None,
        jkt: None,
    };
    assert_eq!(
        ok(store.refresh(&f.refresh, &request).await, "refresh"),
        RefreshOutcome::Unknown,
        "a revoked family cannot be refreshed"
    );
    ok(store.revoke_grant(&GrantId::new(unique("grant"))).await, "revoke_grant of an unknown grant is not an error");
}

/// A device record for `client`, pending, polled every 5 s, expiring at `expires_at`.
fn device_record(client: &str, expires_at: u64) -> DeviceRecord {
    DeviceRecord {
        client_id: ClientId::new(client),
        scope: ScopeSet::parse("a b").unwrap_or_else(|e| panic!("{e}")),
        issued_at: now(),
        expires_at,
        interval: 5,
        last_poll: 0,
        status: DeviceStatus::Pending,
    }
}

/// A new device authorization's keys (one shard, as a store expects), stored.
async fn new_device<S: DeviceStore + ?Sized>(store: &S, record: &DeviceRecord) -> (DeviceKey, DeviceKey) {
    let shard = rand::random::<u16>();
    let device = DeviceKey { shard, hash: TokenHash::of(&unique("device")) };
    let user = DeviceKey { shard, hash: TokenHash::of(&unique("user")) };
    assert!(ok(store.put_device(&device, &user, record).await, "put_device"), "a new user code is stored");
    (device, user)
}

/// Runs `futures` concurrently on the current task (the suite has no
/// runtime to spawn on): a networked store has them all in flight at once.
async fn join_all<T>(futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.unwrap_or_else(|| panic!("conformance: a joined future did not finish"))).collect()
}

/// [`DeviceStore`]: a user code is stored once, found, decided once; polls
/// follow [`DevicePoll::apply`] (client, expiry, rate with the interval
/// raised, the approval taken by exactly one of concurrent polls), and
/// nothing outlives [`DeviceRecord::keep_until`]. Blocks the thread about
/// two seconds (real time, for the backend's expiry).
pub async fn devices<S: DeviceStore + ?Sized>(store: &S) {
    let t = now();
    let record = device_record("c", t + 600);
    let (device, user) = new_device(store, &record).await;
    assert_eq!(ok(store.find_device(&user).await, "find_device"), Some((device, record.clone())), "found by user code");
    let other = DeviceKey { shard: device.shard, hash: TokenHash::of(&unique("device")) };
    assert!(
        !ok(store.put_device(&other, &user, &device_record("c", t + 600)).await, "put_device"),
        "a user code still held is refused"
    );
    assert_eq!(ok(store.find_device(&user).await, "find_device"), Some((device, record.clone())), "nothing replaced");
    assert_eq!(
        ok(store.poll_device(&other, &poll("c", t)).await, "poll_device"),
        PollOutcome::Unknown,
        "nothing stored"
    );
    let stranger = DeviceKey { shard: device.shard, hash: TokenHash::of(&unique("user")) };
    assert_eq!(ok(store.find_device(&stranger).await, "find_device"), None, "unknown user code");
    let approve = DeviceDecision::Approve(approval());
    assert_eq!(ok(store.decide_device(&stranger, &approve, t).await, "decide"), DecideOutcome::Unknown, "unknown");

    // Polls before a decision: the client, the rate, the interval.
    assert_eq!(ok(store.poll_device(&device, &poll("d", t)).await, "poll"), PollOutcome::OtherClient, "other client");
    assert_eq!(found(store, &user).await.last_poll, 0, "another client's poll changes nothing");
    assert_eq!(ok(store.poll_device(&device, &poll("c", t)).await, "poll"), PollOutcome::Pending, "first poll");
    assert_eq!(
        ok(store.poll_device(&device, &poll("c", t + 4)).await, "poll"),
        PollOutcome::SlowDown(5 + SLOW_DOWN_STEP),
        "too soon"
    );
    let stored = found(store, &user).await;
    assert_eq!((stored.interval, stored.last_poll), (5 + SLOW_DOWN_STEP, t + 4), "the interval grew for this code");
    assert_eq!(ok(store.poll_device(&device, &poll("c", t + 13)).await, "poll"), PollOutcome::SlowDown(15), "again");
    assert_eq!(ok(store.poll_device(&device, &poll("c", t + 28)).await, "poll"), PollOutcome::Pending, "in time");

    // Decided once; the approval taken by exactly one of concurrent polls.
    assert_eq!(ok(store.decide_device(&device, &approve, t).await, "decide"), DecideOutcome::Decided, "approve");
    let deny = DeviceDecision::Deny;
    assert_eq!(ok(store.decide_device(&device, &deny, t).await, "decide"), DecideOutcome::AlreadyDecided, "once");
    assert_eq!(found(store, &user).await.status, DeviceStatus::Approved(approval()), "the first decision stays");
    let at = t + 60;
    let request = poll("c", at);
    let polls = (0..16).map(|_| Box::pin(store.poll_device(&device, &request)) as std::pin::Pin<Box<_>>).collect();
    let outcomes: Vec<PollOutcome> = join_all(polls).await.into_iter().map(|r| ok(r, "poll_device")).collect();
    let won: Vec<&PollOutcome> = outcomes.iter().filter(|o| matches!(o, PollOutcome::Approved(..))).collect();
    assert_eq!(won.len(), 1, "exactly one concurrent poll takes the approval: {outcomes:?}");
    let PollOutcome::Approved(taken, granted) = won[0] else { unreachable!() };
    assert_eq!((taken.status.clone(), granted.clone()), (DeviceStatus::Issued, approval()), "what it took");
    assert!(outcomes.iter().all(|o| matches!(o, PollOutcome::Approved(..) | PollOutcome::SlowDown(_))), "{outcomes:?}");
    // Each concurrent loser was too soon and raised the interval by 5 s.
    let interval = found(store, &user).await.interval;
    assert_eq!(interval, 15 + 15 * SLOW_DOWN_STEP, "each too-soon poll raised the interval");
    let later = at + interval;
    assert_eq!(ok(store.poll_device(&device, &poll("c", later)).await, "poll"), PollOutcome::Issued, "issued once");
    assert_eq!(found(store, &user).await.status, DeviceStatus::Issued, "stored as issued");

    // Denied.
    let (denied, _) = new_device(store, &device_record("c", t + 600)).await;
    assert_eq!(ok(store.decide_device(&denied, &deny, t).await, "decide"), DecideOutcome::Decided, "deny");
    assert_eq!(ok(store.decide_device(&denied, &approve, t).await, "decide"), DecideOutcome::AlreadyDecided, "once");
    assert_eq!(ok(store.poll_device(&denied, &poll("c", t)).await, "poll"), PollOutcome::Denied, "denied");
    assert_eq!(ok(store.poll_device(&denied, &poll("c", t + 5)).await, "poll"), PollOutcome::Denied, "stays denied");

    // Expired: kept for DEVICE_EXPIRED_HOLD, then gone.
    let (expired, expired_user) = new_device(store, &device_record("c", t)).await;
    assert_eq!(ok(store.poll_device(&expired, &poll("c", t)).await, "poll"), PollOutcome::Expired, "expired");
    assert_eq!(ok(store.decide_device(&expired, &approve, t).await, "decide"), DecideOutcome::Unknown, "too late");
    assert_eq!(found(store, &expired_user).await.status, DeviceStatus::Pending, "kept after its expiry, unchanged");
    let (gone, gone_user) = new_device(store, &device_record("c", t + 1 - DEVICE_EXPIRED_HOLD)).await;
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(ok(store.find_device(&gone_user).await, "find_device"), None, "the user code is dropped");
    assert_eq!(ok(store.poll_device(&gone, &poll("c", now())).await, "poll"), PollOutcome::Unknown, "the record too");
    assert!(
        ok(store.put_device(&gone, &gone_user, &device_record("c", now() + 600)).await, "put_device"),
        "a dropped user code can be drawn again"
    );
}

fn poll(client: &str, now: u64) -> DevicePoll {
    DevicePoll { client_id: ClientId::new(client), now }
}

fn approval() -> DeviceApproval {
    DeviceApproval {
        subject: Subject::new("s"),
        scope: ScopeSet::parse("a").unwrap_or_else(|e| panic!("{e}")),
        auth_time: 7,
    }
}

async fn found<S: DeviceStore + ?Sized>(store: &S, user: &DeviceKey) -> DeviceRecord {
    match ok(store.find_device(user).await, "find_device") {
        Some((_, record)) => record,
        None => panic!("conformance: the device record is still stored"),
    }
}
