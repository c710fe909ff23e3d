//! Fuzz targets for the parsers that take outside input.
//!
//! Each target is a plain function of bytes that panics when it finds a
//! problem: a panic inside the code under test, or an answer that is not
//! well formed (a status outside the endpoint's set, a body that is not JSON,
//! a redirect to a URI the client did not register, a token that verifies
//! without a valid signature). Two drivers run them:
//!
//! - [`driver`]: stable, in-process, deterministic: the checked-in seed
//!   corpus (`tools/fuzz/corpus/<target>/`) plus a bounded number of seeded
//!   mutations. `cargo test -p fuzz` (so `cargo test --workspace`) runs it
//!   for a few seconds; `FUZZ_ITERATIONS` raises the count.
//! - cargo-fuzz (`tools/fuzz/fuzz`, `just fuzz`): coverage-guided libFuzzer
//!   on nightly, calling the same functions.
//!
//! See `docs/fuzzing.md`.

pub mod driver;
mod fixture;
mod targets;

pub use targets::{target_authorize, target_config, target_credentials, target_jose, target_params, target_token};

/// A fuzz target: takes any bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory and cargo-fuzz target.
pub const TARGETS: &[(&str, Target)] = &[
    ("params", target_params),
    ("credentials", target_credentials),
    ("jose", target_jose),
    ("authorize", target_authorize),
    ("token", target_token),
    ("config", target_config),
];

/// Inputs longer than this are cut: every endpoint bounds what it reads, and
/// longer inputs only slow the search down.
pub const MAX_INPUT: usize = 8192;

/// How often the targets reached the deep paths whose answers they check,
/// so a test can tell that the seeds get past the first refusal.
#[derive(Debug, Default)]
pub struct Reached {
    /// Authorization requests approved (a code or token redirect checked).
    pub approved: std::sync::atomic::AtomicUsize,
    /// Authorization requests pushed (RFC 9126) and their `request_uri` used.
    pub pushed: std::sync::atomic::AtomicUsize,
    /// Redirects checked against the registered URIs.
    pub redirects: std::sync::atomic::AtomicUsize,
    /// Token endpoint answers with tokens.
    pub tokens: std::sync::atomic::AtomicUsize,
    /// ID tokens issued and verified.
    pub id_tokens: std::sync::atomic::AtomicUsize,
    /// Self-signed JWTs that verified (and were checked).
    pub verified: std::sync::atomic::AtomicUsize,
    /// Configurations that loaded.
    pub configs: std::sync::atomic::AtomicUsize,
}

/// The counts of this process.
pub static REACHED: Reached = Reached {
    approved: std::sync::atomic::AtomicUsize::new(0),
    pushed: std::sync::atomic::AtomicUsize::new(0),
    redirects: std::sync::atomic::AtomicUsize::new(0),
    tokens: std::sync::atomic::AtomicUsize::new(0),
    id_tokens: std::sync::atomic::AtomicUsize::new(0),
    verified: std::sync::atomic::AtomicUsize::new(0),
    configs: std::sync::atomic::AtomicUsize::new(0),
};

fn count(counter: &std::sync::atomic::AtomicUsize) {
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
