"""The charge point killed with SIGKILL at 50 points of charging sessions loses nothing.

A real ``Csms`` on a SQLite file serves loopback websockets in this process; the charge point is
``cp_driver.py`` in a process of its own, on one SQLite file for all its lives. Each life is
killed after a random number (seeded) of the steps it reported, then the next life starts on the
same file: it closes the transaction the kill left open (PowerLoss) and delivers what was queued.
A last life charges one session to the end and waits until everything is delivered. Then the
CSMS must hold every transaction the charge point reported exactly once, closed, with every
reported meter value exactly once and in order. Steps done but not yet reported when the kill
came may add at most one more transaction per life, and at most one more sample.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import defaultdict
from pathlib import Path

from ocppkit.csms.role import Csms
from ocppkit.store import IdTokenRecord
from ocppkit.store.sqlite import SqliteStore

DRIVER = Path(__file__).with_name("cp_driver.py")
KILLS = 50


async def life(url: str, db: Path, run: int, steps: int | None) -> list[list[str]]:
    """Run the driver; SIGKILL it after ``steps`` reported lines (None: let it finish); every
    line it wrote before it died."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        url,
        str(db),
        str(run),
        *([] if steps is not None else ["1"]),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None
    lines: list[list[str]] = []
    while steps is None or len(lines) < steps:
        raw = await process.stdout.readline()
        if not raw:
            break
        lines.append(raw.decode().split())
    if steps is not None:
        process.send_signal(signal.SIGKILL)
        # what the driver said before the kill landed counts too: on a busy machine it runs on
        # for a step or two after the line that triggered the kill
        rest = await process.stdout.read()
        lines += [line.split() for line in rest.decode().splitlines() if line.strip()]
    code = await process.wait()
    assert code == (-signal.SIGKILL if steps is not None else 0), (run, code, lines[-3:])
    return lines


def test_sigkill_at_50_points_loses_no_transaction_and_no_meter_value(tmp_path: Path) -> None:
    rng = random.Random(20261121)

    async def main() -> None:
        store = SqliteStore(tmp_path / "csms.db")
        csms = Csms(store, message_log=False)
        await csms.start("127.0.0.1", 0)
        await store.put_token(IdTokenRecord(token="TAG"))
        url = f"ws://127.0.0.1:{csms.server.port}/CP-DURABLE"
        reported: list[list[str]] = []
        unreported_starts: set[int] = set()  # the session a life may have begun unreported
        try:
            for run in range(1, KILLS + 1):
                lines = await life(url, tmp_path / "cp.db", run, rng.randint(1, 14))
                reported += lines
                begun = sum(1 for line in lines if line[0] == "start")
                unreported_starts.add(run * 1_000_000 + (begun + 1) * 1_000)
            final = await life(url, tmp_path / "cp.db", KILLS + 1, None)
            assert final[-1] == ["done"]
            reported += final
            await csms.close()
            await csms.store.open()  # read what the CSMS committed
            await check(store, reported, unreported_starts)
            log = (tmp_path / "cp.db.frames.log").read_text()  # the support log of every life
            assert log.count('"StartTransaction"') >= len(
                {line[1] for line in reported if line[0] == "start"}
            )
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(main(), 600))


async def check(store: SqliteStore, reported: list[list[str]], extra: set[int]) -> None:
    starts = {int(line[1]) for line in reported if line[0] == "start"}
    samples: dict[int, list[float]] = defaultdict(list)
    stops: dict[int, float] = {}
    for line in reported:
        if line[0] == "sample":
            samples[int(line[1])].append(float(line[2]))
        elif line[0] == "stop":
            stops[int(line[1])] = float(line[2])
    transactions = await store.list_transactions("CP-DURABLE")
    by_start: dict[int, int] = defaultdict(int)
    for tx in transactions:
        assert tx.meter_start is not None
        by_start[int(tx.meter_start)] += 1
    assert all(count == 1 for count in by_start.values()), "a transaction arrived twice"
    assert starts <= set(by_start), f"lost: {sorted(starts - set(by_start))}"
    assert set(by_start) <= starts | extra, "a transaction nobody started"
    assert len(starts) > KILLS  # the kills came at every kind of point, sessions went on
    for tx in transactions:
        base = int(tx.meter_start or 0)
        assert tx.stop_time is not None, f"transaction {base} left open"
        stored = await store.meter_values(tx.id)
        values = [float(s.value) for s in stored]
        assert values == sorted(values), f"{base}: samples out of order"
        assert len(values) == len(set(values)), f"{base}: a sample arrived twice"
        reported_values = samples.get(base, [])
        assert values[: len(reported_values)] == reported_values, f"{base}: a sample was lost"
        assert len(values) <= len(reported_values) + 1
        assert all(base < v <= base + 30 for v in values)
        if base in stops:  # stopped normally: the reported meter stop
            assert (tx.meter_stop, tx.stop_reason) == (stops[base], "Local")
        elif tx.stop_reason == "Local":  # stopped, killed before it could say so
            assert tx.meter_stop == base + 30
        else:  # the kill left it open: the next life closed it at the last persisted reading
            assert tx.stop_reason == "PowerLoss"
            assert tx.meter_stop == (values[-1] if values else base)
