//! The crate dependency rules of `docs/ARCHITECTURE.md`, checked over
//! `cargo metadata`'s resolved graph.
//!
//! Only *normal* dependencies count, transitively: dev-dependencies are not
//! part of what a crate ships, and build-dependencies only run at build time.
//! The graph is the one the workspace builds on this host: the features
//! `cargo metadata` resolves for the workspace (each member's default
//! features, unified), and the platform-specific dependencies of the host
//! only (`--filter-platform`).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What one crate must not depend on, directly or not.
#[derive(Debug)]
pub struct Rule {
    /// The workspace crate the rule is about.
    pub krate: &'static str,
    /// Forbidden package names; a trailing `*` matches any name with that start.
    pub forbidden: &'static [&'static str],
    /// Why, as `docs/ARCHITECTURE.md` says it.
    pub why: &'static str,
}

/// The rules, as in the codemap of `docs/ARCHITECTURE.md`.
pub const RULES: &[Rule] = &[
    Rule {
        krate: "oauth-core",
        forbidden: &["actix*", "redis", "deadpool*", "tera", "tokio"],
        why: "the engine does no IO and knows no framework and no runtime",
    },
    Rule {
        krate: "oauth-actix",
        forbidden: &["oauth-storage-*", "redis", "deadpool*", "tera"],
        why: "the adapter only converts between actix-web and core; it knows no store and no templates",
    },
    Rule { krate: "oauth-storage-redis", forbidden: &["actix*", "tera"], why: "a store knows no web framework" },
];

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// The workspace's `cargo metadata --format-version 1`, for the host platform.
///
/// Runs the cargo of `$CARGO` (set when cargo runs the tests), or `cargo`.
pub fn workspace_metadata() -> Result<Value, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--filter-platform", &host()?, "--manifest-path"])
        .arg(&manifest)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata's JSON: {e}"))
}

/// The host's target triple, from `rustc -vV`.
fn host() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV printed no host".to_owned())
}

/// Every broken rule in `metadata`, one line each with the chain of crates
/// that leads to the forbidden one, e.g. `oauth-core must not depend on tokio
/// (…): oauth-core -> some-crate -> tokio`. A chain stops at the first
/// forbidden crate, so one mistake gives one line, not one per crate behind it.
/// A rule whose crate is missing from the graph is an error too.
pub fn violations(metadata: &Value) -> Vec<String> {
    let graph = match Graph::new(metadata) {
        Ok(graph) => graph,
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    for rule in RULES {
        let Some(root) = graph.id_of(rule.krate) else {
            out.push(format!("{}: not in the workspace's dependency graph (a renamed crate?)", rule.krate));
            continue;
        };
        for chain in graph.chains_to(root, |name| rule.forbidden.iter().any(|p| matches(p, name))) {
            let last = chain.last().map_or("", String::as_str);
            out.push(format!("{} must not depend on {last} ({}): {}", rule.krate, rule.why, chain.join(" -> ")));
        }
    }
    out
}

/// The resolved graph: package names and the normal dependencies of each package.
struct Graph<'a> {
    names: BTreeMap<&'a str, &'a str>,
    normal_deps: BTreeMap<&'a str, Vec<&'a str>>,
    members: Vec<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(metadata: &'a Value) -> Result<Self, String> {
        let names = metadata["packages"]
            .as_array()
            .ok_or("cargo metadata: no packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let members = metadata["workspace_members"]
            .as_array()
            .ok_or("cargo metadata: no workspace_members")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let nodes =
            metadata["resolve"]["nodes"].as_array().ok_or("cargo metadata: no resolve (run without --no-deps)")?;
        let normal_deps = nodes
            .iter()
            .filter_map(|node| {
                let deps =
                    node["deps"].as_array()?.iter().filter(|dep| is_normal(dep)).filter_map(|dep| dep["pkg"].as_str());
                Some((node["id"].as_str()?, deps.collect()))
            })
            .collect();
        Ok(Self { names, normal_deps, members })
    }

    fn name(&self, id: &'a str) -> &'a str {
        self.names.get(id).copied().unwrap_or(id)
    }

    /// The package id of the workspace member `name`.
    fn id_of(&self, name: &str) -> Option<&'a str> {
        self.members.iter().copied().find(|id| self.name(id) == name)
    }

    /// A shortest chain of names from `root` to each package whose name is
    /// `forbidden`, over normal dependencies, not walking through forbidden ones.
    fn chains_to(&self, root: &'a str, forbidden: impl Fn(&str) -> bool) -> Vec<Vec<String>> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([root]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            if id != root && forbidden(self.name(id)) {
                found.push(id);
                continue;
            }
            for &dep in self.normal_deps.get(id).into_iter().flatten() {
                if dep != root && !parent.contains_key(dep) {
                    parent.insert(dep, id);
                    queue.push_back(dep);
                }
            }
        }
        found
            .into_iter()
            .map(|mut id| {
                let mut chain = vec![self.name(id).to_owned()];
                while let Some(&up) = parent.get(id) {
                    chain.push(self.name(up).to_owned());
                    id = up;
                }
                chain.reverse();
                chain
            })
            .collect()
    }
}

/// A dependency edge that is a normal one (`kind: null`) in at least one of its declarations.
fn is_normal(dep: &Value) -> bool {
    match dep["dep_kinds"].as_array() {
        Some(kinds) => kinds.iter().any(|k| k["kind"].is_null()),
        // Cargo before 1.41 gave no kinds.
        None => true,
    }
}

#[cfg(test)]
mod tests;
