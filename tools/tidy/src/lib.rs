//! Checks of the repository's rules that the compiler does not enforce. They
//! run as the tests of this crate (`tests/it`), so `cargo test --workspace`,
//! and with it CI, fails when a rule is broken.
//!
//! - [`deps`]: the crate dependency rules of `docs/ARCHITECTURE.md`, checked
//!   over the dependency graph that `cargo metadata` resolves.

pub mod deps;
