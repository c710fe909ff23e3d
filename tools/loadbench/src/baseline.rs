//! The baseline: an actix-web handler that parses the same form and answers
//! a fixed token-shaped JSON with the same cache headers. It runs in this
//! same executable, started with `--serve-baseline <port>`.

use std::process::Stdio;

use actix_web::{App, HttpResponse, HttpServer, web};
use oauth_storage_redis::testing::free_port;

use crate::process::{Proc, SERVER_CORE, pinned, wait_http};
use crate::server::Target;

async fn token(body: web::Bytes) -> HttpResponse {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if !form.iter().any(|(k, _)| k == "grant_type") {
        return HttpResponse::BadRequest().finish();
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .content_type("application/json")
        .body(r#"{"access_token":"AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB","token_type":"Bearer","expires_in":3600,"scope":"read"}"#)
}

/// Serves the baseline on `port` with one worker, until killed.
pub(crate) fn serve(port: u16) {
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/oauth/token", web::post().to(token)))
            .workers(1)
            .bind(("127.0.0.1", port))
            .expect("bind")
            .run()
            .await
            .expect("serve");
    });
}

/// Starts the baseline pinned to the server core, and waits until it answers.
pub(crate) async fn start() -> Target {
    let port = free_port();
    let proc = Proc::new(
        pinned(SERVER_CORE, &std::env::current_exe().unwrap())
            .args(["--serve-baseline", &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let baseline = Target { name: "baseline", base: format!("http://127.0.0.1:{port}"), proc, redis: None };
    wait_http(&format!("{}/", baseline.base)).await;
    baseline
}
