"""A seeded fleet of 50 simulated stations (the real 1.6 stack each) against the reference CSMS on
a SQLite file, over loopback, in accelerated time with faults and network drops: the CSMS's
database agrees with the simulator's own record of every transaction and its energy."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ocppkit.csms import Csms
from ocppkit.sim import Fleet, Scenario
from ocppkit.store import IdTokenRecord, TransactionRecord
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
