"""The store contract on ``SqliteStore``, and what only SQLite has: real files, a killed writer,
migrations, the writer thread, group commit, and the same answers as ``MemoryStore``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocppkit.store import IdTokenRecord, MeterSample, StationRecord, Store, sqlite_ops
from ocppkit.store import sqlite_migrations as migrations
from ocppkit.store.memory import MemoryStore
from ocppkit.store.sqlite import SchemaVersionError, SqliteStore
from ocppkit.store.sqlite_index import TABLES, catch_up
from tests.store.contract import (
    T0,
    StoreContract,
    StoreFactory,
    at,
    boot,
    event,
    frame,
    sample,
    status,
)


class TestSqliteStore(StoreContract):
    """``SqliteStore`` passes the contract, with the station indexes updated in every commit
    and with every row left in the unindexed tails (only the first commit updates them)."""

    @pytest.fixture(params=[0.0, 3600.0], ids=["indexed", "tails"])
    def store_factory(self, tmp_path: Path, request: pytest.FixtureRequest) -> StoreFactory:
        """New ``SqliteStore`` objects on one file of ``tmp_path``."""
        return lambda: SqliteStore(tmp_path / "store.db", index_interval=request.param)


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a test's coroutine in a new event loop (30 s at most)."""
    asyncio.run(asyncio.wait_for(coro, 30))


def pragma(path: Path, name: str) -> Any:
    """A pragma's value, read by a connection of its own."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


async def dump(store: Store) -> dict[str, Any]:
    """Everything a store holds, through its public methods."""
    stations = {"A", "B", "CP1", "CP2", "CS", *(s.id for s in await store.list_stations())}
    transactions = await store.list_transactions()
    return {
        "stations": await store.list_stations(),
        "tokens": await store.list_tokens(),
        "transactions": transactions,
        "samples": {tx.id: await store.meter_values(tx.id) for tx in transactions},
        "per_station": {
            station: (
                await store.get_station(station),
                await store.get_password(station),
                await store.current_statuses(station),
                await store.status_history(station, limit=10_000),
                await store.frames(station, limit=10_000),
                await store.events(station, limit=10_000),
                await store.list_transactions(station),
            )
            for station in sorted(stations)
        },
    }


async def fill(store: Store) -> None:
    """Some of everything."""
    await store.record_boot(boot("CP1"))
    await store.set_connected("CP1", True, at(1))
    await store.set_password("CP2", "hash")
    await store.record_status(status("CP1", 1, "Charging", at(2)))
    await store.put_token(IdTokenRecord(token="TAG", parent="G", expiry=at(3600)))
    tx = await store.start_transaction("CP1", 1, "TAG", 1000, at(3))
    await store.add_meter_values(tx.id, [sample(at(4), "1500", unit="Wh")])
    await store.stop_transaction("CP1", tx.ocpp_id, 2000, at(5), "Local")
    await store.transaction_event("CS", "t1", 0, "Started", at(6), evse_id=1, meter_wh=10)
    await store.log_frames([frame("CP1", at(1), "[2]"), frame("CP1", at(1), "[3]", "out")])
    await store.record_event(event("CP1", "SecurityEventNotification", at(7), type="Reset"))
    await store.record_event(event("CS", "NotifyReport", at(8), reportData=[{"a": [1, None]}]))


# -- files: close and reopen, a killed process ----------------------------------------------------


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"

    async def main() -> None:
        async with SqliteStore(path) as store:
            await fill(store)
            before = await dump(store)
        async with SqliteStore(path) as store:
            assert await dump(store) == before
            # idempotence holds across restarts: it lives in the file
            old = (await store.list_transactions("CP1"))[0]
            assert await store.start_transaction("CP1", 1, "TAG", 1000, at(3)) == old
            assert await store.stop_transaction("CP1", old.ocpp_id, 1, at(9), None) == old
            assert await store.add_meter_values(old.id, [sample(at(4), "other")]) == 0
            event, new = await store.transaction_event("CS", "t1", 0, "Started", at(6))
            assert new is False
            assert event == await store.get_transaction("CS", "t1")
            # 1.6 ids go on from where they were
            fresh = await store.start_transaction("CP1", 1, "TAG", 0, at(100))
            assert int(fresh.ocpp_id) > int(old.ocpp_id)
            after = await dump(store)
        async with SqliteStore(path) as store:
            assert await dump(store) == after

    run(main())
    assert pragma(path, "journal_mode") == "wal"


CHILD_T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHILD = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from ocppkit.store import MeterSample
from ocppkit.store.sqlite import SqliteStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def station(store, n):
    for i in range(10**9):
        when = T0 + timedelta(seconds=i)
        tx = await store.start_transaction(f"CP{n}", 1, "TAG", i, when)
        print("start", n, i, tx.id, tx.ocpp_id, flush=True)
        await store.add_meter_values(tx.id, [MeterSample(timestamp=when, value=str(i))])
        print("meter", n, i, tx.id, flush=True)
        await store.transaction_event(f"CS{n}", f"t{i}", 0, "Started", when, meter_wh=i)
        print("event", n, i, flush=True)


async def main():
    store = SqliteStore(sys.argv[1])
    await store.open()
    await asyncio.gather(*(station(store, n) for n in range(8)))


asyncio.run(main())
"""


def test_killed_process_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """A process writing through the store is SIGKILLed mid-stream: every call it saw
    acknowledged is in the file."""
    path = tmp_path / "killed.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, proc.kill)  # only if the child hangs
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while len(lines) < 600:
            line = proc.stdout.readline()
            assert line, "the writing process ended early"
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
    finally:
        watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL
    acknowledged = [
        line.split() for line in [*lines, *rest.splitlines(keepends=True)] if line.endswith("\n")
    ]

    async def check() -> None:
        async with SqliteStore(path) as store:
            for kind, n, i, *ids in acknowledged:
                when = CHILD_T0 + timedelta(seconds=int(i))
                if kind == "start":
                    tx = await store.get_transaction(f"CP{n}", ids[1])
                    assert tx is not None
                    assert (tx.id, tx.start_time, tx.meter_start) == (int(ids[0]), when, int(i))
                    retry = await store.start_transaction(f"CP{n}", 1, "TAG", 0, when)
                    assert retry == tx
                elif kind == "meter":
                    assert [s.value for s in await store.meter_values(int(ids[0]))] == [i]
                else:
                    assert kind == "event"
                    event = await store.get_transaction(f"CS{n}", f"t{i}")
                    assert event is not None
                    assert event.meter_start == int(i)

    run(check())
    assert len(acknowledged) >= 600


# -- migrations -----------------------------------------------------------------------------------


def test_fresh_file_gets_latest_version_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"

    def writer_pragmas(conn: sqlite3.Connection) -> tuple[int, int, str]:
        return (
            conn.execute("PRAGMA synchronous").fetchone()[0],
            conn.execute("PRAGMA foreign_keys").fetchone()[0],
            conn.execute("PRAGMA journal_mode").fetchone()[0],
        )

    def reader_query_only(conn: sqlite3.Connection) -> int:
        value = conn.execute("PRAGMA query_only").fetchone()[0]
        assert isinstance(value, int)
        return value

    async def main() -> None:
        async with SqliteStore(path) as store:
            assert await store._write(writer_pragmas) == (2, 1, "wal")  # 2: FULL
            assert await store._read(reader_query_only) == 1

    run(main())
    assert migrations.LATEST_VERSION == len(migrations.MIGRATIONS) >= 2
    assert pragma(path, "user_version") == migrations.LATEST_VERSION


def test_file_at_version_1_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=1) == 0
    assert migrations.schema_version(conn) == 1
    conn.execute("INSERT INTO stations (id, vendor, connected) VALUES ('CP1', 'ACME', 0)")
    conn.execute("UPDATE counters SET value = 7 WHERE name = 'v16_transaction_id'")
    conn.execute(
        "INSERT INTO transactions (station_id, ocpp_id, v16, evse_id, connector_id, id_token,"
        " start_time, meter_start) VALUES ('CP1', '7', 1, 0, 1, 'TAG', 0, 5.0)"
    )
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "frames" not in tables
    conn.close()

    async def main() -> None:
        async with SqliteStore(path) as store:
            assert await store.get_station("CP1") == StationRecord(id="CP1", vendor="ACME")
            old = await store.get_transaction("CP1", "7")
            assert old is not None
            assert old.start_time == datetime(1970, 1, 1, tzinfo=UTC)
            assert (await store.start_transaction("CP1", 1, "TAG", 0, T0)).ocpp_id == "8"
            await store.log_frames([frame("CP1", T0, "[2]")])  # the table of version 2
            assert await store.frames("CP1") == [frame("CP1", T0, "[2]")]

    run(main())
    assert pragma(path, "user_version") == migrations.LATEST_VERSION


def test_file_at_version_2_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=2) == 0
    assert migrations.schema_version(conn) == 2
    conn.execute("INSERT INTO stations (id, vendor, connected) VALUES ('CP1', 'ACME', 0)")
    conn.execute(
        "INSERT INTO frames (station_id, direction, ts, frame) VALUES ('CP1', 'in', 0, '[2]')"
    )
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "events" not in tables
    conn.close()

    async def main() -> None:
        async with SqliteStore(path) as store:
            assert await store.get_station("CP1") == StationRecord(id="CP1", vendor="ACME")
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            assert await store.frames("CP1") == [frame("CP1", epoch, "[2]")]
            assert await store.events("CP1") == []
            record = event("CP1", "FirmwareStatusNotification", T0, status="Installed")
            await store.record_event(record)  # the table of version 3
            assert await store.events("CP1") == [record]

    run(main())
    assert pragma(path, "user_version") == migrations.LATEST_VERSION
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA index_list(events)").fetchall() == []  # events_idx instead
        [(kind, text)] = conn.execute("SELECT typeof(data), data FROM events").fetchall()
        assert (kind, text) == ("text", '{"status":"Installed"}')
    finally:
        conn.close()


def test_file_at_version_3_is_upgraded(tmp_path: Path) -> None:
    """Statuses written before the trigger stay current until a newer report comes; an older
    one goes to the history only."""
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=3) == 0
    t1 = int(at(1).timestamp() * 1_000_000)
    conn.execute(
        "INSERT INTO statuses (station_id, evse_id, connector_id, status, error_code, info, ts)"
        " VALUES ('CP1', 0, 1, 'Charging', NULL, NULL, ?)",
        (t1,),
    )
    conn.execute(
        "INSERT INTO current_statuses (station_id, evse_id, connector_id, status_id, ts)"
        " VALUES ('CP1', 0, 1, last_insert_rowid(), ?)",
        (t1,),
    )
    conn.close()

    async def main() -> None:
        async with SqliteStore(path) as store:
            charging = status("CP1", 1, "Charging", at(1))
            assert await store.current_statuses("CP1") == [charging]
            await store.record_status(status("CP1", 1, "Available", at(0)))  # older
            assert await store.current_statuses("CP1") == [charging]
            finishing = status("CP1", 1, "Finishing", at(2))
            await store.record_status(finishing)
            await store.record_status(status("CP1", 2, "Available", at(2)))  # a new connector
            current = await store.current_statuses("CP1")
            assert current == [finishing, status("CP1", 2, "Available", at(2))]
            assert len(await store.status_history("CP1")) == 4

    run(main())
    assert pragma(path, "user_version") == migrations.LATEST_VERSION


def insert_history(conn: sqlite3.Connection, when: int) -> None:
    """A status report of CP1 and an event (data ``{"n": when}``) at ``when`` µs, in raw SQL."""
    conn.execute(
        "INSERT INTO statuses (station_id, evse_id, connector_id, status, ts)"
        " VALUES ('CP1', 0, 1, 'Charging', ?)",
        (when,),
    )
    conn.execute(
        "INSERT INTO events (station_id, kind, ts, data) VALUES ('CP1', 'DataTransfer', ?, ?)",
        (when, f'{{"n":{when}}}'),
    )


def test_file_at_version_4_is_upgraded(tmp_path: Path) -> None:
    """The per-station indexes become index tables holding every row, marked up to date."""
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=4) == 0
    for when in (2, 1):  # out of time order: the index orders by time, then arrival
        insert_history(conn, when)
        conn.execute(
            "INSERT INTO frames (station_id, direction, ts, frame) VALUES ('CP1', 'in', ?, ?)",
            (when, f"[{when}]"),
        )
    conn.close()

    async def main() -> None:
        async with SqliteStore(path, index_interval=3600) as store:
            statuses = await store.status_history("CP1")
            assert [s.timestamp for s in statuses] == [
                datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us) for us in (2, 1)
            ]
            assert [e.data for e in await store.events("CP1")] == [{"n": 2}, {"n": 1}]
            assert [f.frame for f in await store.frames("CP1")] == ["[1]", "[2]"]

    run(main())
    conn = sqlite3.connect(path)
    try:
        for table in TABLES:
            assert conn.execute(f"PRAGMA index_list({table})").fetchall() == []
            rows = conn.execute(f"SELECT station_id, ts, id FROM {table}_idx").fetchall()
            assert rows == [("CP1", 1, 2), ("CP1", 2, 1)]
            mark = conn.execute("SELECT value FROM counters WHERE name = ?", (f"{table}_idx",))
            assert mark.fetchone() == (2,)
    finally:
        conn.close()


def test_file_at_version_5_is_upgraded(tmp_path: Path) -> None:
    """The rows stored before the upgrade count as received at the upgrade: a prune before it
    keeps them, whatever their timestamps (1970 here); a later one drops them."""
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrations.migrate(conn, target=5) == 0
    for when in (1, 2):
        insert_history(conn, when)
    conn.close()
    upgraded = datetime.now(UTC)

    async def main() -> None:
        async with SqliteStore(path) as store:
            store.clock = lambda: upgraded + timedelta(days=1)
            assert await store.prune_history(upgraded - timedelta(minutes=1)) == 0
            assert len(await store.status_history("CP1")) == len(await store.events("CP1")) == 2
            # the upgrade's mark is older than this ``before``: the current status stays
            assert await store.prune_history(upgraded + timedelta(minutes=1)) == 3
            assert [s.timestamp.microsecond for s in await store.status_history("CP1")] == [2]
            assert await store.events("CP1") == []

    run(main())


def test_a_large_prune_commits_in_chunks(tmp_path: Path) -> None:
    """``prune_history`` deletes at most ``_PRUNE_CHUNK`` rows per commit (other writes go on
    between the chunks); index and reads stay right."""

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db", index_interval=0) as store:
            store.clock = lambda: at(0)
            for n in range(5):
                await store.record_status(status("CP1", 1, "Charging", at(n)))
                await store.record_event(event(f"CP{n % 2}", "DataTransfer", at(n), n=n))
            assert await store.prune_history(at(-1)) == 0  # the mark at(0)
            await store.record_event(late := event("CP1", "DataTransfer", at(-10)))
            store.clock = lambda: at(1)
            commits = store._db.commits
            with mock.patch("ocppkit.store.sqlite_ops._PRUNE_CHUNK", 3):
                assert await store.prune_history(at(0.5)) == 9  # 4 statuses, 5 events
            assert store._db.commits - commits == 1 + 4  # the mark, then 3 + 3 + 3 + 0
            assert [s.timestamp for s in await store.status_history("CP1")] == [at(4)]
            assert await store.events("CP0") == []
            assert await store.events("CP1") == [late]
        with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db:
            for table in ("statuses", "events"):  # the deleted rows left the index too
                orphans = db.execute(
                    f"SELECT count(*) FROM {table}_idx WHERE id NOT IN (SELECT id FROM {table})"
                ).fetchone()
                assert orphans == (0,), table

    run(main())


def test_a_row_arriving_between_two_chunks_stays(tmp_path: Path) -> None:
    """A chunk that deleted the newest rows frees their ids; a row arriving before the next
    chunk takes one of them, and the next chunk must not take it for an old one."""
    real_chunk = sqlite_ops._prune_history
    chunks: list[tuple[int, bool]] = []

    def chunk_then_arrival(conn: sqlite3.Connection, mark: int) -> tuple[int, bool]:
        result = real_chunk(conn, mark)
        if not chunks:  # as if a station's event came in between the commits
            conn.execute(
                "INSERT INTO events (station_id, kind, ts, data)"
                " VALUES ('CP9', 'DataTransfer', 0, '{\"new\":1}')"
            )
        chunks.append(result)
        return result

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db") as store:
            store.clock = lambda: at(0)
            for n in range(3):
                await store.record_event(event("CP1", "DataTransfer", at(n), n=n))
            assert await store.prune_history(at(-1)) == 0  # the mark at(0)
            store.clock = lambda: at(1)
            with (
                mock.patch("ocppkit.store.sqlite._prune_history", chunk_then_arrival),
                mock.patch("ocppkit.store.sqlite_ops._PRUNE_CHUNK", 3),
            ):
                assert await store.prune_history(at(0.5)) == 3
            assert chunks == [(3, True), (0, False)]
            assert [e.data for e in await store.events("CP9")] == [{"new": 1}]

    run(main())


def test_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    future = migrations.LATEST_VERSION + 1
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn)
    conn.execute(f"PRAGMA user_version = {future}")
    conn.close()

    async def main() -> None:
        store = SqliteStore(path)
        with pytest.raises(
            SchemaVersionError, match=f"future.db: .*schema version {future}, newer"
        ):
            await store.open()
        with pytest.raises(RuntimeError, match="not open"):
            await store.get_station("CP1")
        await store.close()  # nothing to close; no error

    run(main())
    assert pragma(path, "user_version") == future
    assert not [t for t in threading.enumerate() if t.name.startswith("ocppkit-sqlite")]


def test_migrations_apply_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.MIGRATIONS[0], broken))
    conn = sqlite3.connect(tmp_path / "broken.db", isolation_level=None)
    with pytest.raises(RuntimeError, match="migration bug"):
        migrations.migrate(conn, target=2)
    assert migrations.schema_version(conn) == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    assert not conn.in_transaction
    with pytest.raises(ValueError, match="no schema version"):
        migrations.migrate(conn, target=99)
    conn.close()


# -- the writer thread and group commit -----------------------------------------------------------


def gate(conn: sqlite3.Connection, entered: threading.Event, release: threading.Event) -> int:
    """A write operation that holds the writer until ``release`` is set."""
    entered.set()
    assert release.wait(20)
    return threading.get_ident()


async def hold_writer(store: SqliteStore) -> tuple[asyncio.Future[int], threading.Event]:
    """Start a ``gate`` write; return once the writer is inside it (blocked until released)."""
    entered, release = threading.Event(), threading.Event()
    task = store._write(gate, entered, release)
    assert await asyncio.to_thread(entered.wait, 20)
    return task, release


def index_rows(path: Path, table: str) -> int:
    """How many rows ``table``'s station index holds (read by a connection of its own)."""
    conn = sqlite3.connect(path)
    try:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}_idx").fetchone()
        assert isinstance(count, int)
        return count
    finally:
        conn.close()


def test_station_indexes_are_updated_once_per_interval(tmp_path: Path) -> None:
    """Commits within ``index_interval`` leave their rows in the tail (reads find them there);
    the first commit after it indexes them all."""
    path = tmp_path / "s.db"
    clock = [100.0]

    async def main() -> None:
        with mock.patch("ocppkit.store.sqlite.monotonic", side_effect=lambda: clock[0]):
            async with SqliteStore(path, index_interval=10) as store:
                await store.record_status(status("CP1", 1, "Charging", at(1)))  # indexed: due
                for n in range(3):
                    await store.record_event(event("CP1", "DataTransfer", at(n)))
                    await store.log_frames([frame("CP1", at(n), f"[{n}]")])
                assert index_rows(path, "events") == index_rows(path, "frames") == 0
                assert len(await store.events("CP1")) == len(await store.frames("CP1")) == 3
                clock[0] += 10
                await store.record_status(status("CP1", 1, "Available", at(2)))
                assert index_rows(path, "events") == index_rows(path, "frames") == 3
                assert index_rows(path, "statuses") == 2
                assert len(await store.events("CP1")) == len(await store.frames("CP1")) == 3

    run(main())


def test_pruning_the_newest_frames_keeps_later_ones_visible(tmp_path: Path) -> None:
    """SQLite reuses the largest rowid + 1: after pruning a station's newest frames, new frames
    get ids the index had already passed; the index's mark moves back, so reads find them."""

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db", index_interval=3600) as store:
            await store.log_frames([frame("CP1", at(n), f"[{n}]") for n in range(3)])
            assert await store.prune_frames(0) == 3
            await store.log_frames([frame("CP1", at(5), "[5]"), frame("CP2", at(6), "[6]")])
            assert [f.frame for f in await store.frames("CP1")] == ["[5]"]
            assert await store.prune_frames(0, ["CP2"]) == 1
            assert [f.frame for f in await store.frames("CP1")] == ["[5]"]
            assert await store.frames("CP2") == []

    run(main())


def test_a_failing_index_update_fails_no_write(tmp_path: Path) -> None:
    """An index update that fails is logged and rolled back; the batch's writes commit and
    stay readable from the tail, and the next update indexes them."""
    path = tmp_path / "s.db"

    def broken(conn: sqlite3.Connection, table: str) -> int:
        conn.execute(f"INSERT INTO {table}_idx (station_id, ts, id) VALUES ('X', 0, 0)")
        raise sqlite3.OperationalError("disk trouble")

    async def main() -> None:
        async with SqliteStore(path, index_interval=0) as store:
            with mock.patch("ocppkit.store.sqlite.catch_up", broken):
                await store.record_event(event("CP1", "DataTransfer", at(1)))
            assert index_rows(path, "events") == 0
            assert len(await store.events("CP1")) == 1
            await store.record_event(event("CP1", "DataTransfer", at(2)))
            assert index_rows(path, "events") == 2
            assert len(await store.events("CP1")) == 2

    run(main())
    with pytest.raises(ValueError, match="index_interval"):
        SqliteStore(path, index_interval=-1)


def test_disk_work_runs_off_the_event_loop(tmp_path: Path) -> None:
    """While the writer is inside a transaction, the loop goes on (and so do reads)."""

    def thread_id(conn: sqlite3.Connection) -> int:
        return threading.get_ident()

    async def main() -> None:
        loop_thread = threading.get_ident()
        async with SqliteStore(tmp_path / "s.db") as store:
            await store.set_connected("CP1", True, T0)
            held, release = await hold_writer(store)
            # the writer is blocked mid-transaction: the loop runs tasks, reads complete
            station = await store.get_station("CP1")
            assert station is not None
            assert station.connected
            waiting = asyncio.create_task(store.set_connected("CP1", False, at(1)))
            for _ in range(10):
                await asyncio.sleep(0)
            assert not waiting.done()
            release.set()
            await waiting
            writer = await held
            assert writer == store.writer_thread_id == await store._write(thread_id)
            assert await store._read(thread_id) == store.reader_thread_id
            assert len({loop_thread, writer, store.reader_thread_id}) == 3

    run(main())


def test_group_commit_runs_queued_writes_in_one_transaction(tmp_path: Path) -> None:
    """500 writes queued while the writer is busy: one commit. A failing one fails alone."""

    def write_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO id_tokens (token, status) VALUES ('BAD', 'Accepted')")
        raise ValueError("boom")

    def duplicate_key(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO id_tokens (token, status) VALUES ('T0', 'Accepted')")

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db") as store:
            held, release = await hold_writer(store)
            commits, writes = store.commits, store.writes

            async def release_writer() -> None:
                # after every write below is queued; the loop turn's hand-off runs first
                await asyncio.sleep(0)
                release.set()

            calls: list[Awaitable[Any]] = [
                store.put_token(IdTokenRecord(token=f"T{i}")) for i in range(250)
            ]

            async def write(fn: Callable[[sqlite3.Connection], None]) -> None:
                await store._write(fn)  # queued when gather starts it, in list order

            calls += [
                write(write_then_fail),
                write(duplicate_key),
                store.add_meter_values(424242, [sample(T0)]),
            ]
            calls += [store.put_token(IdTokenRecord(token=f"T{i}")) for i in range(250, 500)]
            results = await asyncio.gather(*calls, release_writer(), return_exceptions=True)
            await held
            assert store.commits - commits == 2  # the gate's batch, then everything else
            assert store.writes - writes == 1 + 503
            assert isinstance(results[250], ValueError)
            assert isinstance(results[251], sqlite3.IntegrityError)
            assert isinstance(results[252], KeyError)
            assert results[:250] + results[253:] == [None] * 501
            assert await store.get_token("BAD") is None  # rolled back with its savepoint
            assert len(await store.list_tokens()) == 500

    run(main())


def test_meter_values_by_wire_id_fail_whole(tmp_path: Path) -> None:
    """The operation runs without the writer's savepoint: when its last sample cannot be stored
    (after more than one multi-row statement's worth), the others are not left behind either,
    and the batch's other writes commit."""

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db") as store:
            tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
            unbindable = MeterSample(timestamp=T0, value=object())  # type: ignore[arg-type]
            stored = [sample(T0 + timedelta(seconds=n)) for n in range(40)]
            results = await asyncio.gather(
                store.add_transaction_meter_values("CP1", tx.ocpp_id, [*stored, unbindable]),
                store.put_token(IdTokenRecord(token="AFTER")),
                return_exceptions=True,
            )
            assert isinstance(results[0], sqlite3.ProgrammingError)
            assert results[1] is None
            assert await store.meter_values(tx.id) == []
            assert await store.get_token("AFTER") is not None
            assert (
                await store.add_transaction_meter_values("CP1", tx.ocpp_id, [sample(T0)]) == tx.id
            )

    run(main())


STATIONS_AB = st.sampled_from(["A", "B"])
GROUPED_OPERATIONS: st.SearchStrategy[tuple[Any, ...]] = st.one_of(
    st.tuples(
        st.just("status"),
        STATIONS_AB,
        st.integers(0, 2),
        st.sampled_from(["Available", "Charging"]),
        st.integers(0, 3).map(at),
    ),
    st.tuples(st.just("record_event"), STATIONS_AB, st.integers(0, 3).map(at)),
    st.tuples(
        st.just("meter"),
        STATIONS_AB,
        st.sampled_from(["1", "2", "9"]),
        st.integers(0, 3).map(at),
        st.sampled_from("123"),
        st.booleans(),
    ),
)


async def apply_grouped(store: Store, op: tuple[Any, ...]) -> Any:
    """One operation of the kinds the SQLite writer groups."""
    kind, station, *args = op
    if kind == "status":
        connector, state, when = args
        return await store.record_status(status(station, connector, state, when))
    if kind == "record_event":
        return await store.record_event(event(station, "DataTransfer", args[0]))
    ocpp_id, when, value, log_unknown = args
    unknown = event(station, "MeterValues", at(100), id=ocpp_id) if log_unknown else None
    return await store.add_transaction_meter_values(
        station, ocpp_id, [sample(when, value)], unknown
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(GROUPED_OPERATIONS, min_size=2, max_size=30))
def test_grouped_writes_match_one_by_one(operations: list[tuple[Any, ...]]) -> None:
    """Operations queued together (one batch, the writer's many-forms) leave the state and
    answers that the same operations one at a time leave in ``MemoryStore``."""

    async def main(path: Path) -> None:
        memory = MemoryStore()
        async with SqliteStore(path) as sqlite:
            await memory.open()
            for store in (sqlite, memory):  # transactions "1" of A and B, "2" of A
                for station, ocpp_id in (("A", "1"), ("B", "1"), ("A", "2")):
                    await store.transaction_event(station, ocpp_id, 0, "Started", at(0))
            expected = [await apply_grouped(memory, op) for op in operations]
            held, release = await hold_writer(sqlite)
            commits = sqlite.commits
            calls = [asyncio.ensure_future(apply_grouped(sqlite, op)) for op in operations]
            await asyncio.sleep(0)  # every call is queued behind the held writer
            release.set()
            await held
            assert await asyncio.gather(*calls) == expected
            assert sqlite.commits - commits == 2  # the gate's batch, then all of the calls
            assert await dump(sqlite) == await dump(memory)

    with tempfile.TemporaryDirectory() as directory:
        run(main(Path(directory) / "s.db"))


def test_a_bad_grouped_call_fails_alone(tmp_path: Path) -> None:
    """Meter values queued in one batch, one with a sample SQLite cannot bind: that caller gets
    the error, the others' samples and statuses are stored, in one commit."""

    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db") as store:
            tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
            unbindable = MeterSample(timestamp=at(2), value=object())  # type: ignore[arg-type]
            held, release = await hold_writer(store)
            commits = store.commits
            calls = [
                asyncio.ensure_future(store.add_transaction_meter_values("CP1", tx.ocpp_id, s))
                for s in ([sample(at(1), "1")], [unbindable], [sample(at(3), "3")])
            ]
            calls += [
                asyncio.ensure_future(store.record_status(status("CP1", c, "Charging", at(4))))
                for c in (1, 2)
            ]
            await asyncio.sleep(0)
            release.set()
            await held
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert results[0] == tx.id
            assert isinstance(results[1], sqlite3.ProgrammingError)
            assert results[2:] == [tx.id, None, None]
            assert store.commits - commits == 2  # the gate's batch, then the five calls
            assert [s.value for s in await store.meter_values(tx.id)] == ["1", "3"]
            assert len(await store.current_statuses("CP1")) == 2

    run(main())


def test_touches_are_written_behind_in_one_operation_and_shown_at_once(tmp_path: Path) -> None:
    """100 touches: no writer round trip each, one write operation, visible to reads at once,
    on disk after close; a later ``set_connected`` wins over a touch not yet written."""
    path = tmp_path / "s.db"

    async def main() -> None:
        async with SqliteStore(path, touch_interval=0) as store:
            for i in range(100):
                await store.set_connected(f"CP{i}", True, T0)
            held, release = await hold_writer(store)  # touches cannot reach the disk for now
            writes = store.writes
            for i in range(100):
                store.touch(f"CP{i}", at(i))  # returns although the writer is held
            store.touch("unknown", at(1))
            reads = [await store.get_station(f"CP{i}") for i in (1, 99)]
            assert [s.last_seen for s in reads if s is not None] == [at(1), at(99)]
            later = asyncio.create_task(store.set_connected("CP0", False, at(500)))
            await asyncio.sleep(0)  # set_connected is queued behind the touches
            release.set()
            await held
            await later
            assert store.writes - writes == 3  # the gate, the touches in one operation, the other
            seen = {s.id: s.last_seen for s in await store.list_stations()}
            assert (seen["CP0"], seen["CP1"], seen["CP2"]) == (at(500), at(1), at(2))
        async with SqliteStore(path) as reopened:
            stations = {s.id: s.last_seen for s in await reopened.list_stations()}
            assert (stations["CP0"], stations["CP42"]) == (at(500), at(42))
            assert "unknown" not in stations

    run(main())


def test_touches_wait_for_the_touch_interval_and_close_writes_them(tmp_path: Path) -> None:
    """With a touch interval, touches are not written with the loop's next write but later
    (here: never before close), still shown at once, and on disk after close."""
    path = tmp_path / "s.db"

    async def main() -> None:
        async with SqliteStore(path, touch_interval=3600) as store:
            await store.set_connected("CP1", True, T0)
            writes = store.writes
            store.touch("CP1", at(7))
            await store.record_status(status("CP1", 1, "Available", at(8)))
            assert store.writes - writes == 1  # the status only
            station = await store.get_station("CP1")
            assert station is not None
            assert station.last_seen == at(7)
        async with SqliteStore(path) as reopened:
            station = await reopened.get_station("CP1")
            assert station is not None
            assert station.last_seen == at(7)

    run(main())
    with pytest.raises(ValueError, match="touch_interval"):
        SqliteStore(path, touch_interval=-1)


def test_batch_window_collects_writes(tmp_path: Path) -> None:
    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db", batch_window=0.005) as store:
            await asyncio.gather(*(store.set_connected(f"CP{i}", True, T0) for i in range(50)))
            assert len(await store.list_stations()) == 50

    run(main())
    with pytest.raises(ValueError, match="batch_window"):
        SqliteStore(tmp_path / "s.db", batch_window=-1)


def test_close_runs_queued_writes_first(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def main() -> None:
        store = SqliteStore(path)
        await store.open()
        writes = [
            asyncio.create_task(store.put_token(IdTokenRecord(token=f"T{i}"))) for i in range(100)
        ]
        await asyncio.create_task(store.close())  # queued after the writes
        assert [w.result() for w in writes] == [None] * 100
        with pytest.raises(RuntimeError):
            await store.put_token(IdTokenRecord(token="late"))
        async with SqliteStore(path) as reopened:
            assert len(await reopened.list_tokens()) == 100

    run(main())
    assert not [t for t in threading.enumerate() if t.name.startswith("ocppkit-sqlite")]


def test_a_cancelled_caller_does_not_disturb_the_writer(tmp_path: Path) -> None:
    async def main() -> None:
        async with SqliteStore(tmp_path / "s.db") as store:
            held, release = await hold_writer(store)
            cancelled = asyncio.create_task(store.put_token(IdTokenRecord(token="A")))
            kept = asyncio.create_task(store.put_token(IdTokenRecord(token="B")))

            async def cancel_then_release() -> None:  # runs after both writes are queued
                cancelled.cancel()
                release.set()

            await asyncio.create_task(cancel_then_release())
            await held
            await kept
            assert cancelled.cancelled()
            # a cancelled call may still be applied; the store goes on
            assert {t.token for t in await store.list_tokens()} <= {"A", "B"}
            await store.put_token(IdTokenRecord(token="C"))
            assert await store.get_token("C") == IdTokenRecord(token="C")

    run(main())


# -- SqliteStore answers as MemoryStore does ------------------------------------------------------

STATIONS = st.sampled_from(["A", "B"])
TIMES = st.integers(0, 3).map(at)
OCPP_IDS = st.sampled_from(["1", "2", "3", "e1"])
OPERATIONS: st.SearchStrategy[tuple[Any, ...]] = st.one_of(
    st.tuples(st.just("boot"), STATIONS, st.sampled_from(["Accepted", "Pending"]), TIMES),
    st.tuples(st.just("connected"), STATIONS, st.booleans(), TIMES),
    st.tuples(st.just("touch"), STATIONS, TIMES),
    st.tuples(
        st.just("status"),
        STATIONS,
        st.integers(0, 1),
        st.integers(0, 2),
        st.sampled_from(["Available", "Charging"]),
        TIMES,
    ),
    st.tuples(st.just("put_token"), st.sampled_from(["t1", "t2"]), st.sampled_from(["A", "B"])),
    st.tuples(st.just("delete_token"), st.sampled_from(["t1", "t2"])),
    st.tuples(st.just("start"), STATIONS, st.integers(1, 2), st.sampled_from("XY"), TIMES),
    st.tuples(st.just("stop"), STATIONS, OCPP_IDS, st.integers(0, 99), TIMES),
    st.tuples(
        st.just("event"),
        STATIONS,
        OCPP_IDS,
        st.integers(0, 3),
        st.sampled_from(["Started", "Updated", "Ended"]),
        TIMES,
        st.integers(0, 2),
        st.none() | st.sampled_from("XY"),
        st.none() | st.integers(0, 99),
    ),
    st.tuples(
        st.just("meter"),
        st.integers(1, 4),
        st.lists(st.tuples(TIMES, st.sampled_from([None, "", "L1"]), st.sampled_from("12"))),
    ),
    st.tuples(st.just("frames"), st.lists(st.tuples(STATIONS, TIMES), max_size=4)),
    st.tuples(st.just("prune"), st.integers(0, 2)),
    st.tuples(
        st.just("record_event"),
        STATIONS,
        st.sampled_from(["DataTransfer", "NotifyEvent"]),
        TIMES,
        st.dictionaries(st.sampled_from("xy"), st.none() | st.integers(0, 2) | st.text(max_size=2)),
    ),
    st.tuples(
        st.just("events"),
        STATIONS,
        st.none() | st.sampled_from(["DataTransfer", "NotifyEvent"]),
        st.integers(-1, 3),
    ),
    st.tuples(st.just("password"), STATIONS, st.sampled_from(["h1", "h2"])),
    st.tuples(st.just("remove"), STATIONS),
    st.tuples(st.just("index")),  # SqliteStore: index the tails now (no-op elsewhere)
)


async def apply(store: Store, op: tuple[Any, ...]) -> Any:
    """Run one generated operation; its result, or the type of the error it raised."""
    kind, *args = op
    try:
        if kind == "boot":
            station, state, when = args
            return await store.record_boot(boot(station, boot_status=state, last_boot=when))
        if kind == "connected":
            return await store.set_connected(*args)
        if kind == "touch":
            return store.touch(*args)
        if kind == "status":
            station, evse, connector, state, when = args
            return await store.record_status(status(station, connector, state, when, evse))
        if kind == "put_token":
            return await store.put_token(IdTokenRecord(token=args[0], status=args[1]))
        if kind == "delete_token":
            return await store.delete_token(args[0])
        if kind == "start":
            station, connector, tag, when = args
            return await store.start_transaction(station, connector, tag, 5, when)
        if kind == "stop":
            station, ocpp_id, meter, when = args
            return await store.stop_transaction(station, ocpp_id, meter, when, "Local")
        if kind == "event":
            station, ocpp_id, seq_no, event, when, evse, tag, meter = args
            return await store.transaction_event(
                station, ocpp_id, seq_no, event, when, evse_id=evse, id_token=tag, meter_wh=meter
            )
        if kind == "meter":
            tx_id, values = args
            samples = [sample(when, value, phase=phase) for when, phase, value in values]
            return await store.add_meter_values(tx_id, samples)
        if kind == "frames":
            return await store.log_frames([frame(s, when, f"{s}{when}") for s, when in args[0]])
        if kind == "prune":
            return await store.prune_frames(args[0])
        if kind == "record_event":
            station, action, when, data = args
            return await store.record_event(event(station, action, when, **data))
        if kind == "events":
            station, action, limit = args
            return await store.events(station, action, limit)
        if kind == "password":
            return await store.set_password(*args)
        if kind == "index":
            if isinstance(store, SqliteStore):
                for table in TABLES:
                    await store._db.write(catch_up, table)
            return None
        assert kind == "remove"
        return await store.remove_station(args[0])
    except Exception as exc:
        return type(exc)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATIONS, max_size=25), st.sampled_from([0.0, 3600.0]))
def test_same_answers_as_memory_store(
    operations: list[tuple[Any, ...]], index_interval: float
) -> None:
    """Also with the station indexes updated in every commit, or only when an operation
    ``index`` says so (reads then union the index with the unindexed tail)."""

    async def main(path: Path) -> None:
        memory = MemoryStore()
        async with SqliteStore(path, index_interval=index_interval) as sqlite:
            await memory.open()
            for op in operations:
                assert await apply(sqlite, op) == await apply(memory, op), op
            assert await dump(sqlite) == await dump(memory)

    with tempfile.TemporaryDirectory() as directory:
        run(main(Path(directory) / "s.db"))
