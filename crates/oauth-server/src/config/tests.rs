use super::*;
use oauth_core::policy::AccessTokenFormat;
use oauth_core::types::{ResponseType, TokenEndpointAuthMethod};

const MINIMAL: &str = r#"
[server]
issuer = "https://auth.example.com"

[[clients]]
id = "app"
secret_hash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
redirect_uris = ["https://app.example.com/cb"]
scopes = "email profile"
"#;

fn load(text: &str, env: &[(&str, &str)]) -> anyhow::Result<Config> {
    let config = Config::from_toml(text, env.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
    config.validate()?;
    Ok(config)
}

#[test]
fn defaults() {
    let config = load(MINIMAL, &[]).unwrap();
    assert_eq!(config.server.bind, "127.0.0.1:8000");
    assert_eq!(config.endpoints.token, vec!["/oauth/token".to_string()]);
    assert_eq!(config.tokens.access_token_lifetime, 3600);
    assert_eq!(config.session.lifetime, 1800);
    assert!(!config.server.access_log, "access logging is opt-in");
    let clients = config.clients().unwrap();
    assert_eq!(clients[0].auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
    assert!(clients[0].response_types.contains(&ResponseType::Code));
    let policy = config.policy().unwrap();
    assert_eq!(policy.scopes_supported().to_string(), "email profile");
    assert_eq!(policy.request_limits(), oauth_core::policy::RequestLimits::default());
    let limited = load(&format!("{MINIMAL}\n[limits]\nstate = 100"), &[("OAUTH__LIMITS__NONCE", "64")]).unwrap();
    let limits = limited.policy().unwrap().request_limits();
    assert_eq!((limits.state, limits.nonce, limits.scope), (100, 64, 2048), "set fields move, others keep defaults");
}

#[test]
fn environment_overrides() {
    let config = load(
        MINIMAL,
        &[
            ("OAUTH__SERVER__BIND", "0.0.0.0:9000"),
            ("OAUTH__TOKENS__ACCESS_TOKEN_LIFETIME", "300"),
            ("OAUTH__SECURITY__REQUIRE_PKCE", "true"),
            ("OAUTH__ENDPOINTS__TOKEN", "/oauth/tokenize,/oauth/token"),
            ("OAUTH__SERVER__ACCESS_LOG", "true"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.bind, "0.0.0.0:9000");
    assert_eq!(config.tokens.access_token_lifetime, 300);
    assert!(config.security.require_pkce);
    assert!(config.server.access_log);
    assert_eq!(config.endpoints.token, vec!["/oauth/tokenize".to_string(), "/oauth/token".to_string()]);
}

/// Each bad configuration stops start-up with a message naming the field.
#[test]
fn errors_name_the_field() {
    let rows: &[(&str, String, &[(&str, &str)], &str)] = &[
        ("unknown key", MINIMAL.replace("issuer =", "isuer ="), &[], "server"),
        (
            "wrong type",
            format!("{MINIMAL}\n[tokens]\naccess_token_lifetime = \"soon\""),
            &[],
            "tokens.access_token_lifetime",
        ),
        ("bad env integer", MINIMAL.into(), &[("OAUTH__TOKENS__CODE_LIFETIME", "abc")], "tokens.code_lifetime"),
        ("zero lifetime", format!("{MINIMAL}\n[tokens]\ncode_lifetime = 0"), &[], "tokens.code_lifetime"),
        (
            "lifetime past any date",
            format!("{MINIMAL}\n[tokens]\ngrant_lifetime = 9223372036854775807"),
            &[],
            "tokens.grant_lifetime",
        ),
        (
            "lifetime over ten years",
            MINIMAL.into(),
            &[("OAUTH__TOKENS__ACCESS_TOKEN_LIFETIME", "315360001")],
            "tokens.access_token_lifetime",
        ),
        (
            "FAPI 2.0 with implicit",
            format!("{MINIMAL}\n[security]\nfapi2 = true\nallow_implicit = true"),
            &[],
            "security.allow_implicit",
        ),
        (
            "FAPI 2.0 with a long code",
            format!("{MINIMAL}\n[tokens]\ncode_lifetime = 61\n[security]\nfapi2 = true"),
            &[],
            "tokens.code_lifetime",
        ),
        ("zero state limit", format!("{MINIMAL}\n[limits]\nstate = 0"), &[], "limits.state"),
        ("query limit over 1 MiB", MINIMAL.into(), &[("OAUTH__LIMITS__QUERY", "1048577")], "limits.query"),
        ("zero consent lifetime", format!("{MINIMAL}\n[oidc]\nconsent_lifetime = 0"), &[], "oidc.consent_lifetime"),
        ("session lifetime too long", format!("{MINIMAL}\n[session]\nlifetime = 18446744073"), &[], "session.lifetime"),
        ("issuer not a URL", MINIMAL.replace("https://auth.example.com", "auth"), &[], "server.issuer"),
        ("http issuer", MINIMAL.replace("https://auth.example.com", "http://auth.example.com"), &[], "server.issuer"),
        ("relative path", format!("{MINIMAL}\n[endpoints]\nrevoke = \"revoke\""), &[], "endpoints.revoke"),
        ("no token path", format!("{MINIMAL}\n[endpoints]\ntoken = []"), &[], "endpoints.token"),
        (
            "http redirect",
            MINIMAL.replace("https://app.example.com/cb", "http://app.example.com/cb"),
            &[],
            "clients[0].redirect_uris[0]",
        ),
        ("bad secret hash", MINIMAL.replace("sha256:ba", "sha256:zz"), &[], "clients[0].secret_hash"),
        (
            "bad auth method",
            MINIMAL.replace("scopes =", "auth_method = \"private_key_jwt\"\nscopes ="),
            &[],
            "clients[0].auth_method",
        ),
        (
            "public with secret",
            MINIMAL.replace("scopes =", "auth_method = \"none\"\nscopes ="),
            &[],
            "clients[0].auth_method",
        ),
        (
            "bad grant",
            MINIMAL.replace("scopes =", "grant_types = [\"magic\"]\nscopes ="),
            &[],
            "clients[0].grant_types[0]",
        ),
        ("bad scope", MINIMAL.replace("email profile", "email \\\"x"), &[], "clients[0].scopes"),
        (
            "default beyond allowed",
            MINIMAL.replace("scopes =", "default_scopes = \"admin\"\nscopes ="),
            &[],
            "clients[0].default_scopes",
        ),
        (
            "no redirect",
            MINIMAL.replace("redirect_uris = [\"https://app.example.com/cb\"]", ""),
            &[],
            "clients[0].redirect_uris",
        ),
        (
            "duplicate client",
            format!("{MINIMAL}\n[[clients]]\nid = \"app\"\nredirect_uris = [\"https://a.example/cb\"]"),
            &[],
            "clients[1].id",
        ),
        ("short cookie key", format!("{MINIMAL}\n[session]\ncookie_key = \"c2hvcnQ=\""), &[], "session.cookie_key"),
        ("unknown store", format!("{MINIMAL}\n[storage]\nurl = \"mysql://x\""), &[], "storage.url"),
    ];
    for (label, text, env, field) in rows {
        let error = match load(text, env) {
            Ok(_) => panic!("{label}: accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains(field), "{label}: {error:?} does not name {field}");
    }
}

#[test]
fn users_need_exactly_one_password_form() {
    let text = format!("{MINIMAL}\n[[users]]\nusername = \"a\"\n");
    let config = Config::from_toml(&text, []).unwrap();
    let error = format!("{:#}", config.users().unwrap_err());
    assert!(error.contains("users[0]"), "{error}");
}

#[test]
fn the_dpop_section() {
    let config = load(MINIMAL, &[]).unwrap();
    let rules = config.policy().unwrap().dpop().clone();
    assert_eq!(rules.alg_names(), ["ES256", "EdDSA", "PS256", "RS256"]);
    assert_eq!(rules.replay_window(), 65);
    assert!(config.dpop.nonces().unwrap().is_none(), "nonces are off by default");

    let key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let text = format!(
        "{MINIMAL}\n[dpop]\nalgs = [\"ES256\"]\nmax_age = 30\nleeway = 2\nnonce = true\nnonce_key = \"{key}\"\nnonce_period = 120\n"
    );
    let config = load(&text, &[]).unwrap();
    let rules = config.policy().unwrap().dpop().clone();
    assert_eq!((rules.alg_names(), rules.replay_window()), (vec!["ES256"], 32));
    let nonces = config.dpop.nonces().unwrap().expect("nonces on");
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::try_from(i + 1).unwrap();
    }
    let same = oauth_core::dpop::NonceSource::new(bytes, 120);
    assert_eq!(nonces.current(1_800_000_000), same.current(1_800_000_000), "the configured key, shared by instances");
    assert!(!format!("{:?}", config.dpop).contains(key), "the nonce key is not in Debug");
    let bound = MINIMAL.replace("scopes = \"email profile\"", "scopes = \"email\"\ndpop_bound_access_tokens = true");
    assert!(load(&bound, &[]).unwrap().clients().unwrap()[0].dpop_bound_access_tokens, "the client field");
    assert!(!load(MINIMAL, &[]).unwrap().clients().unwrap()[0].dpop_bound_access_tokens, "off by default");
    let config = load(MINIMAL, &[("OAUTH__DPOP__NONCE", "true")]).unwrap();
    assert!(config.dpop.nonces().unwrap().is_some(), "a random key without nonce_key");

    for (label, env, expected) in [
        ("a symmetric alg", ("OAUTH__DPOP__ALGS", "[\"HS256\"]"), "dpop.algs"),
        ("no algs", ("OAUTH__DPOP__ALGS", "[]"), "dpop.algs"),
        ("a zero window", ("OAUTH__DPOP__MAX_AGE", "0"), "dpop: max_age"),
        ("a huge leeway", ("OAUTH__DPOP__LEEWAY", "301"), "dpop: max_age"),
        ("a short nonce key", ("OAUTH__DPOP__NONCE_KEY", "c2hvcnQ="), "dpop.nonce_key"),
    ] {
        let env = [("OAUTH__DPOP__NONCE", "true"), env];
        let error = format!("{:#}", load(MINIMAL, &env).expect_err(label));
        assert!(error.contains(expected), "{label}: {error}");
    }
}

#[test]
fn debug_output_has_no_secrets() {
    let text = format!(
        "{MINIMAL}\n[session]\ncookie_key = \"c2VjcmV0LWtleQ==\"\n[[clients]]\nid = \"b\"\nsecret = \"plain-secret\"\nredirect_uris = [\"https://b.example/cb\"]\n[[users]]\nusername = \"u\"\npassword = \"plain-password\"\n"
    );
    let debug = format!("{:?}", Config::from_toml(&text, []).unwrap());
    for secret in ["c2VjcmV0LWtleQ==", "plain-secret", "plain-password", "sha256:ba78"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

/// Each override takes the type of the field it sets, whatever its text looks like.
#[test]
fn environment_overrides_are_typed_by_the_schema() {
    type Check = fn(&Config) -> bool;
    let rows: &[(&str, &str, Check)] = &[
        ("OAUTH__STORAGE__KEY_PREFIX", "2024", |c| c.storage.key_prefix == "2024"),
        ("OAUTH__SESSION__COOKIE_KEY", "12345", |c| c.session.cookie_key.as_deref() == Some("12345")),
        ("OAUTH__TOKENS__ACCESS_TOKEN_AUDIENCE", "true", |c| c.tokens.access_token_audience.as_deref() == Some("true")),
        ("OAUTH__SERVER__ISSUER", "https://other.example", |c| c.server.issuer == "https://other.example"),
        ("OAUTH__SERVER__WORKERS", " 4 ", |c| c.server.workers == 4),
        ("OAUTH__STORAGE__TIMEOUT_MS", "250", |c| c.storage.timeout_ms == 250),
        ("OAUTH__SERVER__METRICS", "false", |c| !c.server.metrics),
        ("OAUTH__Server__Access_Log", "true", |c| c.server.access_log),
        ("OAUTH__ENDPOINTS__TOKEN", "/a, /b", |c| c.endpoints.token == ["/a", "/b"]),
        ("OAUTH__ENDPOINTS__TOKEN", "/only", |c| c.endpoints.token == ["/only"]),
        ("OAUTH__SERVER__LOGIN_HINT", "42", |c| c.server.login_hint.as_deref() == Some("42")),
        ("OAUTH__SERVER__LOGIN_HINT", "", |c| c.server.login_hint.is_none()),
        ("OAUTH__SERVER__TEMPLATES_DIR", "/srv/t", |c| c.server.templates_dir.as_deref() == Some("/srv/t".as_ref())),
        ("OAUTH__TOKENS__ACCESS_TOKEN_FORMAT", "jwt", |c| c.tokens.access_token_format == AccessTokenFormat::Jwt),
        ("OAUTH__OIDC__EPHEMERAL_KEY", "ES256", |c| c.oidc.ephemeral_key.as_deref() == Some("ES256")),
        ("OAUTH__SCOPES__EMAIL", "Your email", |c| c.scopes.get("email").map(String::as_str) == Some("Your email")),
    ];
    for (key, value, check) in rows {
        let config = Config::from_toml(MINIMAL, [(key.to_string(), value.to_string())])
            .unwrap_or_else(|e| panic!("{key}={value:?}: {e:#}"));
        assert!(check(&config), "{key}={value:?}: {config:?}");
        assert_eq!(config.clients.len(), 1, "{key}: the file's other values stay");
    }
    // Refused, naming the field and the variable.
    let rows: &[(&str, &str, &str)] = &[
        ("OAUTH__TOKENS__ACCESS_TOKEN_LIFETIME", "abc", "tokens.access_token_lifetime: invalid type: string \"abc\""),
        ("OAUTH__TOKENS__CODE_LIFETIME", "-1", "tokens.code_lifetime"),
        ("OAUTH__SECURITY__REQUIRE_PKCE", "yes", "security.require_pkce"),
        ("OAUTH__SERVER__WORKERS", "", "server.workers"),
        ("OAUTH__TOKENS__ACCESS_TOKEN_FORMAT", "paseto", "tokens.access_token_format"),
        ("OAUTH__SERVER__NO_SUCH_FIELD", "1", "unknown field `no_such_field`"),
        ("OAUTH__STORAGE", "redis", "storage: invalid type: string"),
        ("OAUTH__SERVER__BIND__PORT", "1", "server.bind: invalid type: map"),
        ("OAUTH__SERVER__ISSUER__HOST", "x", "server.issuer is not a section"),
        ("OAUTH__SERVER____BIND", "1", "empty field name"),
    ];
    for (key, value, expected) in rows {
        let error = match Config::from_toml(MINIMAL, [(key.to_string(), value.to_string())]) {
            Ok(_) => panic!("{key}={value:?}: accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains(expected) && error.contains(key), "{key}={value:?}: {error}");
    }
}

#[test]
fn the_token_exchange_section() {
    let jwk = r#"{ kty = "EC", crv = "P-256", x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }"#;
    let good = format!(
        r#"{MINIMAL}
[[token_exchange.clients]]
client_id = "app"
audiences = ["https://api.example.com"]
scopes = "email"
impersonation = true
lifetime = 120

[[token_exchange.issuers]]
issuer = "https://idp.example.org"
jwks = {{ keys = [{jwk}] }}

[[token_exchange.issuers]]
issuer = "https://other.example.org"
jwks_uri = "https://other.example.org/jwks"
audience = "https://auth.example.com/token"
"#
    );
    let policy = load(&good, &[]).unwrap().policy().unwrap();
    let exchange = policy.token_exchange();
    let rule = exchange.rule(&oauth_core::types::ClientId::new("app")).unwrap();
    assert_eq!(
        (rule.audiences.clone(), rule.scopes.as_ref().map(ToString::to_string), rule.impersonation, rule.lifetime),
        (vec!["https://api.example.com".to_owned()], Some("email".to_owned()), true, Some(120))
    );
    assert_eq!(exchange.issuers().len(), 2);
    assert_eq!(exchange.issuer("https://idp.example.org").unwrap().jwks.as_ref().unwrap()["keys"][0]["crv"], "P-256");
    assert_eq!(
        exchange.issuer("https://other.example.org").unwrap().audience.as_deref(),
        Some("https://auth.example.com/token")
    );
    assert!(!load(MINIMAL, &[]).unwrap().policy().unwrap().token_exchange().enabled(), "off by default");

    let client = |body: &str| format!("{MINIMAL}\n[[token_exchange.clients]]\n{body}\n");
    let issuer = |body: &str| format!("{MINIMAL}\n[[token_exchange.issuers]]\nissuer = \"https://i\"\n{body}\n");
    for (text, field) in [
        (client("client_id = \"app\"\nlifetime = 0"), "token_exchange.clients.app.lifetime"),
        (client("client_id = \"app\"\nscopes = \"a\\\"b\""), "token_exchange.clients[0].scopes"),
        (client("client_id = \"\""), "token_exchange.clients[0].client_id"),
        (client("client_id = \"app\"\naudiences = [\"\"]"), "token_exchange.clients.app.audiences"),
        (client("client_id = \"app\"\nunknown = 1"), "unknown field"),
        (issuer(""), "token_exchange.issuers[0]"),
        (issuer("jwks_uri = \"http://i/jwks\""), "token_exchange.issuers[0]"),
        (issuer("jwks = { keys = [] }"), "token_exchange.issuers[0]"),
    ] {
        let error = format!("{:#}", load(&text, &[]).err().unwrap_or_else(|| panic!("accepted: {text}")));
        assert!(error.contains(field), "{field}: {error}");
    }
}

#[test]
fn device_settings_and_device_clients() {
    let text = format!(
        "{MINIMAL}\n[device]\ncode_lifetime = 900\n\n[endpoints]\ndevice_authorization = \"/device/authorize\"\n\
         device_verification = \"/activate\"\n\n[[clients]]\nid = \"tv\"\nauth_method = \"none\"\n\
         grant_types = [\"urn:ietf:params:oauth:grant-type:device_code\", \"refresh_token\"]\n"
    );
    let config = load(&text, &[("OAUTH__DEVICE__INTERVAL", "10")]).unwrap();
    let policy = config.policy().unwrap();
    assert_eq!((policy.device_code_lifetime(), policy.device_poll_interval()), (900, 10));
    assert_eq!(policy.paths().device_authorization, "/device/authorize");
    assert_eq!(policy.paths().device_verification, "/activate");
    let tv = config.clients().unwrap().into_iter().find(|c| c.id.as_str() == "tv").unwrap();
    assert!(tv.grant_types.contains(&oauth_core::types::GrantType::DeviceCode), "no redirect URI needed");
    let defaults = load(MINIMAL, &[]).unwrap().policy().unwrap();
    assert_eq!((defaults.device_code_lifetime(), defaults.device_poll_interval()), (600, 5));

    for (env, field) in [
        (("OAUTH__DEVICE__INTERVAL", "601"), "device.interval"),
        (("OAUTH__DEVICE__CODE_LIFETIME", "0"), "device.code_lifetime"),
        (("OAUTH__ENDPOINTS__DEVICE_VERIFICATION", "activate"), "endpoints.device_verification"),
    ] {
        let error = load(MINIMAL, &[env]).map(drop).unwrap_err().to_string();
        assert!(error.starts_with(field), "{env:?}: {error}");
    }
    let error = load(&format!("{MINIMAL}\n[device]\nlifetime = 5\n"), &[]).map(drop).unwrap_err().to_string();
    assert!(error.contains("lifetime"), "unknown fields are refused: {error}");
}
