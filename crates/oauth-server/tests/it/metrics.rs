//! /metrics: the counters move after real requests, and no secret reaches a label.

use oauth_server::testing::Browser;

use crate::support::{AUTHORIZE, app, config, query_params, tokenize};

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn counters_move_after_real_requests() {
    let app = app(config(&[])).await;
    let mut b = Browser::new();
    let before = b.get(&app, "/metrics").await;
    assert_eq!(before.status, 200);
    assert!(before.header("content-type").unwrap().starts_with("text/plain"));

    // One full flow and token exchange, one bad token request, one introspection.
    let login = b.get(&app, AUTHORIZE).await.next();
    let approve = b.login_at(&app, &login, "admin", "admin").await.next();
    let consent = b.get(&app, &approve).await;
    let r = b.post_form(&app, "/approve", &consent.submit("approval=1")).await;
    let code = query_params(r.location().unwrap())["code"].clone();
    let r = b
        .send(
            &app,
            tokenize(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"
            )),
        )
        .await;
    assert_eq!(r.status, 200);
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = b
        .send(
            &app,
            tokenize(format!(
                "grant_type=authorization_code&code={code}&redirect_uri=https://www.example.com/redirect"
            )),
        )
        .await;
    assert_eq!(r.status, 400, "replay");

    let m = b.get(&app, "/metrics").await.body;
    assert_eq!(value(&m, r#"oauth_tokens_issued_total{grant_type="authorization_code"}"#), 1.0, "{m}");
    assert_eq!(value(&m, r#"oauth_oauth_errors_total{endpoint="token",error="invalid_grant"}"#), 1.0);
    assert_eq!(
        value(
            &m,
            r#"oauth_http_request_duration_seconds_count{endpoint="/oauth/tokenize",method="POST",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"oauth_http_request_duration_seconds_count{endpoint="/oauth/tokenize",method="POST",status="400"}"#
        ),
        1.0
    );
    assert!(
        value(&m, r#"oauth_http_request_duration_seconds_count{endpoint="/login",method="GET",status="200"}"#) >= 1.0
    );
    assert_eq!(value(&m, r#"oauth_store_operation_duration_seconds_count{operation="take_code",outcome="ok"}"#), 2.0);
    assert!(value(&m, r#"oauth_store_operation_duration_seconds_count{operation="create_grant",outcome="ok"}"#) >= 1.0);
    assert!(!m.contains(&code) && !m.contains(&access) && !m.contains("password"), "no secret in metrics");
    assert!(!m.contains("somestate"), "no request input in labels");
}

#[actix_web::test]
async fn metrics_can_be_turned_off() {
    let app = app(config(&[("OAUTH__SERVER__METRICS", "false")])).await;
    assert_eq!(Browser::new().get(&app, "/metrics").await.status, 404);
}
