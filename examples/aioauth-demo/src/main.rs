//! The aioauth FastAPI example's demo on oauth-server, with the in-memory store.
//!
//! Run with: `just run-example` (or `cargo run -p example-aioauth-demo`), then open
//! <http://localhost:8000/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email>
//! and log in as `admin` / `admin`.
//!
//! `OAUTH__…` environment variables override the embedded `demo.toml`
//! (for example `OAUTH__SERVER__BIND=127.0.0.1:9000`).

/// The demo configuration, embedded.
const DEMO: &str = include_str!("../demo.toml");

/// The demo's configuration with environment overrides applied.
fn config() -> anyhow::Result<oauth_server::Config> {
    oauth_server::Config::from_toml(DEMO, std::env::vars())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
    let config = config()?;
    println!("aioauth demo: open this URL in a browser and log in as admin / admin:");
    println!(
        "  http://localhost:{}/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect&response_type=code&state=somestate&scope=email",
        config.server.bind.rsplit(':').next().unwrap_or("8000")
    );
    oauth_server::run(config, None).await
}

#[cfg(test)]
mod tests;
