//! The stable in-process driver: seeds, then seeded mutations.
//!
//! The mutations are a deterministic sequence for a given seed; a run stops
//! after a number of them or when its time budget is spent, whichever comes
//! first (debug builds sign JWTs and hash passwords slowly, so CI gives each
//! target a budget rather than a count). A finding panics with the target, the input
//! (escaped) and where it was saved (`target/fuzz-findings/<target>-<hash>`),
//! which `cargo fuzz run <target> <file>` replays too.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::{MAX_INPUT, Target};

/// Tokens the mutator inserts: the syntax of the formats the targets parse.
const DICTIONARY: &[&[u8]] = &[
    b"&",
    b"=",
    b"%",
    b"%00",
    b"%ff",
    b"%2",
    b"+",
    b"%26",
    b"%3D",
    b"\xff",
    b"\xc3",
    b"\n",
    b"\0",
    b".",
    b":",
    b"/",
    b"Basic ",
    b"Bearer ",
    b"client_id=",
    b"client_id=conf",
    b"client_id=pub",
    b"redirect_uri=",
    b"redirect_uri=https://client.example/cb",
    b"redirect_uri=http://127.0.0.1:1/cb",
    b"response_type=code",
    b"response_type=token",
    b"response_mode=form_post",
    b"response_mode=fragment",
    b"scope=openid",
    b"state=",
    b"nonce=",
    b"prompt=none",
    b"max_age=0",
    b"code_challenge_method=S256",
    b"grant_type=authorization_code",
    b"grant_type=refresh_token",
    b"grant_type=client_credentials",
    b"grant_type=password",
    b"code=",
    b"code_verifier=",
    b"refresh_token=",
    b"CODE_PUB",
    b"CODE_CONF",
    b"REFRESH",
    b"[",
    b"]",
    b"[[clients]]",
    b"\"",
    b"'''",
    b"{",
    b"}",
    b"alg",
    b"\"alg\":\"none\"",
    b"\"kid\":\"fuzz\"",
    b"\"typ\":\"at+jwt\"",
    b"eyJ",
    b"18446744073709551615",
    b"-1",
    b"1e999",
    b"__",
];

/// A small, fast, seeded generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::try_from(self.next_u64() % n as u64).unwrap_or(0) }
    }
}

/// Changes `input` by one to four random edits (flip, replace, insert,
/// delete, duplicate a range, insert a dictionary token, splice in part of
/// another seed), keeping it at most [`MAX_INPUT`] bytes.
pub fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = u8::try_from(rng.below(256)).unwrap_or(0);
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, u8::try_from(rng.below(256)).unwrap_or(0));
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                input.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let chunk = input[start..end].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, chunk);
            }
            5 | 6 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            _ if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ => input.push(b'&'),
        }
    }
    input.truncate(MAX_INPUT);
}

/// The checked-in seed corpus of a target (`tools/fuzz/corpus/<name>/`), sorted by file name.
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the seed corpus {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Seeds run as they are.
    pub seeds: usize,
    /// Mutated inputs run.
    pub mutations: usize,
}

/// Runs `target` on its seeds, then on up to `iterations` mutations drawn
/// with `seed`, stopping early once `budget` has passed (seeds always run in
/// full). Panics at the first finding, naming the input and where it was saved.
pub fn run(name: &str, target: Target, iterations: usize, seed: u64, budget: std::time::Duration) -> Report {
    let started = std::time::Instant::now();
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "{name}: the seed corpus is empty");
    for input in &seeds {
        check(name, target, input);
    }
    let mut rng = Rng::new(seed ^ fnv(name.as_bytes()));
    let mut mutations = 0;
    while mutations < iterations && started.elapsed() < budget {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut input, &seeds, &mut rng);
        check(name, target, &input);
        mutations += 1;
    }
    Report { seeds: seeds.len(), mutations }
}

/// Runs one input; on a panic, saves it and panics with a report.
pub fn check(name: &str, target: Target, input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(input))) {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let saved = save_finding(name, input);
        panic!("fuzz target {name} failed on input {:?} (saved to {saved}): {message}", String::from_utf8_lossy(input));
    }
}

fn save_finding(name: &str, input: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-findings");
    let path = dir.join(format!("{name}-{:016x}", fnv(input)));
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("nowhere: {e}"),
    }
}

/// FNV-1a, to name findings and derive a seed per target.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
