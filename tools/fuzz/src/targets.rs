//! The target functions and the checks they make on every answer.

use std::borrow::Cow;

use oauth_core::{Approval, AuthorizeError, Body, NextStep, OAuthRequest, OAuthResponse, Params};

use crate::fixture::{CLIENTS, ISSUER, basic, block_on, fixture, url_param};

/// Error codes an endpoint may answer (RFC 6749 §4.1.2.1, §5.2; RFC 6750
/// §3.1; RFC 7009; OpenID Connect Core §3.1.2.6).
const ERROR_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "unsupported_token_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "invalid_token",
    "insufficient_scope",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
    "authorization_pending",
    "slow_down",
    "expired_token",
];

/// `application/x-www-form-urlencoded` decoding (query strings and form bodies).
///
/// Checks: the same pairs as the `url` crate's WHATWG parser; re-encoding
/// the pairs and parsing again gives them back; `get` and
/// `first_duplicate` agree with a count of the names.
pub fn target_params(data: &[u8]) {
    let params = Params::parse_bytes(data);
    let pairs: Vec<(String, String)> = params.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let whatwg: Vec<(String, String)> =
        url::form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(pairs, whatwg, "Params disagrees with the WHATWG parser on {:?}", String::from_utf8_lossy(data));

    let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    let again = Params::parse(&encoded);
    assert!(again.pairs().eq(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))), "round trip of {encoded:?}");
    assert_eq!(params.is_empty(), pairs.is_empty());

    let count = |name: &str| pairs.iter().filter(|(k, _)| k == name).count();
    match params.first_duplicate() {
        Some(name) => assert!(count(name) >= 2, "{name:?} reported repeated"),
        None => assert!(pairs.iter().all(|(k, _)| count(k) == 1), "a repeated name was missed"),
    }
    for name in ["client_id", "redirect_uri", "scope", "state", "response_type", "code", "grant_type"] {
        match params.get(name) {
            Err(e) => {
                assert!(count(name) >= 2, "{name}: {e:?}");
                assert_eq!(e.code.as_str(), "invalid_request");
            }
            Ok(Some(value)) => {
                assert_eq!(count(name), 1, "{name}");
                assert!(!value.is_empty());
                assert!(pairs.iter().any(|(k, v)| k == name && v == value));
            }
            Ok(None) => assert!(pairs.iter().filter(|(k, _)| k == name).all(|(_, v)| v.is_empty()) && count(name) <= 1),
        }
    }
}

/// The `Authorization` header as the token, introspection, revocation and
/// UserInfo endpoints read it: HTTP Basic client credentials and Bearer
/// tokens. The first byte picks how the rest becomes the header: as it is,
/// base64 after `Basic `, after `Bearer `, or as it is beside a `client_id`
/// in the body.
pub fn target_credentials(data: &[u8]) {
    use base64::Engine as _;
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let header = match mode % 4 {
        1 => format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(rest)),
        2 => format!("Bearer {text}"),
        _ => text.into_owned(),
    };
    let form =
        if mode % 4 == 3 { "grant_type=client_credentials&client_id=conf" } else { "grant_type=client_credentials" };
    let f = fixture();
    let request = |form: &str| OAuthRequest::post_form(form).with_header("Authorization", &header).secure();

    check_token_answer(&block_on(f.server.token(&request(form))));
    let introspected = block_on(f.server.introspect(&request("token=not-a-token")));
    check_json_answer("introspection", &introspected, &[200, 400, 401, 429]);
    if introspected.status == 200 {
        let body = introspected.json_body().unwrap_or_default();
        assert_eq!(body["active"], false, "an unknown token is inactive: {body}");
    }
    check_json_answer("revocation", &block_on(f.server.revoke(&request("token=not-a-token"))), &[200, 400, 401, 429]);

    let userinfo = block_on(f.server.userinfo(&OAuthRequest::get("").with_header("Authorization", &header).secure()));
    check_bearer_answer(&userinfo);
}

/// JWTs from outside: parsing, header checks and signature verification
/// (`KeySet::verify`, which UserInfo runs on JWT access tokens), and JWK
/// parsing. No token verifies unless the fixture's key signed it, and one
/// that verifies has the issuer, type and expiry asked for.
pub fn target_jose(data: &[u8]) {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    let now = f.server.now();
    match mode % 4 {
        // A token as sent, or one assembled from three arbitrary parts: forged either way.
        0 | 1 => {
            let token = if mode % 4 == 0 {
                String::from_utf8_lossy(rest).into_owned()
            } else {
                let mut parts = rest.splitn(3, |&b| b == 0xff);
                let (h, p, s) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next());
                format!("{}.{}.{}", b64(h), b64(p), b64(s.unwrap_or_default()))
            };
            let _ = oauth_core::jose::looks_like_jwt(&token);
            for typ in ["at+jwt", "JWT"] {
                let verified = f.keys.verify::<serde_json::Value>(&token, typ, ISSUER, Some(now));
                assert!(verified.is_err(), "a forged token verified: {token:?} -> {verified:?}");
            }
            let userinfo = block_on(
                f.server
                    .userinfo(&OAuthRequest::get("").with_header("Authorization", &format!("Bearer {token}")).secure()),
            );
            check_bearer_answer(&userinfo);
            assert_ne!(userinfo.status, 200, "UserInfo answered a forged token: {token:?}");
        }
        // Claims signed by the fixture's key: verification accepts exactly the right ones.
        2 => {
            let Some((&typ, claims)) = rest.split_first() else { return };
            let typ = ["at+jwt", "JWT", "AT+JWT"][usize::from(typ % 3)];
            let claims: serde_json::Value = serde_json::from_slice(claims)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(claims).into_owned()));
            let Ok(token) = f.keys.active().sign(typ, &claims) else { return };
            if let Ok(back) = f.keys.verify::<serde_json::Value>(&token, "at+jwt", ISSUER, Some(now)) {
                crate::count(&crate::REACHED.verified);
                assert!(typ.eq_ignore_ascii_case("at+jwt"), "typ {typ} accepted as at+jwt");
                assert_eq!(back["iss"], ISSUER, "issuer");
                assert!(back["exp"].as_u64().is_some_and(|exp| exp > now), "expiry {}", back["exp"]);
                assert_eq!(back, claims);
            }
            // Any change to the signature is refused.
            let Some(dot) = token.rfind('.') else { panic!("a signed token without a signature: {token}") };
            let i = dot + 1 + usize::from(*rest.last().unwrap_or(&0)) % (token.len() - dot - 1).max(1);
            if let Some(c) = token.as_bytes().get(i) {
                let replacement = if *c == b'A' { "B" } else { "A" };
                let mut tampered = token.clone();
                tampered.replace_range(i..=i, replacement);
                let verified = f.keys.verify::<serde_json::Value>(&tampered, typ, ISSUER, Some(now));
                assert!(verified.is_err(), "a tampered signature verified: {tampered}");
            }
        }
        // A JWK, as a JWK Set file holds it.
        _ => {
            if let Ok(jwk) = serde_json::from_slice::<serde_json::Value>(rest) {
                if let Ok(key) = oauth_core::jose::SigningKey::from_jwk(&jwk) {
                    let public = key.public_jwk();
                    assert!(public.get("d").is_none(), "a public JWK with a private part: {public}");
                }
            }
        }
    }
}

/// The authorization endpoint, the whole way: the query (as GET) and the
/// same bytes as a POST form go through `authorize`; a request that passes is
/// approved, and its code exchanged at the token endpoint (with the
/// `code_verifier` the request itself carries, if any). No answer redirects
/// anywhere but to a URI registered for the client the request names.
pub fn target_authorize(data: &[u8]) {
    let get = OAuthRequest { query: Params::parse_bytes(data), ..OAuthRequest::get("") }.secure();
    authorize_once(&get, &get.query);
    let mut post = OAuthRequest::post_form("").secure();
    post.form = Params::parse_bytes(data);
    authorize_once(&post, &post.form);
    push_once(post);
}

/// The same form pushed to the PAR endpoint (RFC 9126), authenticated with
/// HTTP Basic as the client it names when the fixture has its secret: a JSON
/// answer; a `201`'s `request_uri` then goes the whole way through
/// [`authorize_once`], and a second use of it is an error page.
fn push_once(mut request: OAuthRequest) {
    let f = fixture();
    let client_id = request.form.get("client_id").ok().flatten().map(str::to_owned);
    let client = client_id.as_deref().and_then(|id| CLIENTS.iter().find(|c| c.id == id));
    if let Some((id, Some(secret))) = client.map(|c| (c.id, c.secret)).filter(|(id, _)| *id != "post") {
        request = request.with_header("Authorization", &basic(id, secret));
    }
    let response = block_on(f.server.par(&request));
    check_json_answer("par", &response, &[201, 400, 401, 429]);
    if response.status != 201 {
        return;
    }
    let body = response.json_body().unwrap_or_default();
    let request_uri = body["request_uri"].as_str().unwrap_or_else(|| panic!("par: 201 without request_uri: {body}"));
    assert!(request_uri.starts_with(oauth_core::REQUEST_URI_PREFIX), "par: {request_uri}");
    let id = client_id.unwrap_or_else(|| panic!("par: 201 for a request without client_id"));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &id)
        .append_pair("request_uri", request_uri)
        .finish();
    let get = OAuthRequest::get(&query).secure();
    authorize_once(&get, &get.query);
    crate::count(&crate::REACHED.pushed);
    let again = block_on(f.server.authorize(&get));
    assert!(matches!(again, Err(AuthorizeError::Invalid(_))), "a request_uri used twice: {again:?}");
}

fn authorize_once(request: &OAuthRequest, params: &Params) {
    let f = fixture();
    let client_id = params.get("client_id").ok().flatten().map(str::to_owned);
    let pending = match block_on(f.server.authorize(request)) {
        Ok(pending) => pending,
        Err(e) => return check_authorize_error(client_id.as_deref(), e),
    };
    let id = pending.client_id.as_str();
    assert_eq!(client_id.as_deref(), Some(id), "the pending request is for the client named");
    assert!(
        redirect_allowed(id, pending.redirect_uri.as_str()),
        "unregistered redirect URI {}",
        pending.redirect_uri.as_str()
    );
    let now = f.server.now();
    for auth_time in [None, Some(now)] {
        if let NextStep::Respond(response) = f.server.next_step(&pending, auth_time, None) {
            check_redirect(id, &response);
        }
    }
    check_redirect(id, &f.server.deny(&pending));
    let approval = Approval { subject: oauth_core::types::Subject::new("user-1"), scope: None, auth_time: now };
    let response = match block_on(f.server.approve(&pending, approval)) {
        Ok(response) => response,
        Err(e) => return check_authorize_error(Some(id), e),
    };
    check_redirect(id, &response);
    crate::count(&crate::REACHED.approved);
    let Some(code) = response.location().and_then(|l| url_param(l, "code")) else { return };

    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code").append_pair("code", &code);
    if pending.redirect_uri_sent {
        form.append_pair("redirect_uri", pending.redirect_uri.as_str());
    }
    if let Ok(Some(verifier)) = params.get("code_verifier") {
        form.append_pair("code_verifier", verifier);
    }
    let client = CLIENTS.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("a code for unknown client {id}"));
    let token_request = match client.secret {
        Some(secret) if id != "post" => {
            OAuthRequest::post_form(&form.finish()).with_header("Authorization", &basic(id, secret))
        }
        _ => OAuthRequest::post_form(&form.append_pair("client_id", id).finish()),
    };
    check_token_answer(&block_on(f.server.token(&token_request.secure())));
}

/// The token endpoint with any body and `Authorization` header. The input is
/// a header line, a newline, and the form; in the form, `CODE_PUB` and
/// `CODE_CONF` become fresh authorization codes (PKCE verifier
/// `fuzz-verifier-…`) of the public and the Basic client, `REFRESH` a
/// fresh refresh token of the Basic client, and `DEVICE_OK` and
/// `DEVICE_WAIT` fresh device codes of the public client, approved and
/// waiting, so mutations reach the grants.
pub fn target_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (header, form) = match text.split_once('\n') {
        Some((header, form)) => (Some(header.trim_end_matches('\r')), form),
        None => (None, text.as_ref()),
    };
    let f = fixture();
    let mut form = Cow::Borrowed(form);
    for (placeholder, client, scope) in
        [("CODE_PUB", &CLIENTS[2], "openid email"), ("CODE_CONF", &CLIENTS[0], "openid offline_access email")]
    {
        if form.contains(placeholder) {
            let code =
                f.fresh_code(client, scope).unwrap_or_else(|| panic!("the fixture's own flow for {}", client.id));
            form = Cow::Owned(form.replace(placeholder, &code));
        }
    }
    for (placeholder, approve) in [("DEVICE_OK", true), ("DEVICE_WAIT", false)] {
        if form.contains(placeholder) {
            let code = f.fresh_device_code(approve).unwrap_or_else(|| panic!("the fixture's own device code"));
            form = Cow::Owned(form.replace(placeholder, &code));
        }
    }
    if form.contains("REFRESH") {
        let refresh = f.fresh_refresh_token().unwrap_or_else(|| panic!("the fixture's own refresh token"));
        form = Cow::Owned(form.replace("REFRESH", &refresh));
    }
    let mut request = OAuthRequest::post_form(&form).secure();
    if let Some(header) = header.filter(|h| !h.is_empty()) {
        request = request.with_header("Authorization", header);
    }
    check_token_answer(&block_on(f.server.token(&request)));
    // The same body where only POST is allowed and where the content type is wrong.
    let mut get = request.clone();
    get.method = oauth_core::request::Method::Get;
    check_json_answer("token", &block_on(f.server.token(&get)), &[400, 401, 405, 429]);
}

/// The configuration loader: TOML text, a NUL byte, then `KEY=value` lines
/// laid over it as `OAUTH__…` environment variables. Loading either gives a
/// configuration whose policy and cookie key can be derived without a panic,
/// or an error with a message.
pub fn target_config(data: &[u8]) {
    let (toml, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let toml = String::from_utf8_lossy(toml);
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .take(16)
        .map(|line| {
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let key = if key.starts_with(oauth_server::config::ENV_PREFIX) {
                key.to_owned()
            } else {
                format!("{}{key}", oauth_server::config::ENV_PREFIX)
            };
            (key, value.to_owned())
        })
        .collect();
    match oauth_server::config::Config::from_toml(&toml, env) {
        Ok(config) => {
            crate::count(&crate::REACHED.configs);
            let _ = config.policy();
            let _ = config.cookie_key();
            // Plain secrets are hashed with Argon2 (slow); hashes and public clients are cheap.
            if config.clients.iter().all(|c| c.secret.is_none()) {
                let _ = config.clients();
            }
        }
        Err(e) => assert!(!format!("{e:#}").trim().is_empty(), "an error without a message"),
    }
}

/// A token endpoint answer: 200 with a token, or 400/401 with an RFC error;
/// JSON, never cached.
fn check_token_answer(response: &OAuthResponse) {
    check_json_answer("token", response, &[200, 400, 401, 429]);
    assert_eq!(response.header("Cache-Control"), Some("no-store"), "token answers are not cached");
    if response.status == 200 {
        let body = response.json_body().unwrap_or_default();
        assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "no access token: {body}");
        assert!(body["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer")), "{body}");
        assert!(body["expires_in"].as_u64().is_some(), "{body}");
        crate::count(&crate::REACHED.tokens);
        if let Some(id_token) = body.get("id_token") {
            let id_token = id_token.as_str().unwrap_or_else(|| panic!("id_token is not a string: {body}"));
            let f = fixture();
            let claims = f.keys.verify::<serde_json::Value>(id_token, "JWT", ISSUER, Some(f.server.now()));
            assert!(claims.is_ok(), "an ID token we issued does not verify: {claims:?}");
            crate::count(&crate::REACHED.id_tokens);
        }
    }
}

/// A protected resource's answer (UserInfo): 200 JSON, or an error with a
/// `WWW-Authenticate: Bearer` challenge.
fn check_bearer_answer(response: &OAuthResponse) {
    assert!(matches!(response.status, 200 | 400 | 401 | 403), "UserInfo answered {}", response.status);
    if response.status != 200 {
        let challenge =
            response.header("WWW-Authenticate").unwrap_or_else(|| panic!("{} without a challenge", response.status));
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    if let Body::Json(text) = &response.body {
        assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "not JSON: {text}");
    }
}

/// A JSON answer with a status from `allowed`; errors carry a known code,
/// 401s a challenge.
fn check_json_answer(endpoint: &str, response: &OAuthResponse, allowed: &[u16]) {
    assert!(allowed.contains(&response.status), "{endpoint} answered {}: {:?}", response.status, response.body);
    assert!(response.header("Location").is_none(), "{endpoint} redirected");
    if response.status == 429 {
        // Throttled failed client authentication says when to come back.
        let retry = response.header("Retry-After").unwrap_or_else(|| panic!("{endpoint}: 429 without Retry-After"));
        assert!(retry.parse::<u64>().is_ok_and(|s| s >= 1), "{endpoint}: Retry-After {retry}");
    }
    let body = match &response.body {
        Body::Json(text) => serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|e| panic!("{endpoint} answered JSON that does not parse ({e}): {text}")),
        Body::Empty if response.status == 200 => return,
        other => panic!("{endpoint} answered {} with {other:?}", response.status),
    };
    if response.status >= 400 {
        let code = body["error"].as_str().unwrap_or_else(|| panic!("{endpoint}: an error without a code: {body}"));
        assert!(ERROR_CODES.contains(&code), "{endpoint}: unknown error code {code}");
        if let Some(description) = body.get("error_description") {
            let description = description.as_str().unwrap_or_else(|| panic!("{body}"));
            assert!(
                description.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
                "RFC 6749 §5.2 forbids {description:?}"
            );
        }
    }
    if response.status == 401 {
        assert!(response.header("WWW-Authenticate").is_some(), "{endpoint}: 401 without a challenge");
    }
}

/// An authorization error: a page (never a redirect) until the client and
/// redirect URI are verified, then a redirect to a registered URI.
fn check_authorize_error(client_id: Option<&str>, error: AuthorizeError) {
    match error {
        AuthorizeError::Redirect(response) => {
            let id = client_id.unwrap_or_else(|| panic!("a redirect without a client: {response:?}"));
            check_redirect(id, &response);
            let target = response.location().map(str::to_owned).or_else(|| form_post_action(&response));
            assert!(
                target.is_some_and(|t| url_param(&t, "error").is_some())
                    || matches!(response.body, Body::Html(ref page) if page.contains("name=\"error\"")),
                "an error redirect without error: {response:?}"
            );
        }
        AuthorizeError::MethodNotAllowed => panic!("GET and POST are allowed at the authorization endpoint"),
        error => {
            let status = error.status();
            assert!((400..500).contains(&status), "an authorization error page with status {status}");
            let response = error.into_response();
            assert!(response.location().is_none(), "an unverified request was redirected");
            check_json_answer("authorize", &response, &[status]);
        }
    }
}

/// A redirect (302 with `Location`, or a `form_post` page) goes only to a
/// URI registered for `client_id`.
fn check_redirect(client_id: &str, response: &OAuthResponse) {
    crate::count(&crate::REACHED.redirects);
    let target = match (response.status, response.location(), &response.body) {
        (302 | 303, Some(location), _) => location.to_owned(),
        (200, None, Body::Html(_)) => {
            form_post_action(response).unwrap_or_else(|| panic!("a form_post page without an action"))
        }
        _ => panic!("not a redirect: {response:?}"),
    };
    assert!(redirect_allowed(client_id, &target), "redirect to {target:?}, not registered for {client_id}");
    assert_eq!(response.header("Cache-Control"), Some("no-store"), "{target}");
}

/// The `action` of a `form_post` page, unescaped.
fn form_post_action(response: &OAuthResponse) -> Option<String> {
    let Body::Html(page) = &response.body else { return None };
    let start = page.find("action=\"")? + "action=\"".len();
    let end = start + page[start..].find('"')?;
    Some(
        page[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// True when `target` is one of the client's redirect URIs followed by
/// nothing, a query or a fragment; a loopback IP literal URI matches any
/// port (RFC 8252 §7.3).
fn redirect_allowed(client_id: &str, target: &str) -> bool {
    let Some(client) = CLIENTS.iter().find(|c| c.id == client_id) else { return false };
    client.redirect_uris.iter().any(|registered| {
        if let Some(rest) = target.strip_prefix(registered) {
            return rest.is_empty()
                || rest.starts_with(['?', '#'])
                || (registered.contains('?') && rest.starts_with('&'));
        }
        let (Ok(r), Ok(t)) = (url::Url::parse(registered), url::Url::parse(target)) else { return false };
        let loopback = matches!(r.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(r.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        loopback
            && r.scheme() == t.scheme()
            && r.host() == t.host()
            && r.path() == t.path()
            && r.username() == t.username()
            && r.password() == t.password()
            && t.query().unwrap_or_default().starts_with(r.query().unwrap_or_default())
    })
}
