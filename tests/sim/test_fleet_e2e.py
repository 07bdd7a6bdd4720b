"""A seeded fleet of 50 simulated stations (the real 1.6 stack each) against the reference CSMS on
a SQLite file, over loopback, in accelerated time with faults and network drops: the CSMS's
database agrees with the simulator's own record of every transaction and its energy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ocppkit.cli.sim import _finish
from ocppkit.csms import Csms
from ocppkit.messages import v16
from ocppkit.protocol import InternalError, OcppVersion
from ocppkit.sim import Fleet, FleetStats, Scenario
from ocppkit.sim.view import LiveView
from ocppkit.store import IdTokenRecord, TransactionRecord
from ocppkit.store.memory import MemoryStore
from ocppkit.store.sqlite import SqliteStore

BUSY = Scenario(
    speed=600,  # ten simulated minutes per real second
    sessions_per_day=240,
    dwell_minutes=(5, 25),
    meter_interval=60,
    fault_rate_per_day=12,
    fault_minutes=(1, 5),
    drop_rate_per_day=24,
    unknown_token_share=0.1,
)


def test_the_csms_database_agrees_with_the_simulators_record(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "csms.db")
        csms = Csms(store)
        await csms.start("127.0.0.1", 0)
        try:
            for token in BUSY.tokens:
                await store.put_token(IdTokenRecord(token=token))
            fleet = Fleet(
                f"ws://127.0.0.1:{csms.server.port}", stations=50, connectors=2,
                scenario=BUSY, seed=42, connect_rate=0,
            )  # fmt: skip
            stats = await fleet.run(duration=6)
            assert stats.errors == []
            assert stats.sessions > 20
            assert stats.refused > 0  # unknown tokens were swiped
            assert stats.drops > 0
            assert stats.active == 0
            simulated = {(t.station, t.transaction_id): t for t in stats.transactions.values()}
            assert all(t.transaction_id is not None for t in simulated.values())
            assert all(t.meter_stop_wh is not None for t in simulated.values())
            stored = await store.list_transactions()
            in_db: dict[tuple[str, int | None], TransactionRecord] = {
                (t.station_id, int(t.ocpp_id)): t for t in stored
            }
            assert set(in_db) == set(simulated)
            for key, tx in simulated.items():
                row = in_db[key]
                assert (row.connector_id, row.id_token) == (tx.connector, tx.id_tag)
                assert row.meter_start == tx.meter_start_wh
                assert row.meter_stop == tx.meter_stop_wh
            energy_db = sum((t.meter_stop or 0) - (t.meter_start or 0) for t in stored)
            energy_sim = sum((t.meter_stop_wh or 0) - t.meter_start_wh for t in simulated.values())
            assert energy_db == energy_sim > 0
        finally:
            await csms.close(grace=1)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_protocol_errors_are_counted_and_make_the_exit_status_non_zero() -> None:
    async def main() -> FleetStats:
        csms = Csms(MemoryStore(), message_log=False)

        @csms.router(OcppVersion.V16).on(v16.StatusNotificationRequest)
        async def broken(req: v16.StatusNotificationRequest, conn: Any) -> Any:
            raise InternalError("the CSMS is broken")

        await csms.start("127.0.0.1", 0)
        try:
            fleet = Fleet(
                f"ws://127.0.0.1:{csms.server.port}", stations=2, connectors=1,
                scenario=Scenario(speed=60), connect_rate=0,
            )  # fmt: skip
            return await fleet.run(duration=1)
        finally:
            await csms.close(grace=1)

    stats = asyncio.run(asyncio.wait_for(main(), 60))
    assert any("StatusNotification" in error for error in stats.errors)
    with pytest.raises(SystemExit) as exited:
        _finish(stats, Fleet("ws://x", stations=1), as_json=True)
    assert exited.value.code == 1


def test_the_live_view_shows_the_fleet() -> None:
    fleet = Fleet("ws://x", stations=3)
    fleet.stats.active = 2
    fleet.stats.energy_wh = 12_345
    view = LiveView("test fleet")
    view.update(fleet)
    console = Console(record=True, width=100)
    console.print(view.live.renderable)
    text = console.export_text()
    assert "test fleet" in text
    assert "active transactions" in text
    assert "12.3 kWh" in text
