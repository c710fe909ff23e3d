//! The report: what each row measured, and the table and lines printed at
//! the end of a run (the format of docs/performance.md).

use std::collections::BTreeMap;
use std::io::Write as _;

/// The figures of one run of a workload against one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: f64,
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) errors: u64,
    pub(crate) cpu_us_per_req: f64,
    pub(crate) redis_cpu_us_per_req: Option<f64>,
    /// Tokens still usable after the run: (usable, checked).
    pub(crate) verified: Option<(usize, usize)>,
    /// The baseline's run just before this one, at the same connections.
    pub(crate) paired: Option<Box<Stats>>,
}

/// One row of the table.
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) server: &'static str,
    pub(crate) connections: u32,
    pub(crate) stats: Stats,
}

/// Everything a run prints after its table.
pub(crate) struct Summary {
    /// Peak RSS per store before any login, and over the whole run (MiB).
    pub(crate) peak_rss: Vec<(&'static str, f64, f64)>,
    /// The Redis scaling line.
    pub(crate) scaling: String,
}

/// The rate `table` has for `workload` on `server` at 16 connections.
pub(crate) fn rate_of(table: &[Row], workload: &str, server: &str) -> f64 {
    table
        .iter()
        .find(|row| row.workload == workload && row.server == server && row.connections == 16)
        .map_or(50_000.0, |row| row.stats.rps)
}

/// Prints the table, the spread of the paired baseline runs, peak memory and scaling.
pub(crate) fn print(table: &[Row], baseline: &BTreeMap<u32, Stats>, summary: &Summary) {
    print_table(table, baseline);
    println!();
    let mut paired: Vec<f64> = table
        .iter()
        .filter(|row| row.connections == 16)
        .filter_map(|row| row.stats.paired.as_ref())
        .map(|b| b.rps)
        .collect();
    paired.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (paired.first(), paired.last()) {
        println!(
            "baseline at 16 connections, run before each row: {} runs, {low:.0}–{high:.0} req/s (median {:.0})",
            paired.len(),
            paired[paired.len() / 2]
        );
    }
    for (name, tokens_only, mib) in &summary.peak_rss {
        println!(
            "peak RSS of oauth-server ({name} store): {tokens_only:.1} MiB over client_credentials, \
             introspection and revocation (before any login), {mib:.1} MiB over the whole run"
        );
    }
    println!("{}", summary.scaling);
    let _ = std::io::stdout().flush();
}

fn print_table(table: &[Row], baseline: &BTreeMap<u32, Stats>) {
    println!();
    println!(
        "| workload | server | conns | req/s | × baseline | p50 ms | p99 ms | p99 × baseline | errors | server CPU µs/req | × baseline | Redis CPU µs/req | tokens still usable |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for Row { workload, server, connections: c, stats: s } in table {
        // The baseline's run just before this row; the first baseline run
        // at these connections for rows without one (the baseline's own).
        let b = s.paired.as_deref().or_else(|| baseline.get(c));
        let ratio =
            |x: f64, base: Option<f64>| base.filter(|b| *b > 0.0).map_or("".to_owned(), |b| format!("{:.2}", x / b));
        println!(
            "| {workload} | {server} | {c} | {:.0} | {} | {:.2} | {:.2} | {} | {} | {:.1} | {} | {} | {} |",
            s.rps,
            ratio(s.rps, b.map(|b| b.rps)),
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            ratio(s.p99_us, b.map(|b| b.p99_us)),
            s.errors,
            s.cpu_us_per_req,
            ratio(s.cpu_us_per_req, b.map(|b| b.cpu_us_per_req)),
            s.redis_cpu_us_per_req.map_or("".to_owned(), |r| format!("{r:.1}")),
            s.verified.map_or("".to_owned(), |(ok, total)| format!("{ok}/{total}")),
        );
    }
}
