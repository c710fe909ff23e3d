//! The crate dependency rules hold in the workspace as it builds.

#[test]
fn crate_dependency_rules_hold() {
    let metadata = tidy::deps::workspace_metadata().expect("cargo metadata");
    let violations = tidy::deps::violations(&metadata);
    assert!(
        violations.is_empty(),
        "the crate dependency rules of docs/ARCHITECTURE.md are broken:\n  {}\n",
        violations.join("\n  ")
    );
}
