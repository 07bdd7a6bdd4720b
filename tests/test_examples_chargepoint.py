"""``examples/charge_point_16.py`` against a real ``Csms`` on loopback: one session, then it exits.

The example's ``main(url, db)`` runs in-process against ``Csms(MemoryStore())`` (port 0); the
CSMS's store then holds the one transaction, with the meter start and stop the fake charger
reported, and the charger's SQLite state keeps nothing queued.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import pytest

from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.csms.role import Csms
from ocppkit.store import IdTokenRecord
from ocppkit.store.memory import MemoryStore

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "charge_point_16.py"
IDENTITY = "CP-EXAMPLE"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("charge_point_16_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_example_has_fewer_than_60_lines() -> None:
    assert len(EXAMPLE.read_text().splitlines()) < 60


def test_the_charge_point_example_charges_once_against_the_csms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    main: Callable[[str, str], Awaitable[None]] = example.main
    db = tmp_path / "cp.db"

    async def scenario() -> None:
        store = MemoryStore()
        csms = Csms(store)
        await csms.start("127.0.0.1", 0)
        try:
            await store.put_token(IdTokenRecord(token=example.TOKEN, status="Accepted"))
            await main(f"ws://127.0.0.1:{csms.server.port}/{IDENTITY}", str(db))

            [tx] = await store.list_transactions(IDENTITY)
            assert (tx.connector_id, tx.id_token) == (1, example.TOKEN)
            assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (1000.0, 3000.0, 2000.0)
            assert tx.stop_reason == "EVDisconnected"
            assert tx.stop_time is not None
            assert tx.stop_time >= tx.start_time
            station = await store.get_station(IDENTITY)
            assert station is not None
            assert (station.vendor, station.model, station.boot_status) == (
                "ACME",
                "Fake",
                "Accepted",
            )
            statuses = {s.connector_id: s.status for s in await store.current_statuses(IDENTITY)}
            assert statuses == {0: "Available", 1: "Available"}
        finally:
            await csms.close(grace=1)

        state = SqliteStateStore(db)  # the charger's durable queue was delivered
        await state.open()
        try:
            assert await state.queued() == []
            assert await state.load("transactions") == {}
        finally:
            await state.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert capsys.readouterr().out.splitlines() == [
        "charger: relay 1 closed",
        f"charger: token {example.TOKEN} accepted: True",
        "charger: relay 1 open",
        "charger: cable 1 unlocked",
        f"charger: done, 0 message(s) still queued in {db}",
    ]
