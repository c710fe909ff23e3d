//! The storage conformance suite (feature `test-util`).
//!
//! One function per trait, so a backend that implements only some of them
//! (say, a token store in front of file-configured clients) is verified for
//! what it implements: [`clients`], [`codes`], [`tokens`], [`users`] and
//! [`consents`]; [`run`] runs them all on a store implementing [`Store`].
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
    ClientStore, CodeStore, CodeTake, ConsentStore, GrantRecord, NewTokens, OnceStore, RefreshLookup, RefreshOutcome,
    RefreshRefusal, RefreshRequest, Store, TokenStore, UserStore,
};
use crate::client::{Client, SecretHash};
use crate::generate::{RandomGenerator, TokenGenerator};
use crate::testing::{code_record, family_tokens, grant_record, wall_clock_now};
use crate::types::{ClientId, GrantId, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod, TokenHash, TokenKey};
use crate::user::{PasswordHash, User};

/// Runs every trait's checks against `store`; panics with a message naming the failed check.
pub async fn run<S: Store + ?Sized>(store: &S) {
    clients(store).await;
    users(store).await;
    codes(store).await;
    tokens(store).await;
    consents(store).await;
    once(store).await;
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
    ok(store.create_grant(&grant, &tokens).await, "create_grant");
    let refresh = refresh.unwrap_or_else(|| panic!("refresh"));
    Family { grant, access, refresh, tokens }
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
    refused: Option<RefreshRefusal>,
}

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
        let (first_access, old, tokens) = family_tokens(&grant, &unique("at"), Some(&unique("rt")));
        let old = old.unwrap_or_else(|| panic!("refresh"));
        ok(store.create_grant(&grant, &tokens).await, "create_grant");
        let old_record = tokens.refresh.map(|(_, r)| r).unwrap_or_else(|| panic!("refresh"));
        let (access, refresh) = (key_in(&grant.id), key_in(&grant.id));
        let request = RefreshRequest {
            client_id: ClientId::new(case.client),
            scope: case.scope.map(|s| ok(ScopeSet::parse(s), "scope")),
            now: now() + case.later,
            access: (access.hash, case.access_lifetime),
            refresh: case.refresh_lifetime.map(|l| (refresh.hash, l)),
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
    };
    assert_eq!(
        ok(store.refresh(&f.refresh, &request).await, "refresh"),
        RefreshOutcome::Unknown,
        "a revoked family cannot be refreshed"
    );
    ok(store.revoke_grant(&GrantId::new(unique("grant"))).await, "revoke_grant of an unknown grant is not an error");
}
