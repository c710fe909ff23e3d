//! Random input never panics, and every answer is a well-formed OAuth response.
//!
//! A small deterministic generator (no external fuzzer) mixes the parameter
//! names the endpoints read with garbage values, repeats, encodings and
//! headers; each request goes to every endpoint.

use oauth_core::request::Method;
use oauth_core::testing::TestServer;
use oauth_core::{AuthorizeError, Body, OAuthRequest, OAuthResponse, Params};

/// xorshift64*: reproducible, good enough to mix inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "client_id",
    "client_secret",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "grant_type",
    "refresh_token",
    "token",
    "token_type_hint",
    "username",
    "password",
    "prompt",
    "max_age",
    "access_token",
    "request",
    "x",
];
const VALUES: &[&str] = &[
    "",
    "test_client",
    "machine",
    "public_client",
    "nobody",
    "password",
    "machine-secret",
    "code",
    "token",
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "implicit",
    "email",
    "read write",
    "openid email",
    "\"quote",
    "https://www.example.com/redirect",
    "https://evil.example/",
    "S256",
    "plain",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "none",
    "login",
    "-1",
    "99999999999999999999",
    "a.b",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.e30.",
    "%00%ff",
    "é\u{0}\u{202e}",
    "form_post",
    "fragment",
    "query",
];
const HEADERS: &[(&str, &str)] = &[
    ("Authorization", "Basic dGVzdF9jbGllbnQ6cGFzc3dvcmQ="),
    ("Authorization", "Basic !!!"),
    ("Authorization", "Bearer a.b"),
    ("Authorization", "Basic "),
    ("Content-Type", "application/json"),
    ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
    ("Content-Type", ""),
];

/// Valid requests to start from, so that mutations reach the deep checks.
const BASES: &[&[(&str, &str)]] = &[
    &[("client_id", "test_client"), ("response_type", "code"), ("scope", "email"), ("state", "s")],
    &[("grant_type", "client_credentials"), ("client_id", "machine"), ("client_secret", "machine-secret")],
    &[],
];

fn random_request(rng: &mut Rng) -> OAuthRequest {
    let base = BASES[(rng.next() % BASES.len() as u64) as usize];
    let mut pairs: Vec<(String, String)> = base.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    for _ in 0..rng.next() % 4 {
        match rng.next() % 3 {
            0 if !pairs.is_empty() => {
                let at = (rng.next() % pairs.len() as u64) as usize;
                pairs.remove(at);
            }
            _ => pairs.push((rng.pick(NAMES).to_owned(), rng.pick(VALUES).to_owned())),
        }
    }
    let params = Params::from_pairs(pairs);
    let mut req = match rng.next() % 4 {
        0 => OAuthRequest { method: Method::Get, query: params, ..OAuthRequest::default() },
        1 => OAuthRequest { method: Method::parse("DELETE"), form: params, ..OAuthRequest::default() },
        _ => {
            let mut r = OAuthRequest { method: Method::Post, form: params, ..OAuthRequest::default() };
            r.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
            r
        }
    };
    for _ in 0..rng.next() % 3 {
        let (name, value) = HEADERS[(rng.next() % HEADERS.len() as u64) as usize];
        req.headers.push((name.into(), value.into()));
    }
    req.secure = rng.next() % 8 != 0;
    req
}

fn check(label: &str, r: &OAuthResponse) {
    assert!([200, 302, 400, 401, 403, 405, 429, 500, 503].contains(&r.status), "{label}: status {}", r.status);
    if r.status == 429 {
        assert!(r.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()), "{label}: Retry-After");
    }
    if r.status >= 400 && r.status != 405 {
        if let Body::Json(_) = &r.body {
            let body = r.json_body().unwrap_or_else(|| panic!("{label}: error body is not JSON"));
            assert!(body["error"].is_string(), "{label}: {body}");
        }
    }
    if r.status == 302 {
        let location = r.location().unwrap_or_else(|| panic!("{label}: redirect without Location"));
        assert!(
            location.starts_with("https://www.example.com/redirect")
                || location.starts_with("http://127.0.0.1:9000/cb"),
            "{label}: redirected to an unregistered URI: {location}"
        );
    }
}

#[tokio::test]
async fn random_requests_get_well_formed_answers() {
    // Limits high enough that the random failures do not end in throttling,
    // which would answer every later request alike.
    let limits = oauth_core::throttle::ThrottlePolicy {
        client: oauth_core::throttle::Limit::new(1_000_000, 60),
        ..Default::default()
    };
    let t = TestServer::with_policy(|p| p.allow_password_grant(true).throttle(limits)).await;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut pending_ok, mut redirects, mut statuses) = (0, 0, std::collections::BTreeMap::new());
    for i in 0..3000 {
        let req = random_request(&mut rng);
        match t.server.authorize(&req).await {
            Ok(pending) => {
                assert!(pending.redirect_uri.as_str().starts_with("http"), "{i}");
                pending_ok += 1;
            }
            Err(AuthorizeError::Redirect(r)) => {
                redirects += 1;
                check(&format!("{i} authorize"), &r);
            }
            Err(e) => check(&format!("{i} authorize page"), &e.into_response()),
        }
        let token = t.server.token(&req).await;
        check(&format!("{i} token"), &token);
        *statuses.entry(token.status).or_insert(0) += 1;
        check(&format!("{i} revoke"), &t.server.revoke(&req).await);
        check(&format!("{i} introspect"), &t.server.introspect(&req).await);
        check(&format!("{i} userinfo"), &t.server.userinfo(&req).await);
    }
    // The generator reaches deep paths, not only the first check.
    assert!(pending_ok > 0 && redirects > 0, "pending {pending_ok}, error redirects {redirects}");
    for status in [200, 400, 401, 405] {
        assert!(statuses.get(&status).copied().unwrap_or(0) > 0, "no {status} from the token endpoint: {statuses:?}");
    }
}

/// A policy cannot hold a lifetime past `MAX_LIFETIME`, and the longest
/// allowed ones still give tokens that are valid now: adding a lifetime to
/// the time does not overflow.
#[tokio::test]
async fn longest_lifetimes_do_not_overflow() {
    use oauth_core::policy::MAX_LIFETIME;
    assert!(oauth_core::testing::policy_builder().access_token_lifetime(u64::MAX).build().is_err());
    let t = TestServer::with_policy(|p| {
        p.code_lifetime(MAX_LIFETIME)
            .access_token_lifetime(MAX_LIFETIME)
            .refresh_token_lifetime(MAX_LIFETIME)
            .grant_lifetime(MAX_LIFETIME)
            .id_token_lifetime(MAX_LIFETIME)
    })
    .await;
    let credentials =
        [("grant_type", "client_credentials"), ("client_id", "machine"), ("client_secret", "machine-secret")];
    let mut req =
        OAuthRequest { method: Method::Post, form: Params::from_pairs(credentials), ..OAuthRequest::default() };
    req.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    req.secure = true;
    let issued = t.server.token(&req).await;
    assert_eq!(issued.status, 200, "{:?}", issued.json_body());
    let token = issued.json_body().and_then(|b| b["access_token"].as_str().map(str::to_owned)).unwrap_or_default();
    let mut introspect = req.clone();
    introspect.form =
        Params::from_pairs([("token", token.as_str()), ("client_id", "machine"), ("client_secret", "machine-secret")]);
    let answer = t.server.introspect(&introspect).await;
    assert_eq!(answer.json_body().map(|b| b["active"].clone()), Some(serde_json::Value::Bool(true)));
}
