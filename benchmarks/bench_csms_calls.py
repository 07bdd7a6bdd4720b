"""CPU per call of the CSMS role in process (no sockets): what the CSMS adds to the runtime.

Feeds the shared load's 1.6 mix (Heartbeat, StatusNotification, 2 x MeterValues naming a
transaction the CSMS never started, 7 sampled values) to one ``OcppConnection`` over
``bench_layers.SinkTransport`` (drops what is written), 50 CALLs at a time (as 50 charge points
would have in flight), then
waits for the answers. Variants:

- ``runtime``: the four handlers as plain functions (answered inline), as ``server.py``;
- ``runtime-async``: the same as coroutines (a task per CALL);
- ``csms-null``: the same on a store whose writes are finished futures (``NullWrites``): the
  handlers' own work, no store;
- ``csms-memory``: the CSMS role's default handlers on ``MemoryStore``;
- ``csms-sqlite``: the same on ``SqliteStore`` (writer/reader threads, a commit per batch).

Prints process CPU time (every thread) per call, the median of ``--repeats`` runs; with
``--split`` (Linux), also the event-loop thread's share (the rest is the SQLite threads'), from
``/proc/self/task``. Socket and websocket costs are left out on purpose; the shared harness
measures those (RESULTS.md).

    python benchmarks/bench_csms_calls.py [--calls 20000] [--repeats 5] [--split] [variant ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from bench_layers import SinkTransport  # this folder is on sys.path when run as a script

from ocppkit.csms.role import Csms
from ocppkit.messages import v16
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.store import Store
from ocppkit.store.memory import MemoryStore
from ocppkit.store.sqlite import SqliteStore

VARIANTS = ("runtime", "runtime-async", "csms-null", "csms-memory", "csms-sqlite")
TS = "2026-01-01T00:00:00.000Z"
SAMPLED = [
    {"value": v, "measurand": m, "unit": u, **extra}
    for v, m, u, extra in [
        ("12345.6", "Energy.Active.Import.Register", "Wh", {"context": "Sample.Periodic"}),
        ("7360", "Power.Active.Import", "W", {}),
        ("10.6", "Current.Import", "A", {"phase": "L1"}),
        ("10.7", "Current.Import", "A", {"phase": "L2"}),
        ("10.5", "Current.Import", "A", {"phase": "L3"}),
        ("231.2", "Voltage", "V", {"phase": "L1-N"}),
        ("57", "SoC", "Percent", {"location": "EV"}),
    ]
]
PAYLOADS: dict[str, dict[str, Any]] = {
    "BootNotification": {"chargePointVendor": "Bench", "chargePointModel": "Bench-22kW"},
    "Heartbeat": {},
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Charging",
        "timestamp": TS,
    },
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 1007,
        "meterValue": [{"timestamp": TS, "sampledValue": SAMPLED}],
    },
}
MIX = ("Heartbeat", "StatusNotification", "MeterValues", "MeterValues")
IN_FLIGHT = 50


def frame(n: int, action: str) -> bytes:
    """CALL number ``n`` of ``action``."""
    return msgspec.json.encode([2, f"c{n}", action, PAYLOADS[action]])


class NullWrites(MemoryStore):
    """``MemoryStore`` whose hot writes store nothing and return a finished future (futures
    where ``MemoryStore`` has coroutines, as ``SqliteStore`` has: hence the ignores)."""

    def _done(self, value: Any = None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        return future

    def record_status(self, status: Any) -> asyncio.Future[None]:  # type: ignore[override]
        return self._done()

    def record_event(self, event: Any) -> asyncio.Future[None]:  # type: ignore[override]
        return self._done()

    def add_meter_values(self, transaction_id: int, samples: Any) -> asyncio.Future[int]:  # type: ignore[override]
        return self._done(0)

    def add_transaction_meter_values(  # type: ignore[override]
        self, station_id: str, ocpp_id: str, samples: Any, unknown: Any = None
    ) -> asyncio.Future[int | None]:
        return self._done()


def runtime_router(*, async_handlers: bool) -> Router:
    """The runtime benchmark's four handlers (no I/O)."""
    router = Router(OcppVersion.V16)
    status_ok, meter_ok = v16.StatusNotificationResponse(), v16.MeterValuesResponse()
    answers: dict[type[Any], Any] = {
        v16.BootNotificationRequest: lambda: v16.BootNotificationResponse(
            status="Accepted", current_time=datetime.now(UTC), interval=300
        ),
        v16.HeartbeatRequest: lambda: v16.HeartbeatResponse(current_time=datetime.now(UTC)),
        v16.StatusNotificationRequest: lambda: status_ok,
        v16.MeterValuesRequest: lambda: meter_ok,
    }
    for request_type, answer in answers.items():
        if async_handlers:

            async def handler(request: Any, conn: OcppConnection, answer: Any = answer) -> Any:
                return answer()

            router.add(request_type, handler)
        else:

            def plain(request: Any, conn: OcppConnection, answer: Any = answer) -> Any:
                return answer()

            router.add(request_type, plain)
    return router


def loop_thread_cpu() -> float:
    """CPU seconds (user + system) of the calling thread, from ``/proc`` (Linux)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    variant: str, calls: int, directory: Path, *, split: bool = False
) -> tuple[float, float]:
    """CPU µs per call of one run of ``variant``: the process's, and (``split``) its event-loop
    thread's (else 0)."""
    thread_cpu = loop_thread_cpu if split else lambda: 0.0
    store: Store | None = None
    if variant.startswith("csms"):
        stores = {"csms-null": NullWrites, "csms-memory": MemoryStore}
        store = stores[variant]() if variant in stores else SqliteStore(directory / "b.db")
        await store.open()
        router: Router = Csms(store, versions=(OcppVersion.V16,), message_log=False).router(
            OcppVersion.V16
        )
    else:
        router = runtime_router(async_handlers=variant == "runtime-async")
    conn = OcppConnection(SinkTransport(), OcppVersion.V16, router, identity="CP7")
    conn.receive(frame(0, "BootNotification"))
    await conn.drain()
    frames = [frame(n, MIX[n % len(MIX)]) for n in range(1, calls + 1)]
    gc.collect()
    start, loop_start = time.process_time(), thread_cpu()
    for k in range(0, len(frames), IN_FLIGHT):
        for data in frames[k : k + IN_FLIGHT]:
            conn.receive(data)
        await conn.drain()
    cpu, loop_cpu = time.process_time() - start, thread_cpu() - loop_start
    if store is not None:
        await store.close()
    return cpu / calls * 1e6, loop_cpu / calls * 1e6


async def main() -> None:
    """Print one Markdown row per variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help=f"some of {', '.join(VARIANTS)} (all)")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--split", action="store_true", help="also the event-loop thread's CPU (Linux /proc)"
    )
    args = parser.parse_args()
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    print(f"1.6 load mix, {IN_FLIGHT} CALLs in flight, {datetime.now(UTC):%Y-%m-%d}")
    split = " event-loop thread µs (median) |" if args.split else ""
    print(f"| variant | CPU µs per call (median; min–max) |{split}")
    print("|---|---:|" + ("---:|" if args.split else ""))
    for variant in args.variants or VARIANTS:
        runs, loop_runs = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as directory:
                total, loop_only = await measure(
                    variant, args.calls, Path(directory), split=args.split
                )
            runs.append(total)
            loop_runs.append(loop_only)
        row = f"| {variant} | {statistics.median(runs):.1f} ({min(runs):.1f}–{max(runs):.1f}) |"
        print(row + (f" {statistics.median(loop_runs):.1f} |" if args.split else ""))


if __name__ == "__main__":
    asyncio.run(main())
