# The project's entry points. `just` lists them; `just ci` is what CI runs.

set shell := ["bash", "-euo", "pipefail", "-c"]

_list:
    @just --list

# Run the aioauth demo on http://127.0.0.1:8000 (in-memory store).
[group("run")]
run-example:
    cargo run -p example-aioauth-demo

# Format the code.
[group("lint")]
fmt:
    cargo fmt --all

# Check formatting.
[group("lint")]
fmt-check:
    cargo fmt --all --check

# Clippy on every target and feature, warnings denied.
[group("lint")]
clippy:
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# Both lints.
[group("lint")]
lint: fmt-check clippy

# Every test; without OAUTH_TEST_REDIS_URL, on a throwaway redis-server if installed (else Redis tests skip, counted).
[group("test")]
test: interop-deps
    #!/usr/bin/env bash
    set -euo pipefail
    if [ -n "${OAUTH_TEST_REDIS_URL:-}" ]; then
        exec cargo test --workspace --all-features
    fi
    dir="$(mktemp -d)"
    pid=""
    cleanup() {
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
        rm -rf "$dir"
    }
    trap cleanup EXIT
    why="redis-server is not installed"
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
        for port in $(shuf -i 20000-60999 -n 10); do
            redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
            pid=$!
            for _ in $(seq 1 50); do
                # Ours, not another server already on that port: it answers with our process id.
                info="$(redis-cli -p "$port" info server 2>/dev/null || true)"
                if [[ "$info" =~ process_id:$pid[^0-9] ]]; then break 2; fi
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
            pid=""
        done
        if [ -n "$pid" ]; then
            echo "just test: Redis tests run on a throwaway redis-server at 127.0.0.1:$port (stopped afterwards)"
            export OAUTH_TEST_REDIS_URL="redis://127.0.0.1:$port"
            cargo test --workspace --all-features
            exit
        fi
        why="a throwaway redis-server did not start"
        echo "just test: $why; Redis tests will skip. Its log ends with:"
        tail -n 5 "$dir/redis.log" 2>/dev/null || true
    fi
    export OAUTH_TEST_SKIP_LOG="$dir/skipped"
    status=0
    cargo test --workspace --all-features || status=$?
    skipped=0
    if [ -f "$OAUTH_TEST_SKIP_LOG" ]; then skipped=$(wc -l < "$OAUTH_TEST_SKIP_LOG"); fi
    echo "just test: $skipped Redis tests SKIPPED (counted as passed above): $why and OAUTH_TEST_REDIS_URL is not set; install redis-server or set OAUTH_TEST_REDIS_URL to run them"
    exit "$status"

# Install the Node.js interop client's packages (tools/interop-node) when missing or older than its lock file.
[group("test")]
interop-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    dir=tools/interop-node
    # -nt is also true when node_modules (npm's record of what it installed) is missing.
    if [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then exit 0; fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "just: npm is not installed, so the openid-client interop test will skip (in CI it fails); install Node.js 20 or later with npm"
        exit 0
    fi
    npm ci --prefix "$dir" --no-audit --no-fund

# Start a throwaway Redis on port 6390 for local Redis tests.
[group("test")]
redis-up:
    redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes
    until redis-cli -p 6390 ping >/dev/null 2>&1; do sleep 0.1; done

# Stop the throwaway Redis.
[group("test")]
redis-down:
    redis-cli -p 6390 shutdown nosave || true

# Tests with the throwaway Redis.
[group("test")]
test-redis: redis-up interop-deps
    OAUTH_TEST_REDIS_URL=redis://127.0.0.1:6390 cargo test --workspace --all-features

# Criterion benchmarks: the engine without IO, then RedisStore round trips on a throwaway Redis.
[group("test")]
bench: redis-up
    cargo bench -p oauth-core
    OAUTH_TEST_REDIS_URL=redis://127.0.0.1:6390 cargo bench -p oauth-storage-redis

# The server is built on its own, so it has exactly its release features; the tool (tools/loadbench)
# finds it next to itself. LOAD_SECONDS (default 5) per run; LOAD_QUICK=1 for 16 connections only.
# Load benchmark: a baseline actix handler, oauth-server on memory and on Redis, each pinned to CPU 0,
# driven by wrk on CPU 1 at 1, 16 and 64 connections; prints the table of docs/performance.md.
[group("test")]
bench-load:
    command -v wrk >/dev/null || apt-get install -y wrk
    command -v redis-server >/dev/null || apt-get install -y redis-server
    cargo build --release -p oauth-server
    cargo run --release -p loadbench

# `cargo test` runs the same targets briefly on stable; findings land in tools/fuzz/fuzz/artifacts/<target>/.
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, nightly) of one target or all, FUZZ_SECONDS (default 60) each.
[group("test")]
fuzz target="":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    dir=tools/fuzz/fuzz
    targets="{{target}}"
    if [ -z "$targets" ]; then targets="$(cargo +nightly fuzz list --fuzz-dir "$dir")"; fi
    for t in $targets; do
        # New inputs go to target/fuzz-corpus; the checked-in seeds stay as they are.
        mkdir -p "target/fuzz-corpus/$t"
        cargo +nightly fuzz run --fuzz-dir "$dir" "$t" "target/fuzz-corpus/$t" "tools/fuzz/corpus/$t" -- \
            -max_total_time="${FUZZ_SECONDS:-60}" -max_len=8192 -timeout=10
    done

# API docs, warnings denied.
[group("docs")]
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

# What CI runs.
ci: fmt-check clippy test doc
