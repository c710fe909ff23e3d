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

use anyhow::Context as _;

pub use build::Assembly;
pub use env::ENV_PREFIX;
pub use schema::*;

impl Config {
    /// Reads a file and applies the environment overrides.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml(&text, std::env::vars()).with_context(|| format!("in {}", path.display()))
    }

    /// Parses TOML text and lays the `OAUTH__…` variables of `env` over it,
    /// each typed by the field it sets.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let table: toml::Table = text.parse().context("the configuration is not valid TOML")?;
        env::deserialize(table, env)
    }
}

#[cfg(test)]
mod tests;
