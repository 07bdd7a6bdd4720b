"""Memory and CPU per simulated station: ``ocppkit sim``'s fleet against ``ocppkit csms``.

Starts ``ocppkit csms`` (no HTTP API, no message log, a temporary SQLite file) in its own
process, then runs a ``Fleet`` of N stations in this one (``--connect-rate`` per second), waits
until all are connected and accepted, and measures this process over ``--steady`` seconds:
RSS (VmRSS, and the peak VmHWM), CPU (user + system) per station, frames per second, CALL
latency and errors. Prints one Markdown row per N; ``--out FILE`` appends JSON lines.

    python benchmarks/bench_sim.py 500 1000 2000 5000 [--speed 1] [--steady 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocppkit.sim import Fleet, Scenario


def _status(field: str) -> float:
    """A VmRSS / VmHWM line of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def measure(stations: int, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """One fleet of ``stations``: ramp up, then ``args.steady`` seconds measured."""
    fleet = Fleet(
        url,
        stations=stations,
        connectors=2,
        scenario=Scenario(speed=args.speed),
        seed=1,
        connect_rate=args.connect_rate,
    )
    run = asyncio.create_task(fleet.run())
    ramp_started = time.monotonic()
    while fleet.stats.accepted < stations:  # the ramp: poll the counters (a benchmark, not a test)
        if time.monotonic() - ramp_started > stations / args.connect_rate + 120:
            break
        await asyncio.sleep(0.5)
    ramp = time.monotonic() - ramp_started
    frames0, cpu0, t0 = fleet.stats.frames, _cpu(), time.monotonic()
    await asyncio.sleep(args.steady)
    cpu, elapsed = _cpu() - cpu0, time.monotonic() - t0
    frames = fleet.stats.frames - frames0
    p50, p99 = fleet.stats.latencies_ms(0.5, 0.99)
    row = {
        "stations": stations,
        "accepted": fleet.stats.accepted,
        "ramp_s": round(ramp, 1),
        "rss_mb": round(_status("VmRSS"), 1),
        "hwm_mb": round(_status("VmHWM"), 1),
        "cpu_pct": round(cpu / elapsed * 100, 1),
        "cpu_ms_per_station_min": round(cpu / elapsed * 60 * 1000 / stations, 2),
        "frames_per_s": round(frames / elapsed, 1),
        "p50_ms": p50,
        "p99_ms": p99,
        "errors": len(fleet.stats.errors),
        "speed": args.speed,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    fleet.stop()
    await run
    return row


async def main() -> None:
    """Print one Markdown row per fleet size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--steady", type=float, default=30.0)
    parser.add_argument("--connect-rate", type=float, default=100.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print("| stations | accepted | ramp s | RSS MB (peak) | CPU % | CPU ms / station / min |"
          " frames/s | CALL p50 / p99 ms | errors |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        port = _free_port()
        with tempfile.TemporaryDirectory() as directory:
            csms = subprocess.Popen(
                [sys.executable, "-m", "ocppkit", "csms", "--port", str(port), "--no-api",
                 "--log-keep", "0", "--db", str(Path(directory) / "bench.db")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await asyncio.sleep(2)  # the CSMS process starting (a benchmark, not a test)
                row = await measure(size, args, f"ws://127.0.0.1:{port}")
            finally:
                csms.terminate()
                csms.wait(10)
        p50, p99 = row["p50_ms"] or 0, row["p99_ms"] or 0
        print(
            f"| {row['stations']} | {row['accepted']} | {row['ramp_s']} | {row['rss_mb']} "
            f"({row['hwm_mb']}) | {row['cpu_pct']} | {row['cpu_ms_per_station_min']} | "
            f"{row['frames_per_s']} | {p50:.1f} / {p99:.1f} | {row['errors']} |",
            flush=True,
        )
        if args.out:
            with args.out.open("a") as out:
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
