#!/bin/bash
# CPU per call of `ocppkit csms` under the shared load, split by thread (event loop, SQLite
# writer, reader) and into user / system time, plus bytes written per call: read from
# /proc/PID/task/*/stat and /proc/PID/io over 4 s of an 8 s load (N = 50, 1.6 mix).
# Needs the shared bench harness (../shared/bench). Usage: benchmarks/csms_threads.sh [csms args…]
# (default: --no-api --log-keep 0); PYTHON=… picks the interpreter.
set -eu
PY=${PYTHON:-python}
BENCH=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
TMP=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
ARGS=${*:-"--no-api --log-keep 0"}
# shellcheck disable=SC2086
$PY -m ocppkit csms --port $PORT --db "$TMP/csms.db" $ARGS >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
$PY "$BENCH/loadgen.py" --url ws://127.0.0.1:$PORT --server-pid $PID --conns 50 --duration 8 \
    --proto ocpp1.6 > "$TMP/load.json" &
LOAD=$!
snap() {  # thread id, utime, stime (clock ticks); then the process's I/O counters
    for t in /proc/$PID/task/*; do echo "$(basename "$t") $(awk '{print $14, $15}' "$t/stat")"; done
    cat /proc/$PID/io
}
sleep 2; snap > "$TMP/before"; sleep 4; snap > "$TMP/after"
wait $LOAD
$PY - "$TMP" "$PID" "$(getconf CLK_TCK)" <<'PY'
import json, sys
tmp, pid, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
load = json.load(open(f"{tmp}/load.json"))
calls = load["calls_per_s"] * 4  # the 4 s between the snapshots

def read(name):
    threads, io = {}, {}
    for line in open(f"{tmp}/{name}"):
        if ":" in line:
            key, value = line.split(":")
            io[key] = int(value)
        else:
            tid, user, system = line.split()
            threads[tid] = (int(user), int(system))
    return threads, io

(t0, io0), (t1, io1) = read("before"), read("after")
us = 1e6 / hz / calls
print(f"loadgen: {load['server_us_per_call']} µs/call, {load['calls_per_s']:.0f} calls/s")
for tid, (user, system) in sorted(t1.items(), key=lambda item: int(item[0])):
    u0, s0 = t0.get(tid, (0, 0))
    role = "event loop" if tid == pid else f"thread {tid}"
    print(f"{role}: user {(user - u0) * us:.1f} µs/call, system {(system - s0) * us:.1f} µs/call")
for key in ("wchar", "write_bytes"):
    print(f"{key}: {(io1[key] - io0[key]) / calls:.0f} bytes/call")
PY
