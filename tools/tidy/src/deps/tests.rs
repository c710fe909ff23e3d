use serde_json::json;

use super::violations;

/// A graph in `cargo metadata`'s shape: `(package, [(dependency, kinds)])`;
/// the workspace members are the three crates the rules are about.
fn metadata(edges: &[(&str, &[(&str, &[Option<&str>])])]) -> serde_json::Value {
    let id = |name: &str| format!("id#{name}");
    let mut names: Vec<&str> = edges.iter().map(|(name, _)| *name).collect();
    names.extend(edges.iter().flat_map(|(_, deps)| deps.iter().map(|(name, _)| *name)));
    names.sort_unstable();
    names.dedup();
    let members: Vec<String> = ["oauth-core", "oauth-actix", "oauth-storage-redis"].map(id).into();
    json!({
        "packages": names.iter().map(|n| json!({ "id": id(n), "name": n })).collect::<Vec<_>>(),
        "workspace_members": members,
        "resolve": { "nodes": edges.iter().map(|(name, deps)| json!({
            "id": id(name),
            "deps": deps.iter().map(|(dep, kinds)| json!({
                "pkg": id(dep),
                "dep_kinds": kinds.iter().map(|k| json!({ "kind": k, "target": null })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>() },
    })
}

const NORMAL: &[Option<&str>] = &[None];
const DEV: &[Option<&str>] = &[Some("dev")];
const BUILD: &[Option<&str>] = &[Some("build")];

#[test]
fn clean_graph_has_no_violations() {
    let m = metadata(&[
        ("oauth-core", &[("serde", NORMAL), ("tokio", DEV)]),
        ("oauth-actix", &[("oauth-core", NORMAL), ("actix-web", NORMAL), ("oauth-storage-redis", DEV)]),
        ("oauth-storage-redis", &[("oauth-core", NORMAL), ("redis", NORMAL), ("cc", BUILD)]),
        ("cc", &[("tera", NORMAL)]),
    ]);
    assert_eq!(violations(&m), Vec::<String>::new());
}

#[test]
fn transitive_violations_name_the_chain() {
    let m = metadata(&[
        ("oauth-core", &[("jsonwebtoken", NORMAL)]),
        // Declared both as a dev- and as a normal dependency: it counts.
        ("jsonwebtoken", &[("tokio", &[Some("dev"), None]), ("deadpool-runtime", NORMAL)]),
        ("oauth-actix", &[("oauth-core", NORMAL), ("oauth-storage-redis", NORMAL)]),
        ("oauth-storage-redis", &[("oauth-core", NORMAL), ("actix-rt", NORMAL)]),
        ("actix-rt", &[("actix-macros", NORMAL)]),
    ]);
    let v = violations(&m);
    let expected = [
        "oauth-core must not depend on tokio (the engine does no IO and knows no framework and no runtime): oauth-core -> jsonwebtoken -> tokio",
        "oauth-core must not depend on deadpool-runtime (the engine does no IO and knows no framework and no runtime): oauth-core -> jsonwebtoken -> deadpool-runtime",
        // The store crate itself is the finding; the walk does not go through it.
        "oauth-actix must not depend on oauth-storage-redis (the adapter only converts between actix-web and core; it knows no store and no templates): oauth-actix -> oauth-storage-redis",
        // Through oauth-core, a dependency of core's breaks the adapter's rule too.
        "oauth-actix must not depend on deadpool-runtime (the adapter only converts between actix-web and core; it knows no store and no templates): oauth-actix -> oauth-core -> jsonwebtoken -> deadpool-runtime",
        // One line for actix-rt; actix-macros behind it is not repeated.
        "oauth-storage-redis must not depend on actix-rt (a store knows no web framework): oauth-storage-redis -> actix-rt",
    ];
    assert_eq!(v, expected);
}

#[test]
fn missing_crate_is_reported() {
    let m = metadata(&[("oauth-core", &[]), ("oauth-actix", &[])]);
    assert_eq!(violations(&m), ["oauth-storage-redis: not in the workspace's dependency graph (a renamed crate?)"]);
}
