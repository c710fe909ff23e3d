//! The short fuzz run of `cargo test`: every target on its seed corpus, then
//! deterministic mutations until a count (`FUZZ_ITERATIONS`, default per
//! target below) or a time budget (`FUZZ_SECONDS`, default 1.5 per target)
//! is reached; `FUZZ_SEED` changes the mutations.
#![allow(missing_docs)]

use fuzz::driver;

fn iterations(default: usize) -> usize {
    std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed)
}

fn budget() -> std::time::Duration {
    let seconds = std::env::var("FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1.5);
    std::time::Duration::from_secs_f64(seconds)
}

fn run(name: &str, default: usize) {
    let target = fuzz::TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("a known target");
    let report = driver::run(name, target, iterations(default), seed(), budget());
    assert!(report.seeds > 0);
    // Seen with `--nocapture`: how far the budget went on this machine.
    eprintln!("fuzz {name}: {} seeds, {} mutations", report.seeds, report.mutations);
}

#[test]
fn params() {
    run("params", 20_000);
}

#[test]
fn credentials() {
    run("credentials", 3_000);
}

#[test]
fn jose() {
    run("jose", 1_000);
}

#[test]
fn authorize() {
    run("authorize", 2_000);
}

#[test]
fn token() {
    run("token", 2_000);
}

#[test]
fn config() {
    run("config", 3_000);
}

/// Every target has a seed corpus and a cargo-fuzz target of the same name.
#[test]
fn every_target_has_seeds_and_a_cargo_fuzz_target() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in fuzz::TARGETS {
        assert!(!driver::seeds(name).is_empty(), "{name}: no seeds");
        let source = dir.join("fuzz/fuzz_targets").join(format!("{name}.rs"));
        assert!(source.is_file(), "{name}: no {}", source.display());
    }
}

/// The driver reports a target's panic with the input, so a finding cannot pass unnoticed.
#[test]
fn a_failing_target_fails_the_run() {
    fn fails_on_x(data: &[u8]) {
        assert!(!data.contains(&b'x'), "found an x");
    }
    let result = std::panic::catch_unwind(|| driver::check("selftest", fails_on_x, b"abcx"));
    let message = result.expect_err("the finding must fail the run");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("abcx") && message.contains("found an x"), "{message}");
}

/// The seeds get past the first refusal: they reach approvals, redirects,
/// issued tokens, ID tokens and self-signed JWTs that verify, so the checks
/// on those answers run (a seed corpus that only met errors would check little).
#[test]
fn the_seeds_reach_the_checked_paths() {
    use std::sync::atomic::Ordering::Relaxed;
    for name in ["authorize", "token", "jose", "config"] {
        let target = fuzz::TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("a known target");
        for input in driver::seeds(name) {
            driver::check(name, target, &input);
        }
    }
    let r = &fuzz::REACHED;
    for (what, n) in [
        ("approved", r.approved.load(Relaxed)),
        ("pushed", r.pushed.load(Relaxed)),
        ("redirects", r.redirects.load(Relaxed)),
        ("tokens", r.tokens.load(Relaxed)),
        ("id_tokens", r.id_tokens.load(Relaxed)),
        ("verified", r.verified.load(Relaxed)),
        ("configs", r.configs.load(Relaxed)),
    ] {
        assert!(n > 0, "no seed reached {what}");
    }
}
