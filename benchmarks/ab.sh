#!/bin/bash
# Interleaved A/B of servers under the shared load: each rep runs every server once, in turn,
# and prints server CPU µs per call (the load generator's figure) per server and per rep, and
# each server's ratio to the first per rep. Servers run one at a time on a random port.
# Usage: benchmarks/ab.sh REPS NAME "COMMAND" [NAME "COMMAND" ...]
#   COMMAND has {port}; environment variables go in front with `env X=Y …`.
#   CONNS (default 50), DURATION (default 5), PYTHON (the harness's interpreter) and AB_OUT (a
#   file to append the raw lines "NAME REP US_PER_CALL" to, kept for RESULTS.md) from the
#   environment. Example:
#   benchmarks/ab.sh 4 runtime "python benchmarks/server.py --port {port}" \
#       csms "python -m ocppkit csms --port {port} --no-api --log-keep 0 --db /tmp/ab-{port}.db"
set -u
REPS=$1
shift
PY=${PYTHON:-python}
BENCH=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for rep in $(seq 1 "$REPS"); do
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        name=${args[i]}
        port=$((20000 + RANDOM % 20000))
        # shellcheck disable=SC2086
        ${args[i + 1]//\{port\}/$port} >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
        $PY "$BENCH/loadgen.py" --url ws://127.0.0.1:$port --server-pid $pid \
            --conns "${CONNS:-50}" --duration "${DURATION:-5}" --proto ocpp1.6 2>/dev/null |
            tail -1 | $PY -c "import json, sys; print('$name', $rep, json.load(sys.stdin)['server_us_per_call'])" >>"$OUT"
        kill $pid 2>/dev/null
        wait $pid 2>/dev/null
    done
done
$PY - "$OUT" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = list(dict.fromkeys(r[0] for r in rows))
by = {n: [float(r[2]) for r in rows if r[0] == n] for n in names}
for n in names:
    print(f"{n:16} median {statistics.median(by[n]):6.1f}  {by[n]}")
for n in names[1:]:
    ratios = [round(b / a, 2) for a, b in zip(by[names[0]], by[n])]
    print(f"{n}/{names[0]} per rep: {ratios} median {statistics.median(ratios):.2f}")
PY
if [ -n "${AB_OUT:-}" ]; then
    {
        echo "# $(date -u +%FT%TZ) commit $(git -C "$(dirname "$0")" rev-parse --short HEAD)," \
            "conns ${CONNS:-50}, duration ${DURATION:-5} s"
        args=("$@")
        for ((i = 0; i < ${#args[@]}; i += 2)); do echo "# ${args[i]}: ${args[i + 1]}"; done
        cat "$OUT"
    } >>"$AB_OUT"
fi
