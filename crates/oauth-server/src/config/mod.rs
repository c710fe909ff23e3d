//! Configuration: a TOML file, overridden by `OAUTH__SECTION__KEY` environment variables.
//!
//! Every field and its default is listed in `docs/configuration.md`. Loading
//! fails with a message that names the field at fault. One module per job:
//!
//! - [`schema`]: the file's sections and their defaults.
//! - `env`: the `OAUTH__…` overlay.
//! - `build`: the engine's values (policy, clients, users), checked and
//!   hashed once ([`Config::assemble`]).
//! - `keys`: reading signing keys from files.

mod build;
mod env;
mod keys;
pub mod schema;

use anyhow::{Context as _, anyhow};

pub use build::Assembly;
pub use env::ENV_PREFIX;
pub use schema::*;

impl Config {
    /// Reads a file and applies the environment overrides.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text, std::env::vars()).with_context(|| format!("in {}", path.display()))
    }

    /// Parses TOML text and applies `OAUTH__…` overrides from `env`.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut table: toml::Table = text.parse().context("the configuration is not valid TOML")?;
        for (key, value) in env {
            if let Some(path) = key.strip_prefix(ENV_PREFIX) {
                env::apply_override(&mut table, path, &value).with_context(|| format!("environment variable {key}"))?;
            }
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| anyhow!("{}: {}", e.path(), e.inner()))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
