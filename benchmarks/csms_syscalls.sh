#!/bin/bash
# System calls and context switches per OCPP call of a server under the shared load (N = 50,
# 1.6 mix, 60,000 calls), counted by `perf stat` tracepoints (Linux; root or
# kernel.perf_event_paranoid <= 1). Needs the shared bench harness (../shared/bench).
# Usage: benchmarks/csms_syscalls.sh "COMMAND with {port}"   (PYTHON=… runs the load generator)
#   benchmarks/csms_syscalls.sh "taskset -c 1 python benchmarks/server.py --port {port}"
#   benchmarks/csms_syscalls.sh "python -m ocppkit csms --port {port} --no-api --log-keep 0 --cpu 1 --db /tmp/s-{port}.db"
set -u
PY=${PYTHON:-python}
BENCH=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CALLS=60000
port=$((20000 + RANDOM % 20000))
# shellcheck disable=SC2086
${1//\{port\}/$port} >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
events=context-switches,raw_syscalls:sys_enter
for call in epoll_wait sendto recvfrom read write futex pwrite64 pread64 fdatasync; do
    events=$events,syscalls:sys_enter_$call
done
perf stat -x, -e "$events" -p $pid -o "$TMP/perf.csv" &
perf_pid=$!
$PY "$BENCH/loadgen.py" --url ws://127.0.0.1:$port --server-pid $pid --conns 50 --duration 0 \
    --calls $CALLS --proto ocpp1.6 2>/dev/null | tail -1 >"$TMP/load.json"
kill -INT $perf_pid
wait $perf_pid
kill $pid
wait $pid 2>/dev/null
$PY - "$TMP" $CALLS <<'PY'
import json, sys
tmp, calls = sys.argv[1], int(sys.argv[2])
load = json.load(open(f"{tmp}/load.json"))
print(f"server CPU {load['server_us_per_call']} us per call, {load['calls_per_s']:.0f} calls/s")
for line in open(f"{tmp}/perf.csv"):
    fields = line.strip().split(",")
    if len(fields) > 3 and fields[0][:1].isdigit():
        print(f"  {fields[2]:36} {float(fields[0]) / calls:7.3f} per call")
PY
