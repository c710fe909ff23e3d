//! The app under test.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use oauth_server::Config;

/// The demo's configuration (http on loopback), with overrides.
pub const CONFIG: &str = include_str!("../../../../examples/aioauth-demo/demo.toml");

pub const AUTHORIZE: &str = "/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email";

pub fn config(env: &[(&str, &str)]) -> Config {
    Config::from_toml(CONFIG, env.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

pub async fn app(
    config: Config,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl actix_web::body::MessageBody>, Error = actix_web::Error>
{
    let state = oauth_server::build_state(&config).await.unwrap();
    test::init_service(App::new().configure(move |cfg| oauth_server::configure(&state, cfg))).await
}

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

pub fn query_params(location: &str) -> std::collections::BTreeMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}
