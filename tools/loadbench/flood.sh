#!/usr/bin/env bash
# Latency of valid token requests while 32 connections send wrong client
# secrets, against the same requests on an idle server (docs/performance.md,
# "Wrong-secret flood"). Not a test: a measurement to run by hand.
#
#   tools/loadbench/flood.sh [path/to/oauth-server]   (default: target/release/oauth-server)
#
# The server runs on CPU 0 with one worker (and its Argon2 threads, if any,
# on the same core); wrk runs on CPU 1. The flood and the valid client use
# the same client id, the worst case: every wrong secret misses the cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/oauth-server}
seconds=${FLOOD_SECONDS:-10}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

cat >"$dir/server.toml" <<TOML
[server]
bind = "127.0.0.1:$port"
issuer = "http://127.0.0.1:$port"
allow_insecure_transport = true
workers = 1
metrics = false

[[clients]]
id = "svc"
# A human-chosen secret: an Argon2id hash, verified once and then cached.
secret = "svc-secret"
grant_types = ["client_credentials"]
scopes = "read"
TOML

auth() { printf 'Basic %s' "$(printf '%s' "$1" | base64 -w0)"; }
script() {
    cat >"$dir/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$2"
LUA
}
script valid "$(auth svc:svc-secret)"
script wrong "$(auth svc:not-the-secret)"

taskset -c 0 "$bin" serve --config "$dir/server.toml" >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# The first valid request pays Argon2 once and fills the cache.
curl -sf -o /dev/null -u svc:svc-secret -d grant_type=client_credentials -d scope=read "http://127.0.0.1:$port/oauth/token"

measure() { # label, script
    taskset -c 1 wrk -t1 -c1 -d"${seconds}s" --latency ${2:+-s "$dir/$2.lua"} "http://127.0.0.1:$port/${3:-oauth/token}" \
        | awk -v label="$1" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
              END {printf "%-28s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n", label, rps, p50, p99, (bad ? bad : 0)}'
}

measure "idle: valid token" valid
measure "idle: /healthz" "" healthz
taskset -c 1 wrk -t1 -c32 -d"$((2 * seconds + 6))s" -s "$dir/wrong.lua" "http://127.0.0.1:$port/oauth/token" >"$dir/flood.txt" &
flood=$!
sleep 2
measure "flood: valid token" valid
measure "flood: /healthz" "" healthz
wait "$flood"
awk '/Requests\/sec/ {print "flood: wrong secrets          " $2 " req/s"} /Non-2xx/ {print "flood: non-2xx answers        " $NF}' "$dir/flood.txt"
