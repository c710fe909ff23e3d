//! The environment overlay: `OAUTH__SECTION__KEY=value` over the file.

use anyhow::{anyhow, bail};

/// The prefix of environment overrides: `OAUTH__SERVER__BIND=0.0.0.0:8000`.
pub const ENV_PREFIX: &str = "OAUTH__";

/// Sets `a__b__c` (case-insensitive) in the table, typed like the value it replaces.
pub(super) fn apply_override(table: &mut toml::Table, path: &str, value: &str) -> anyhow::Result<()> {
    let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, parents)) = keys.split_last() else { bail!("empty key") };
    let mut current = table;
    for key in parents {
        let entry = current.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("{key} is not a section"),
        };
    }
    let typed = match current.get(last) {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(value.parse().map_err(|_| anyhow!("expected an integer"))?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(value.parse().map_err(|_| anyhow!("expected true or false"))?)
        }
        Some(toml::Value::Array(_)) => {
            toml::Value::Array(value.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect())
        }
        _ => guess(last, value),
    };
    current.insert(last.clone(), typed);
    Ok(())
}

/// Types a value for a key the file did not set, from the key's known type.
fn guess(key: &str, value: &str) -> toml::Value {
    if key == "token" {
        return toml::Value::Array(value.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect());
    }
    if let Ok(b) = value.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    match value.parse::<i64>() {
        Ok(i) if key != "bind" && key != "cookie_key" => toml::Value::Integer(i),
        _ => toml::Value::String(value.to_owned()),
    }
}
