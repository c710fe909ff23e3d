#!/bin/bash
# Memory growth per cookie-less request (issue 14; docs/performance.md):
# starts BINARY with the demo configuration on PORT, sends 20,000 cookie-less
# `GET /login` twice (the second flood is the figure: the first settles the
# allocator after warm-up), then 20,000 cookie-less authorization requests
# with a `state` of STATE bytes, and prints the growth of VmRSS for each.
# usage: tools/loadbench/state_flood.sh [BINARY] [PORT] [STATE]
set -euo pipefail
BIN=${1:-target/release/oauth-server}; PORT=${2:-18700}; STATE=${3:-2048}
CONFIG="$(dirname "$0")/../../examples/aioauth-demo/demo.toml"
OAUTH__SERVER__BIND=127.0.0.1:$PORT OAUTH__SERVER__ACCESS_LOG=false RUST_LOG=warn \
  "$BIN" serve --config "$CONFIG" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$PID" "$PORT" 20000 "$STATE" <<'PY'
import http.client, sys, time
def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])  # KiB
def flood(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port)  # keeps no cookie
    codes = {}
    for _ in range(n):
        c.request("GET", path)
        r = c.getresponse(); r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    return codes
pid, port, n, state = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
auth = ("/oauth/authorize?client_id=test_client&redirect_uri=https%3A%2F%2Fwww.example.com%2Fredirect"
        "&response_type=code&scope=email&state=" + "s" * state)
flood(port, "/login", 200); flood(port, auth.replace("s" * state, "w"), 200)
time.sleep(5)
for name, path in [("GET /login (1st)", "/login"), ("GET /login (2nd)", "/login"), (f"authorize state={state}", auth)]:
    before = rss(pid)
    codes = flood(port, path, n)
    time.sleep(5)
    after = rss(pid)
    print(f"{name}: {n} requests {codes}, RSS {before/1024:.1f} -> {after/1024:.1f} MiB, {(after-before)*1024/n:.0f} B/request")
PY
