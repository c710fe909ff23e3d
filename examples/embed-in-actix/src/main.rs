//! An existing actix-web app that mounts the OAuth endpoints under `/auth`
//! and brings its own (deliberately tiny) login page.
//!
//! Run with: `cargo run -p example-embed-in-actix`, then open
//! <http://127.0.0.1:8080/auth/oauth/authorize?client_id=my-app&response_type=code&state=xyz>
//! and log in as `alice` / `wonderland`.
//!
//! What the app does itself: keeps each pending authorization under a random
//! handle, shows its login page, checks the password, and calls
//! `approve` (a first-party app needs no consent screen). Everything OAuth is
//! `oauth-actix` and `oauth-core`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use oauth_actix::{AuthorizeHandler, OAuthEndpoints, respond};
use oauth_core::client::{Client, SecretHash, register};
use oauth_core::generate::{RandomGenerator, TokenGenerator as _};
use oauth_core::policy::EndpointPaths;
use oauth_core::response::html_escape;
use oauth_core::storage::{Stores, UserStore as _};
use oauth_core::types::{Issuer, RedirectUri, ScopeSet, Subject, TokenEndpointAuthMethod};
use oauth_core::user::{User, hash_password};
use oauth_core::{Approval, AuthorizationServer, MemoryStore, Params, PendingAuthorization, ServerPolicy};

/// The app's state: the OAuth engine, and pending authorizations by handle,
/// waiting for the login form.
struct AppState {
    server: Arc<AuthorizationServer>,
    waiting: Mutex<HashMap<String, PendingAuthorization>>,
}

impl AppState {
    async fn new() -> web::Data<Self> {
        web::Data::new(Self { server: oauth_server().await, waiting: Mutex::default() })
    }
}

/// Keeps the pending authorization and sends the user to the app's own login page.
struct MyLogin(web::Data<AppState>);

#[async_trait::async_trait(?Send)]
impl AuthorizeHandler for MyLogin {
    async fn pending(&self, _req: HttpRequest, pending: PendingAuthorization) -> HttpResponse {
        let handle = RandomGenerator.token();
        self.0.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(handle.clone(), pending);
        HttpResponse::SeeOther().insert_header(("Location", format!("/my-login?handle={handle}"))).finish()
    }
}

async fn login_form(query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let handle = html_escape(query.get("handle").map(String::as_str).unwrap_or(""));
    HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(("X-Frame-Options", "DENY")).body(
        format!(
            "<form method=post action=/my-login><input type=hidden name=handle value=\"{handle}\">\
         <input name=username> <input type=password name=password> <button>Log in</button></form>"
        ),
    )
}

async fn login_submit(req: HttpRequest, body: web::Bytes, app: web::Data<AppState>) -> HttpResponse {
    let form = Params::parse_bytes(&body);
    let field = |name| form.get(name).ok().flatten().unwrap_or("").to_owned();
    let Some(pending) = app.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&field("handle"))
    else {
        return HttpResponse::BadRequest().body("unknown or used login handle");
    };
    let Ok(user) = app.server.stores().users.find_user(&field("username")).await else {
        return HttpResponse::ServiceUnavailable().body("storage unavailable");
    };
    // Argon2 runs on the process-wide pool that `OAuthEndpoints` installed.
    let check = oauth_core::user::password_check(user.as_ref(), &field("password"));
    match (app.server.run_offloaded(check).await, user) {
        (Err(_), _) => HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).body("busy"),
        (Ok(true), Some(user)) => {
            let approval = Approval { subject: user.subject, scope: None, auth_time: app.server.now() };
            match app.server.approve(&pending, approval).await {
                Ok(response) => respond(&req, response),
                Err(e) => respond(&req, e.into_response()),
            }
        }
        // A wrong password ends this attempt with access_denied at the client.
        (Ok(_), _) => respond(&req, app.server.deny(&pending)),
    }
}

async fn home() -> HttpResponse {
    HttpResponse::Ok().body("my existing app")
}

/// Where the app mounts the OAuth endpoints; the policy's paths and the issuer are below it.
const PREFIX: &str = "/auth";

/// The OAuth server with one client (`my-app` / `my-secret`) and one user (`alice` / `wonderland`).
async fn oauth_server() -> Arc<AuthorizationServer> {
    let store = Arc::new(MemoryStore::new());
    let mut client = Client::new("my-app");
    client.secret = Some(SecretHash::sha256("my-secret"));
    client.auth_method = TokenEndpointAuthMethod::ClientSecretBasic;
    client.redirect_uris = vec![RedirectUri::new("http://127.0.0.1:8080/callback", false).expect("valid URI")];
    client.scopes = ScopeSet::parse("profile").expect("valid scope");
    client.default_scopes = client.scopes.clone();
    register(store.as_ref(), &client).await.expect("a valid client");
    let user = User {
        subject: Subject::new("alice"),
        username: "alice".into(),
        password_hash: hash_password("wonderland"),
        claims: Default::default(),
    };
    store.put_user(&user).await.expect("memory store");
    // Plain http: a loopback demo only.
    let issuer = Issuer::new(&format!("http://127.0.0.1:8080{PREFIX}"), true).expect("a valid issuer");
    let policy = ServerPolicy::builder(issuer)
        .allow_insecure_transport(true)
        .paths(EndpointPaths::default().with_prefix(PREFIX))
        .build()
        .expect("a valid policy");
    Arc::new(AuthorizationServer::new(policy, Stores::single(store)))
}

/// The existing app, with the OAuth endpoints mounted under [`PREFIX`].
fn app(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let endpoints = OAuthEndpoints::new(state.server.clone(), Arc::new(MyLogin(state.clone())));
        cfg.app_data(state)
            .route("/", web::get().to(home))
            .route("/my-login", web::get().to(login_form))
            .route("/my-login", web::post().to(login_submit))
            .service(endpoints.scope(PREFIX).expect("the policy's paths are below PREFIX"));
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let state = AppState::new().await;
    println!("listening on http://127.0.0.1:8080");
    HttpServer::new(move || App::new().configure(app(state.clone()))).bind(("127.0.0.1", 8080))?.run().await
}

#[cfg(test)]
mod tests {
    use actix_web::test::{self, TestRequest};

    use super::*;

    #[actix_web::test]
    async fn own_login_page_then_tokens() {
        let app = test::init_service(App::new().configure(app(AppState::new().await))).await;
        assert_eq!(test::call_and_read_body(&app, TestRequest::get().uri("/").to_request()).await, "my existing app");

        let req =
            TestRequest::get().uri("/auth/oauth/authorize?client_id=my-app&response_type=code&state=xyz").to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status().as_u16(), 303);
        let location = resp.headers().get("location").unwrap().to_str().unwrap().to_owned();
        let handle = location.strip_prefix("/my-login?handle=").unwrap().to_owned();

        let login = |password: &str, handle: &str| {
            TestRequest::post()
                .uri("/my-login")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(format!("handle={handle}&username=alice&password={password}"))
                .to_request()
        };
        let resp = test::call_service(&app, login("wonderland", &handle)).await;
        assert_eq!(resp.status().as_u16(), 302);
        let location = resp.headers().get("location").unwrap().to_str().unwrap().to_owned();
        assert!(location.starts_with("http://127.0.0.1:8080/callback?state=xyz&code="), "{location}");
        let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap();
        // The handle is single use.
        assert_eq!(test::call_service(&app, login("wonderland", &handle)).await.status().as_u16(), 400);

        use base64::Engine as _;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("my-app:my-secret"));
        let req = TestRequest::post()
            .uri("/auth/oauth/token")
            .insert_header(("Authorization", basic))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(format!("grant_type=authorization_code&code={code}"))
            .to_request();
        let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "profile");

        // A wrong password: access_denied goes back to the client.
        let req =
            TestRequest::get().uri("/auth/oauth/authorize?client_id=my-app&response_type=code&state=s2").to_request();
        let resp = test::call_service(&app, req).await;
        let handle = resp
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .strip_prefix("/my-login?handle=")
            .unwrap()
            .to_owned();
        let resp = test::call_service(&app, login("nope", &handle)).await;
        let location = resp.headers().get("location").unwrap().to_str().unwrap();
        assert!(location.starts_with("http://127.0.0.1:8080/callback?error=access_denied"), "{location}");

        let meta: serde_json::Value = test::call_and_read_body_json(
            &app,
            TestRequest::get().uri("/auth/.well-known/oauth-authorization-server").to_request(),
        )
        .await;
        assert_eq!(meta["token_endpoint"], "http://127.0.0.1:8080/auth/oauth/token");
    }
}
