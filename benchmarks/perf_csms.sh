#!/bin/bash
# Where `ocppkit csms` spends its CPU under the runtime's load: a perf profile of the whole
# process (both threads), summarised. Needs perf and the shared bench harness (../shared/bench).
# Usage: benchmarks/perf_csms.sh [log|nolog] > benchmarks/results/csms-perf-<mode>.txt
set -eu
MODE=${1:-nolog}
PY=${PYTHON:-python}
BENCH=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
DB=$(mktemp -d)/csms.db
PORT=$((20000 + RANDOM % 20000))
KEEP=$([ "$MODE" = log ] && echo 10000 || echo 0)
$PY -m ocppkit csms --port $PORT --no-api --log-keep $KEEP --db "$DB" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
$PY "$BENCH/loadgen.py" --url ws://127.0.0.1:$PORT --server-pid $PID --conns 50 --duration 8 \
    --proto ocpp1.6 > /tmp/perf_csms_load.json &
LOAD=$!
sleep 2
perf record -q -F 999 -g -p $PID -o /tmp/perf_csms.data -- sleep 4 >/dev/null 2>&1
wait $LOAD
echo "# ocppkit csms, message log $MODE, N=50, perf -F 999 -g over 4 s of the load"
echo "# load: $(cat /tmp/perf_csms_load.json)"
echo "## shared objects"
perf report -i /tmp/perf_csms.data --no-children -g none --sort dso --stdio 2>/dev/null | grep "%" | head -8
echo "## symbols (self)"
perf report -i /tmp/perf_csms.data --no-children -g none --sort sym --stdio 2>/dev/null | grep "%" | head -15
echo "## system calls (with children)"
perf report -i /tmp/perf_csms.data --children -g none --sort sym --stdio 2>/dev/null \
    | grep -E "\[k\] (__x64_sys|do_futex)" | head -10
