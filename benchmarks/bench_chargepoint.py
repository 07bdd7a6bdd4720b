"""Figures of one 1.6 charge point on the stack: start-up time, RSS, CPU per transaction.

    python benchmarks/bench_chargepoint.py [--sessions 200]

The charge point runs in a process of its own (as on a charger) against an ``ocppkit`` CSMS
(MemoryStore, no message log) in this process, over loopback. The child reports:

- ``import_s``: Python start to the stack imported; ``start_s``: ``ChargePoint16.start()`` on a
  fresh SQLite file (schema, configuration, state); ``boot_s``: connect + accepted boot;
- ``rss_mb`` after the boot and after the sessions (VmRSS), ``hwm_mb`` (VmHWM);
- ``cpu_ms_per_tx``: the child's CPU time (user + system) per charging session — plug, Authorize,
  StartTransaction, 3 MeterValues, StopTransaction, unplug, every message stored before sending.

``--imports`` prints instead the RSS each group of imports adds to a fresh interpreter.
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
from pathlib import Path

CHILD = r"""
import asyncio, json, resource, sys, time
t0 = time.perf_counter()
from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime, ClientLink, connected_charge_point, wait_accepted, wait_delivered)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import OcppClient
t_import = time.perf_counter() - t0

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0

async def main(url, db, sessions):
    client = OcppClient(url, versions=[OcppVersion.V16])
    rt = AsyncioRuntime()
    cp = ChargePoint16(store=SqliteStateStore(db), link=ClientLink(client), clock=rt,
                       scheduler=rt, vendor="bench", model="bench",
                       config_defaults={"MeterValueSampleInterval": "0"})
    t1 = time.perf_counter()
    async with connected_charge_point(cp, client):
        t_start = time.perf_counter() - t1
        t2 = time.perf_counter()
        await wait_accepted(cp)
        t_boot = time.perf_counter() - t2
        rss_boot = rss("VmRSS")
        before = resource.getrusage(resource.RUSAGE_SELF)
        for k in range(sessions):
            cp.meter(1, [Reading(k * 1000.0)])
            await cp.plug_in(1)
            await cp.present_token("TAG")
            for step in range(1, 4):
                cp.meter(1, [Reading(k * 1000.0 + step * 10)])
                await cp.sample_meter(1)
            await cp.present_token("TAG")
            await cp.plug_out(1)
            await wait_delivered(cp, 30)
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(json.dumps({"import_s": round(t_import, 3), "start_s": round(t_start, 3),
                      "boot_s": round(t_boot, 3), "rss_mb_after_boot": round(rss_boot, 1),
                      "rss_mb_after_sessions": round(rss("VmRSS"), 1),
                      "hwm_mb": round(rss("VmHWM"), 1),
                      "cpu_ms_per_tx": round(cpu / sessions * 1000, 2), "sessions": sessions}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

IMPORTS = r"""
import json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0
steps = [("python", "")]
steps += [("asyncio + sqlite3 + ssl", "import asyncio, sqlite3, ssl")]
steps += [("websockets client", "import websockets.asyncio.client")]
steps += [("msgspec", "import msgspec")]
steps += [("ocppkit charge point", "import ocppkit.chargepoint.v16.stack, "
           "ocppkit.chargepoint.asyncio_runtime, ocppkit.chargepoint.sqlite_state")]
out, last = {}, 0.0
for name, code in steps:
    exec(code)
    now = rss()
    out[name] = round(now - last, 1)
    last = now
out["total"] = round(last, 1)
print(json.dumps({"rss_mb_by_import": out}))
"""


async def measure(sessions: int) -> dict[str, object]:
    from ocppkit.csms.role import Csms
    from ocppkit.store import IdTokenRecord
    from ocppkit.store.memory import MemoryStore

    store = MemoryStore()
    csms = Csms(store, message_log=False)
    await csms.start("127.0.0.1", 0)
    await store.put_token(IdTokenRecord(token="TAG"))
    with tempfile.TemporaryDirectory() as directory:
        db = str(Path(directory) / "cp.db")
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            f"ws://127.0.0.1:{csms.server.port}/CP-BENCH",
            db,
            str(sessions),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        out, _ = await child.communicate()
        wall = time.perf_counter() - started
    await csms.close()
    result: dict[str, object] = json.loads(out)
    result["wall_s"] = round(wall, 2)
    return result


def main() -> None:
    """Run and print one JSON line of figures (``--imports``: RSS added by each import)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--imports", action="store_true", help="only the RSS of each import")
    args = parser.parse_args()
    if args.imports:
        subprocess.run([sys.executable, "-c", IMPORTS], check=True)
        return
    print(json.dumps(asyncio.run(measure(args.sessions))))


if __name__ == "__main__":
    main()
