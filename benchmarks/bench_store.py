"""Store benchmark: durable OCPP transaction messages per second on ``SqliteStore``.

N simulated stations run concurrently on one event loop, each doing charging sessions the way a
1.6 CSMS would store them: StartTransaction (``start_transaction``), 10 MeterValues
(``add_meter_values``, 4 sampled values each) and StopTransaction (``stop_transaction``): 12
messages per session, each acknowledged only once the store call returned, i.e. once it is
fsynced (``journal_mode=WAL``, ``synchronous=FULL``, group commit on the writer thread).

Run from the repository root::

    python benchmarks/bench_store.py                       # 1, 10, 100, 500 stations
    python benchmarks/bench_store.py --stations 50 200 --messages 60000 --batch-window 0.002

Columns: messages/s (the target is >= 5,000), commits (fsyncs of the WAL) and operations per
commit (the group commit at work), p50 / p99 latency of one store call, and the event loop lag
(p99 and max lateness of a 1 ms timer running alongside: the loop is not blocked by the disk).
The database lives in a temporary directory on the file system of ``--dir`` (default: the
system's temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocppkit.store import MeterSample
from ocppkit.store.sqlite import SqliteStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)
METER_VALUES_PER_SESSION = 10
MESSAGES_PER_SESSION = METER_VALUES_PER_SESSION + 2


@dataclass
class Result:
    """One run at one concurrency level."""

    stations: int
    messages: int
    seconds: float
    commits: int
    latencies: list[float]
    lags: list[float]

    @property
    def rate(self) -> float:
        """Durable messages per second."""
        return self.messages / self.seconds


def samples(when: datetime, energy: int, count: int) -> list[MeterSample]:
    """One MeterValues message, flattened: energy, power, then currents per phase."""
    values = [
        MeterSample(timestamp=when, value=str(energy), unit="Wh"),
        MeterSample(timestamp=when, value="7.2", measurand="Power.Active.Import", unit="kW"),
    ]
    for phase in ("L1", "L2", "L3", "N"):
        values.append(
            MeterSample(
                timestamp=when, value="16.0", measurand="Current.Import", phase=phase, unit="A"
            )
        )
    return values[:count]


async def station(
    store: SqliteStore, n: int, sessions: int, per_batch: int, latencies: list[float]
) -> None:
    """One simulated station: ``sessions`` charging sessions in a row."""
    clock = time.perf_counter
    for session in range(sessions):
        start = T0 + timedelta(days=n, minutes=session * 15)
        t = clock()
        tx = await store.start_transaction(f"CP{n:05}", 1, f"TAG{n}", 1000, start)
        latencies.append(clock() - t)
        for i in range(METER_VALUES_PER_SESSION):
            when = start + timedelta(minutes=i + 1)
            t = clock()
            await store.add_meter_values(tx.id, samples(when, 1000 + 500 * i, per_batch))
            latencies.append(clock() - t)
        t = clock()
        await store.stop_transaction(
            f"CP{n:05}", tx.ocpp_id, 6000, start + timedelta(minutes=12), "EVDisconnected"
        )
        latencies.append(clock() - t)


async def lag_probe(lags: list[float], stop: asyncio.Event) -> None:
    """How late a 1 ms timer fires while the benchmark runs."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - t - 0.001)


async def run_level(
    directory: Path, stations: int, messages: int, per_batch: int, batch_window: float
) -> Result:
    """All stations concurrently, about ``messages`` messages in all."""
    sessions = max(1, round(messages / MESSAGES_PER_SESSION / stations))
    path = directory / f"bench-{stations}.db"
    latencies: list[float] = []
    lags: list[float] = []
    async with SqliteStore(path, batch_window=batch_window) as store:
        stop = asyncio.Event()
        probe = asyncio.create_task(lag_probe(lags, stop))
        commits = store.commits
        t = time.perf_counter()
        await asyncio.gather(
            *(station(store, n, sessions, per_batch, latencies) for n in range(stations))
        )
        seconds = time.perf_counter() - t
        commits = store.commits - commits
        stop.set()
        await probe
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Result(
        stations, stations * sessions * MESSAGES_PER_SESSION, seconds, commits, latencies, lags
    )


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of ``values`` (0 when empty)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def main() -> None:
    """Run the levels and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--messages", type=int, default=30_000, help="per level (about)")
    parser.add_argument("--samples", type=int, default=4, help="sampled values per MeterValues")
    parser.add_argument("--batch-window", type=float, default=0.0)
    parser.add_argument("--dir", type=Path, default=None, help="where the database file goes")
    args = parser.parse_args()

    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {sys.platform}")
    print(f"CPUs: {os.cpu_count()}; journal_mode=WAL, synchronous=FULL (fsync per commit)")
    print(
        f"session: start + {METER_VALUES_PER_SESSION} MeterValues ({args.samples} samples each)"
        f" + stop = {MESSAGES_PER_SESSION} messages; batch_window={args.batch_window}"
    )
    print()
    print(
        "| stations | messages | seconds | messages/s | commits | ops/commit"
        " | call p50 ms | call p99 ms | loop lag p99 ms | loop lag max ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        for stations in args.stations:
            result = asyncio.run(
                run_level(Path(directory), stations, args.messages, args.samples, args.batch_window)
            )
            print(
                f"| {result.stations} | {result.messages} | {result.seconds:.2f}"
                f" | {result.rate:,.0f} | {result.commits}"
                f" | {result.messages / max(result.commits, 1):.1f}"
                f" | {quantile(result.latencies, 0.5) * 1e3:.2f}"
                f" | {quantile(result.latencies, 0.99) * 1e3:.2f}"
                f" | {quantile(result.lags, 0.99) * 1e3:.2f}"
                f" | {max(result.lags, default=0.0) * 1e3:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
