//! The load benchmark behind `just bench-load`.
//!
//! In one run it starts, each pinned to CPU 0 (with Redis, when used, on the
//! same core: "one core for the whole service"):
//!
//! - a baseline actix-web handler (this same executable, `--serve-baseline`)
//!   that parses the token form and returns a fixed token-shaped JSON,
//! - `oauth-server` on the in-memory store,
//! - `oauth-server` on a private Redis,
//!
//! and drives them with `wrk` pinned to CPU 1 at 1, 16 and 64 connections.
//! It prints requests/s, p50 and p99 latency, errors, server (and Redis) CPU
//! time per request, peak RSS, and each figure as a ratio to the baseline
//! measured in the same run: the baseline is driven again, at the same number
//! of connections, just before every measured row, and each row is divided by
//! that run (this machine's speed drifts within minutes). After each run it
//! checks, through the server's introspection endpoint, that every token
//! answered with 200 is still usable.
//!
//! Run with: `just bench-load`, which builds `oauth-server` and this tool in
//! release mode and runs it. The tool runs the `oauth-server` executable
//! named by `LOAD_SERVER_BIN`, or else the one next to its own executable
//! (`target/release/oauth-server` when both are built with `--release`).
//! Environment: `LOAD_SECONDS` (default 5) per run, `LOAD_QUICK=1` for 16
//! connections only.
//!
//! Modules, one job each: [`process`] starts, pins and measures child
//! processes; [`baseline`] is the baseline server; [`server`] configures and
//! starts `oauth-server`; [`redis`] is the private Redis; [`wrk`] drives wrk
//! with the Lua scripts next to it; [`client`] makes the requests outside wrk
//! (minting inputs, browser flows, checking tokens); [`dpop`] signs the DPoP
//! proofs of the DPoP workloads before their runs; [`workloads`] runs the
//! workloads in order; [`report`] prints the table.
#![allow(clippy::unwrap_used, reason = "a benchmark tool: any failure aborts the run with its message")]

mod baseline;
mod client;
mod dpop;
mod process;
mod redis;
mod report;
mod server;
mod workloads;
mod wrk;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-baseline") {
        let port: u16 = args[i + 1].parse().expect("port");
        return baseline::serve(port);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(workloads::run());
}
