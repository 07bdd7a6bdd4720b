"""``SqliteStore``: the default ``Store``, one SQLite file (stdlib ``sqlite3``, no dependency).

Durability
    ``PRAGMA journal_mode=WAL`` with ``synchronous=FULL``: every commit fsyncs the write-ahead
    log before a call returns, so an acknowledged call survives a process kill *and* a power
    loss (``synchronous=NORMAL`` in WAL mode survives a process kill but may lose the last
    commits on power loss; the CSMS acknowledges messages only after the store returns, so it
    needs FULL; on macOS ``fullfsync`` makes it reach stable storage). Foreign keys are on.
    The database is one file (with SQLite's ``-wal`` and ``-shm`` companions while it is open).

Threads, so the event loop never waits for the disk
    - one **writer thread** owns the only write connection. Write calls put an operation on its
      queue and await a future. The writer takes *every* operation queued so far (after
      ``batch_window`` seconds more, when > 0), runs them in **one** transaction with a
      ``SAVEPOINT`` each, commits once (one fsync for the whole batch: *group commit*), then
      resolves the callers' futures through ``loop.call_soon_threadsafe``. An operation that
      fails rolls back its savepoint and fails only its caller; if the commit itself fails
      (I/O error, disk full), every caller of the batch gets the error and nothing of it is
      stored.
    - one **reader thread** owns a read-only connection and runs read calls the same way (no
      transaction; WAL lets it read while the writer commits). A write is committed before its
      call returns, so a read issued after it sees it.

Schema
    versioned migrations in ``ocppkit.store.sqlite_migrations`` (``PRAGMA user_version``),
    applied by ``open()`` in one transaction; a file of a newer version is refused with
    ``SchemaVersionError``. Datetimes are stored as INTEGER microseconds since the Unix epoch
    (UTC) and returned as aware UTC datetimes; event data is stored as JSON text. Idempotence
    lives in the schema (UNIQUE constraints, ``INSERT … ON CONFLICT DO NOTHING``, lookups in the
    writer's transaction), so it holds across restarts.

The semantics are exactly those of ``ocppkit.store.memory.MemoryStore`` (see its module
docstring for the rules the interface leaves open). A call cancelled while it waits may still be
applied. Use one store object from one process (several processes on one file are safe, but
they serialize on SQLite's write lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, cast

import msgspec

from ocppkit.store import (
    ConnectorStatus,
    EventRecord,
    FrameRecord,
    IdTokenRecord,
    MeterSample,
    StationRecord,
    TransactionRecord,
)
from ocppkit.store._rules import dump_json, load_json, transaction_after_event, utc
from ocppkit.store.sqlite_migrations import SchemaVersionError, migrate

__all__ = ["SchemaVersionError", "SqliteStore"]

log = logging.getLogger("ocppkit.store")

P = ParamSpec("P")
T = TypeVar("T")
Row = tuple[Any, ...]
EventType = Literal["Started", "Updated", "Ended"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_replace = msgspec.structs.replace


def _us(when: datetime) -> int:
    return (utc(when) - _EPOCH) // _MICROSECOND


def _us_or_none(when: datetime | None) -> int | None:
    return None if when is None else _us(when)


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _dt_or_none(us: int | None) -> datetime | None:
    return None if us is None else _dt(us)


def _check_count(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


# -- operations: run on a worker thread, with that thread's connection ---------------------------

_STATION_COLUMNS = (
    "id, ocpp_version, vendor, model, serial_number, firmware_version, boot_status, last_boot,"
    " last_seen, connected"
)
_STATUS_COLUMNS = "station_id, evse_id, connector_id, status, error_code, info, ts"
_TOKEN_COLUMNS = "token, status, expiry, parent, token_type"
_TX_COLUMNS = (
    "id, station_id, ocpp_id, evse_id, connector_id, id_token, start_time, meter_start,"
    " stop_time, meter_stop, stop_reason, last_seq_no"
)
_SAMPLE_COLUMNS = "ts, value, measurand, phase, unit, context, location"
_FRAME_COLUMNS = "station_id, direction, ts, frame"
_EVENT_COLUMNS = "station_id, kind, ts, data"


def _station(row: Row) -> StationRecord:
    return StationRecord(
        id=row[0],
        ocpp_version=row[1],
        vendor=row[2],
        model=row[3],
        serial_number=row[4],
        firmware_version=row[5],
        boot_status=row[6],
        last_boot=_dt_or_none(row[7]),
        last_seen=_dt_or_none(row[8]),
        connected=bool(row[9]),
    )


def _status(row: Row) -> ConnectorStatus:
    return ConnectorStatus(
        station_id=row[0],
        evse_id=row[1],
        connector_id=row[2],
        status=row[3],
        error_code=row[4],
        info=row[5],
        timestamp=_dt(row[6]),
    )


def _token(row: Row) -> IdTokenRecord:
    return IdTokenRecord(
        token=row[0], status=row[1], expiry=_dt_or_none(row[2]), parent=row[3], token_type=row[4]
    )


def _transaction(row: Row) -> TransactionRecord:
    return TransactionRecord(
        id=row[0],
        station_id=row[1],
        ocpp_id=row[2],
        evse_id=row[3],
        connector_id=row[4],
        id_token=row[5],
        start_time=_dt(row[6]),
        meter_start=row[7],
        stop_time=_dt_or_none(row[8]),
        meter_stop=row[9],
        stop_reason=row[10],
        last_seq_no=row[11],
    )


def _sample(row: Row) -> MeterSample:
    return MeterSample(
        timestamp=_dt(row[0]),
        value=row[1],
        measurand=row[2],
        phase=row[3],
        unit=row[4],
        context=row[5],
        location=row[6],
    )


def _frame(row: Row) -> FrameRecord:
    return FrameRecord(
        station_id=row[0],
        direction=cast(Literal["in", "out"], row[1]),
        timestamp=_dt(row[2]),
        frame=row[3],
    )


def _event(row: Row) -> EventRecord:
    return EventRecord(
        station_id=row[0], kind=row[1], timestamp=_dt(row[2]), data=load_json(row[3])
    )


def _record_boot(conn: sqlite3.Connection, station: StationRecord) -> None:
    conn.execute(
        f"INSERT INTO stations ({_STATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET ocpp_version = excluded.ocpp_version,"
        " vendor = excluded.vendor, model = excluded.model,"
        " serial_number = excluded.serial_number, firmware_version = excluded.firmware_version,"
        " boot_status = excluded.boot_status, last_boot = excluded.last_boot,"
        " last_seen = coalesce(excluded.last_seen, last_seen)",
        (
            station.id,
            station.ocpp_version,
            station.vendor,
            station.model,
            station.serial_number,
            station.firmware_version,
            station.boot_status,
            _us_or_none(station.last_boot),
            _us_or_none(station.last_seen),
            int(station.connected),
        ),
    )


def _set_connected(conn: sqlite3.Connection, station_id: str, connected: bool, when: int) -> None:
    conn.execute(
        "INSERT INTO stations (id, connected, last_seen) VALUES (?, ?, ?) ON CONFLICT (id)"
        " DO UPDATE SET connected = excluded.connected, last_seen = excluded.last_seen",
        (station_id, int(connected), when),
    )


def _touch_many(conn: sqlite3.Connection, seen: list[tuple[int, str]]) -> None:
    conn.executemany("UPDATE stations SET last_seen = ? WHERE id = ?", seen)


def _get_station(conn: sqlite3.Connection, station_id: str) -> StationRecord | None:
    row = conn.execute(
        f"SELECT {_STATION_COLUMNS} FROM stations WHERE id = ?", (station_id,)
    ).fetchone()
    return None if row is None else _station(row)


def _list_stations(conn: sqlite3.Connection) -> list[StationRecord]:
    rows = conn.execute(f"SELECT {_STATION_COLUMNS} FROM stations ORDER BY id").fetchall()
    return [_station(row) for row in rows]


def _record_status(conn: sqlite3.Connection, status: ConnectorStatus) -> None:
    ts = _us(status.timestamp)
    cursor = conn.execute(
        f"INSERT INTO statuses ({_STATUS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            status.station_id,
            status.evse_id,
            status.connector_id,
            status.status,
            status.error_code,
            status.info,
            ts,
        ),
    )
    conn.execute(
        "INSERT INTO current_statuses (station_id, evse_id, connector_id, status_id, ts)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (station_id, evse_id, connector_id)"
        " DO UPDATE SET status_id = excluded.status_id, ts = excluded.ts"
        " WHERE excluded.ts >= current_statuses.ts",
        (status.station_id, status.evse_id, status.connector_id, cursor.lastrowid, ts),
    )


def _current_statuses(conn: sqlite3.Connection, station_id: str) -> list[ConnectorStatus]:
    rows = conn.execute(
        "SELECT s.station_id, s.evse_id, s.connector_id, s.status, s.error_code, s.info, s.ts"
        " FROM current_statuses AS c JOIN statuses AS s ON s.id = c.status_id"
        " WHERE c.station_id = ? ORDER BY c.evse_id, c.connector_id",
        (station_id,),
    ).fetchall()
    return [_status(row) for row in rows]


def _status_history(conn: sqlite3.Connection, station_id: str, limit: int) -> list[ConnectorStatus]:
    rows = conn.execute(
        f"SELECT {_STATUS_COLUMNS} FROM statuses WHERE station_id = ?"
        " ORDER BY ts DESC, id DESC LIMIT ?",
        (station_id, limit),
    ).fetchall()
    return [_status(row) for row in rows]


def _put_token(conn: sqlite3.Connection, token: IdTokenRecord) -> None:
    conn.execute(
        f"INSERT INTO id_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (token)"
        " DO UPDATE SET status = excluded.status, expiry = excluded.expiry,"
        " parent = excluded.parent, token_type = excluded.token_type",
        (token.token, token.status, _us_or_none(token.expiry), token.parent, token.token_type),
    )


def _get_token(conn: sqlite3.Connection, token: str) -> IdTokenRecord | None:
    row = conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM id_tokens WHERE token = ?", (token,)
    ).fetchone()
    return None if row is None else _token(row)


def _delete_token(conn: sqlite3.Connection, token: str) -> bool:
    return conn.execute("DELETE FROM id_tokens WHERE token = ?", (token,)).rowcount > 0


def _list_tokens(conn: sqlite3.Connection) -> list[IdTokenRecord]:
    rows = conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM id_tokens ORDER BY token").fetchall()
    return [_token(row) for row in rows]


def _find_transaction(
    conn: sqlite3.Connection, station_id: str, ocpp_id: str
) -> TransactionRecord | None:
    row = conn.execute(
        f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = ? AND ocpp_id = ?",
        (station_id, ocpp_id),
    ).fetchone()
    return None if row is None else _transaction(row)


def _start_transaction(
    conn: sqlite3.Connection,
    station_id: str,
    connector_id: int,
    id_token: str,
    meter_start: float,
    timestamp: datetime,
) -> TransactionRecord:
    start = _us(timestamp)
    row = conn.execute(
        f"SELECT {_TX_COLUMNS} FROM transactions WHERE v16 = 1 AND station_id = ?"
        " AND connector_id = ? AND id_token = ? AND start_time = ?",
        (station_id, connector_id, id_token, start),
    ).fetchone()
    if row is not None:  # a retry: the transaction this start created
        return _transaction(row)
    while True:  # the next 1.6 id, skipping one the station already uses as a 2.x id
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'v16_transaction_id'")
        (number,) = conn.execute(
            "SELECT value FROM counters WHERE name = 'v16_transaction_id'"
        ).fetchone()
        ocpp_id = str(number)
        if _find_transaction(conn, station_id, ocpp_id) is None:
            break
    # the partial UNIQUE index transactions_v16_start backs the lookup above
    cursor = conn.execute(
        "INSERT INTO transactions (station_id, ocpp_id, v16, evse_id, connector_id, id_token,"
        " start_time, meter_start) VALUES (?, ?, 1, 0, ?, ?, ?, ?)",
        (station_id, ocpp_id, connector_id, id_token, start, float(meter_start)),
    )
    assert cursor.lastrowid is not None
    return TransactionRecord(
        id=cursor.lastrowid,
        station_id=station_id,
        ocpp_id=ocpp_id,
        evse_id=0,
        connector_id=connector_id,
        id_token=id_token,
        start_time=_dt(start),
        meter_start=float(meter_start),
    )


def _stop_transaction(
    conn: sqlite3.Connection,
    station_id: str,
    ocpp_id: str,
    meter_stop: float,
    timestamp: datetime,
    reason: str | None,
) -> TransactionRecord | None:
    tx = _find_transaction(conn, station_id, ocpp_id)
    if tx is None or tx.stop_time is not None:
        return tx
    tx = _replace(tx, stop_time=utc(timestamp), meter_stop=float(meter_stop), stop_reason=reason)
    conn.execute(
        "UPDATE transactions SET stop_time = ?, meter_stop = ?, stop_reason = ? WHERE id = ?",
        (_us(timestamp), tx.meter_stop, reason, tx.id),
    )
    return tx


def _add_event(conn: sqlite3.Connection, tx_id: int, seq_no: int, event_type: str, ts: int) -> bool:
    cursor = conn.execute(
        "INSERT INTO transaction_events (transaction_id, seq_no, event_type, ts)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (tx_id, seq_no, event_type, ts),
    )
    return cursor.rowcount > 0


def _transaction_event(
    conn: sqlite3.Connection,
    station_id: str,
    ocpp_id: str,
    seq_no: int,
    event_type: EventType,
    timestamp: datetime,
    evse_id: int,
    connector_id: int,
    id_token: str | None,
    meter_wh: float | None,
    stop_reason: str | None,
) -> tuple[TransactionRecord, bool]:
    ts = _us(timestamp)
    old = _find_transaction(conn, station_id, ocpp_id)
    if old is not None and not _add_event(conn, old.id, seq_no, event_type, ts):
        return old, False  # (transaction, seq_no) already recorded
    tx = transaction_after_event(
        old,
        station_id=station_id,
        ocpp_id=ocpp_id,
        seq_no=seq_no,
        event_type=event_type,
        timestamp=timestamp,
        evse_id=evse_id,
        connector_id=connector_id,
        id_token=id_token,
        meter_wh=meter_wh,
        stop_reason=stop_reason,
    )
    values = (
        tx.evse_id,
        tx.connector_id,
        tx.id_token,
        _us(tx.start_time),
        tx.meter_start,
        _us_or_none(tx.stop_time),
        tx.meter_stop,
        tx.stop_reason,
        tx.last_seq_no,
    )
    if old is None:
        cursor = conn.execute(
            "INSERT INTO transactions (station_id, ocpp_id, v16, evse_id, connector_id,"
            " id_token, start_time, meter_start, stop_time, meter_stop, stop_reason,"
            " last_seq_no) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (station_id, ocpp_id, *values),
        )
        assert cursor.lastrowid is not None
        tx = _replace(tx, id=cursor.lastrowid)
        _add_event(conn, tx.id, seq_no, event_type, ts)
    else:
        conn.execute(
            "UPDATE transactions SET evse_id = ?, connector_id = ?, id_token = ?,"
            " start_time = ?, meter_start = ?, stop_time = ?, meter_stop = ?, stop_reason = ?,"
            " last_seq_no = ? WHERE id = ?",
            (*values, tx.id),
        )
    return tx, True


def _add_meter_values(
    conn: sqlite3.Connection, transaction_id: int, samples: Sequence[MeterSample]
) -> int:
    if (
        conn.execute("SELECT 1 FROM transactions WHERE id = ?", (transaction_id,)).fetchone()
        is None
    ):
        raise KeyError(f"unknown transaction {transaction_id}")
    before = conn.total_changes
    conn.executemany(
        f"INSERT INTO meter_samples (transaction_id, {_SAMPLE_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (
                transaction_id,
                _us(s.timestamp),
                s.value,
                s.measurand,
                s.phase,
                s.unit,
                s.context,
                s.location,
            )
            for s in samples
        ],
    )
    return conn.total_changes - before


def _meter_values(conn: sqlite3.Connection, transaction_id: int) -> list[MeterSample]:
    rows = conn.execute(
        f"SELECT {_SAMPLE_COLUMNS} FROM meter_samples WHERE transaction_id = ? ORDER BY ts, id",
        (transaction_id,),
    ).fetchall()
    return [_sample(row) for row in rows]


def _list_transactions(conn: sqlite3.Connection, station_id: str | None) -> list[TransactionRecord]:
    if station_id is None:
        rows = conn.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions ORDER BY start_time DESC, id DESC"
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = ?"
            " ORDER BY start_time DESC, id DESC",
            (station_id,),
        ).fetchall()
    return [_transaction(row) for row in rows]


_ROWS_PER_INSERT = 200
"""Frames per INSERT statement. ``executemany`` would step once per row, and the sqlite3 module
releases and retakes the GIL around every step: under load that is a thread switch per frame."""


def _insert_rows(table_columns: str, width: int, rows: int) -> str:
    values = ", ".join(["(" + ", ".join("?" * width) + ")"] * rows)
    return f"INSERT INTO {table_columns} VALUES {values}"


_INSERT_FRAMES = _insert_rows(f"frames ({_FRAME_COLUMNS})", 4, _ROWS_PER_INSERT)


def _log_frames(conn: sqlite3.Connection, frames: Sequence[FrameRecord]) -> None:
    params: list[Any] = []
    for f in frames:
        params += (f.station_id, f.direction, _us(f.timestamp), f.frame)
    whole = len(frames) - len(frames) % _ROWS_PER_INSERT
    step = 4 * _ROWS_PER_INSERT
    for start in range(0, 4 * whole, step):
        conn.execute(_INSERT_FRAMES, params[start : start + step])
    if whole < len(frames):
        rest = _insert_rows(f"frames ({_FRAME_COLUMNS})", 4, len(frames) - whole)
        conn.execute(rest, params[4 * whole :])


def _frames(
    conn: sqlite3.Connection, station_id: str, limit: int, after: int | None
) -> list[FrameRecord]:
    if after is None:
        rows = conn.execute(
            f"SELECT {_FRAME_COLUMNS} FROM frames WHERE station_id = ? ORDER BY ts, id LIMIT ?",
            (station_id, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_FRAME_COLUMNS} FROM frames WHERE station_id = ? AND ts > ?"
            " ORDER BY ts, id LIMIT ?",
            (station_id, after, limit),
        ).fetchall()
    return [_frame(row) for row in rows]


def _prune_frames(conn: sqlite3.Connection, keep: int, station_ids: Sequence[str] | None) -> int:
    if station_ids is None:
        station_ids = [row[0] for row in conn.execute("SELECT DISTINCT station_id FROM frames")]
    deleted = 0
    for station_id in station_ids:  # walks the newest ``keep`` index entries of each station
        deleted += conn.execute(
            "DELETE FROM frames WHERE id IN (SELECT id FROM frames WHERE station_id = ?"
            " ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)",
            (station_id, keep),
        ).rowcount
    return deleted


def _record_event(conn: sqlite3.Connection, station_id: str, kind: str, ts: int, data: str) -> None:
    conn.execute(
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?)", (station_id, kind, ts, data)
    )


def _events(
    conn: sqlite3.Connection, station_id: str, kind: str | None, limit: int
) -> list[EventRecord]:
    if kind is None:
        rows = conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE station_id = ?"
            " ORDER BY ts DESC, id DESC LIMIT ?",
            (station_id, limit),
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE station_id = ? AND kind = ?"
            " ORDER BY ts DESC, id DESC LIMIT ?",
            (station_id, kind, limit),
        ).fetchall()
    return [_event(row) for row in rows]


def _set_password(conn: sqlite3.Connection, station_id: str, password_hash: str) -> None:
    conn.execute(
        "INSERT INTO stations (id, password_hash) VALUES (?, ?)"
        " ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash",
        (station_id, password_hash),
    )


def _get_password(conn: sqlite3.Connection, station_id: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM stations WHERE id = ?", (station_id,)).fetchone()
    return None if row is None else cast(str | None, row[0])


def _remove_station(conn: sqlite3.Connection, station_id: str) -> bool:
    return conn.execute("DELETE FROM stations WHERE id = ?", (station_id,)).rowcount > 0


# -- the worker threads ---------------------------------------------------------------------------

Outcome = tuple["asyncio.Future[Any]", bool, Any]  # future, succeeded, result or exception


_ONE_STATEMENT = frozenset({_record_boot, _set_connected, _touch_many, _put_token, _record_event})
"""Write operations of a single statement: SQLite undoes a failed statement by itself, so they
need no savepoint of their own (saves two statements per operation on the hot path)."""


class _Op:
    """One queued call: what to run on the worker, and whom to tell."""

    __slots__ = ("args", "fn", "future", "kwargs", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.loop = loop
        self.future = future


class _Stop:
    """The last item of a worker's queue: close the connection, then resolve ``future``."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        self.loop = loop
        self.future = future


def _settle(outcomes: list[Outcome]) -> None:
    """Resolve futures on their loop (run by ``call_soon_threadsafe``)."""
    for future, ok, value in outcomes:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sqlite store: writing last_seen failed", exc_info=task.exception())


def _notify(loop: asyncio.AbstractEventLoop, outcomes: list[Outcome]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, outcomes)


def _notify_all(ops: Sequence[_Op], results: Iterable[tuple[bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for op, (ok, value) in zip(ops, results, strict=True):
        by_loop.setdefault(op.loop, []).append((op.future, ok, value))
    for loop, outcomes in by_loop.items():
        _notify(loop, outcomes)


class SqliteStore:
    """The default ``Store``: one SQLite file in WAL mode, written by a group-committing writer
    thread and read by a reader thread (see the module docstring).

    ``batch_window``: seconds the writer waits, after the first queued write, for more writes to
    join the same commit (0: commit what is queued at once; under load batches form anyway,
    while the previous commit is syncing).

    For tests and monitoring: ``commits`` (transactions committed), ``writes`` (write
    operations run), ``writer_thread_id`` / ``reader_thread_id`` (``threading.get_ident()`` of
    the threads holding the connections).
    """

    max_batch = 10_000
    """At most this many operations per transaction."""

    def __init__(self, path: str | Path, *, batch_window: float = 0.0) -> None:
        if batch_window < 0:
            raise ValueError(f"batch_window must be >= 0, got {batch_window}")
        self.path = Path(path)
        self.batch_window = batch_window
        self.commits = 0
        self.writes = 0
        self.writer_thread_id: int | None = None
        self.reader_thread_id: int | None = None
        self._write_queue: queue.SimpleQueue[_Op | _Stop] | None = None
        self._read_queue: queue.SimpleQueue[_Op | _Stop] | None = None
        self._threads: list[threading.Thread] = []
        # ``touch`` is write-behind: values not yet queued, and queued but not yet committed;
        # only stations that exist are touched, so the ids are kept in memory
        self._station_ids: set[str] = set()
        self._seen: dict[str, int] = {}
        self._seen_queued: dict[str, int] = {}
        self._seen_scheduled = False

    # life cycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create or migrate the schema (``SchemaVersionError`` for a file of a newer ocppkit);
        start the writer and reader threads."""
        if self._threads:
            raise RuntimeError("the store is already open")
        write_queue: queue.SimpleQueue[_Op | _Stop] = queue.SimpleQueue()
        read_queue: queue.SimpleQueue[_Op | _Stop] = queue.SimpleQueue()
        await self._start_thread("writer", write_queue, write=True)
        try:
            await self._start_thread("reader", read_queue, write=False)
        except BaseException:
            await self._stop_threads([write_queue])
            raise
        self._write_queue, self._read_queue = write_queue, read_queue
        self._station_ids = {s.id for s in await self._read(_list_stations)}

    async def close(self) -> None:
        """Run every queued call, commit, stop the threads and close the connections."""
        if self._seen:
            await self._write_seen()
        queues = [q for q in (self._read_queue, self._write_queue) if q is not None]
        self._write_queue = self._read_queue = None  # no new calls from now on
        await self._stop_threads(queues)

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _start_thread(
        self, name: str, jobs: queue.SimpleQueue[_Op | _Stop], *, write: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        thread = threading.Thread(
            target=self._serve,
            args=(jobs, write, loop, started),
            name=f"ocppkit-sqlite-{name}",
            daemon=True,  # committed data is safe; an exit without close() loses nothing
        )
        thread.start()
        try:
            await started
        except asyncio.CancelledError:  # the thread may be up by now: let it end on its own
            jobs.put(_Stop(loop, loop.create_future()))
            raise
        except BaseException:  # it failed to start and is ending
            await asyncio.to_thread(thread.join)
            raise
        self._threads.append(thread)

    async def _stop_threads(self, queues: list[queue.SimpleQueue[_Op | _Stop]]) -> None:
        loop = asyncio.get_running_loop()
        stopped: list[asyncio.Future[None]] = []
        for jobs in queues:
            future: asyncio.Future[None] = loop.create_future()
            jobs.put(_Stop(loop, future))
            stopped.append(future)
        try:
            await asyncio.gather(*stopped)
        finally:
            threads, self._threads = self._threads, []
            for thread in threads:
                await asyncio.to_thread(thread.join)

    # the worker threads -------------------------------------------------------------------------
    def _connect(self, *, write: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=256)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            if write:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise ValueError(f"{self.path}: WAL mode unavailable (journal mode {mode})")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA fullfsync = ON")  # macOS: flush the drive's cache too
                conn.execute("PRAGMA foreign_keys = ON")
                try:
                    migrate(conn)
                except SchemaVersionError as exc:
                    raise SchemaVersionError(f"{self.path}: {exc}") from None
            else:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _serve(
        self,
        jobs: queue.SimpleQueue[_Op | _Stop],
        write: bool,
        loop: asyncio.AbstractEventLoop,
        started: asyncio.Future[None],
    ) -> None:
        try:
            conn = self._connect(write=write)
        except BaseException as exc:
            _notify(loop, [(started, False, exc)])
            return
        if write:
            self.writer_thread_id = threading.get_ident()
        else:
            self.reader_thread_id = threading.get_ident()
        _notify(loop, [(started, True, None)])
        stop: _Stop | None = None
        while stop is None:
            ops, stop = self._next_batch(jobs, write)
            if ops:
                results = self._run_writes(conn, ops) if write else self._run_reads(conn, ops)
                _notify_all(ops, results)
        if write:
            try:  # leave a small WAL behind; readers may hold it, so best effort
                conn.execute("PRAGMA optimize")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
        conn.close()
        _notify(stop.loop, [(stop.future, True, None)])

    def _next_batch(
        self, jobs: queue.SimpleQueue[_Op | _Stop], write: bool
    ) -> tuple[list[_Op], _Stop | None]:
        """Block for one job, then take every job queued so far (after ``batch_window``)."""
        item = jobs.get()
        if isinstance(item, _Stop):
            return [], item
        ops = [item]
        deadline = time.monotonic() + self.batch_window if write and self.batch_window else None
        while len(ops) < self.max_batch:
            try:
                if deadline is None:
                    item = jobs.get_nowait()
                else:
                    item = jobs.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                if deadline is None or time.monotonic() >= deadline:
                    break
                continue
            if isinstance(item, _Stop):
                return ops, item
            ops.append(item)
        return ops, None

    def _run_writes(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[tuple[bool, Any]]:
        """One transaction, a savepoint per operation, one commit."""
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                savepoint = op.fn not in _ONE_STATEMENT
                if savepoint:
                    conn.execute("SAVEPOINT op")
                try:
                    value = op.fn(conn, *op.args, **op.kwargs)
                except Exception as exc:
                    if not conn.in_transaction:  # SQLite aborted the transaction (I/O error …)
                        raise
                    if savepoint:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                    results.append((False, exc))
                else:
                    if savepoint:
                        conn.execute("RELEASE op")
                    results.append((True, value))
            conn.execute("COMMIT")
        except Exception as exc:  # nothing of the batch is stored: every caller learns it
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            return [(False, exc)] * len(ops)
        self.commits += 1
        self.writes += len(ops)
        return results

    @staticmethod
    def _run_reads(conn: sqlite3.Connection, ops: list[_Op]) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        for op in ops:
            try:
                results.append((True, op.fn(conn, *op.args, **op.kwargs)))
            except Exception as exc:
                results.append((False, exc))
        return results

    @staticmethod
    def _submit(
        jobs: queue.SimpleQueue[_Op | _Stop] | None,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        if jobs is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        jobs.put(_Op(fn, args, kwargs, loop, future))
        return future

    # plain functions returning the future, not coroutines: no extra frames on the hot path
    def _write(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer's next group commit; await the
        returned future for its result."""
        return self._submit(self._write_queue, fn, *args, **kwargs)

    def _read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the reader; await the returned future."""
        return self._submit(self._read_queue, fn, *args, **kwargs)

    # stations ---------------------------------------------------------------------------------
    async def record_boot(self, station: StationRecord) -> None:
        """Store a station's boot information (creating the station if new)."""
        if station.last_seen is not None:
            self._forget_seen(station.id)
        await self._write(_record_boot, station)
        self._station_ids.add(station.id)

    async def set_connected(self, station_id: str, connected: bool, when: datetime) -> None:
        """Mark a station connected or not (creating it if new); updates ``last_seen``."""
        self._forget_seen(station_id)
        await self._write(_set_connected, station_id, connected, _us(when))
        self._station_ids.add(station_id)

    async def touch(self, station_id: str, when: datetime) -> None:
        """Update ``last_seen`` of a known station (an unknown one is ignored).

        Write-behind, as the interface allows: returns at once; the touches of one event-loop
        iteration go to the writer as one operation, and reads see them at once. A crash may
        lose the touches of the last commit (``last_seen`` is bookkeeping, not acknowledged
        data)."""
        if self._write_queue is None:
            raise RuntimeError("the store is not open")
        if station_id not in self._station_ids:
            return
        self._seen[station_id] = _us(when)
        if not self._seen_scheduled:
            self._seen_scheduled = True
            asyncio.get_running_loop().call_soon(self._queue_seen)

    async def get_station(self, station_id: str) -> StationRecord | None:
        """One station, or None."""
        station = await self._read(_get_station, station_id)
        return None if station is None else self._with_seen(station)

    async def list_stations(self) -> list[StationRecord]:
        """Every known station, by id."""
        return [self._with_seen(station) for station in await self._read(_list_stations)]

    def _queue_seen(self) -> None:
        self._seen_scheduled = False
        if self._seen and self._write_queue is not None:
            task = asyncio.get_running_loop().create_task(self._write_seen())
            task.add_done_callback(_log_failure)

    async def _write_seen(self) -> None:
        """Hand the pending touches to the writer; forget them once committed."""
        seen, self._seen = self._seen, {}
        self._seen_queued.update(seen)
        try:
            await self._write(_touch_many, [(when, station) for station, when in seen.items()])
        finally:
            for station, when in seen.items():
                if self._seen_queued.get(station) == when:
                    del self._seen_queued[station]

    def _forget_seen(self, station_id: str) -> None:
        """A later write sets ``last_seen``: earlier touches must not show over it."""
        self._seen.pop(station_id, None)
        self._seen_queued.pop(station_id, None)

    def _with_seen(self, station: StationRecord) -> StationRecord:
        when = self._seen.get(station.id, self._seen_queued.get(station.id))
        return station if when is None else _replace(station, last_seen=_dt(when))

    # statuses -----------------------------------------------------------------------------------
    async def record_status(self, status: ConnectorStatus) -> None:
        """Append a status report; it becomes current unless a newer one is known."""
        await self._write(_record_status, status)

    async def current_statuses(self, station_id: str) -> list[ConnectorStatus]:
        """The latest status of each (evse, connector) of a station, by evse and connector."""
        return await self._read(_current_statuses, station_id)

    async def status_history(self, station_id: str, limit: int = 100) -> list[ConnectorStatus]:
        """The newest ``limit`` status reports of a station, newest first."""
        _check_count("limit", limit)
        return await self._read(_status_history, station_id, limit)

    # id tokens ------------------------------------------------------------------------------------
    async def put_token(self, token: IdTokenRecord) -> None:
        """Create or replace an id token."""
        await self._write(_put_token, token)

    async def get_token(self, token: str) -> IdTokenRecord | None:
        """One id token, or None (unknown)."""
        return await self._read(_get_token, token)

    async def delete_token(self, token: str) -> bool:
        """Remove an id token; False if it did not exist."""
        return await self._write(_delete_token, token)

    async def list_tokens(self) -> list[IdTokenRecord]:
        """Every id token, by token."""
        return await self._read(_list_tokens)

    # transactions ---------------------------------------------------------------------------------
    async def start_transaction(
        self,
        station_id: str,
        connector_id: int,
        id_token: str,
        meter_start: float,
        timestamp: datetime,
    ) -> TransactionRecord:
        """1.6 StartTransaction: create the transaction, or return the one already created for
        the same (station, connector, id_token, timestamp). ``ocpp_id`` is a new integer."""
        return await self._write(
            _start_transaction, station_id, connector_id, id_token, meter_start, timestamp
        )

    async def stop_transaction(
        self,
        station_id: str,
        ocpp_id: str,
        meter_stop: float,
        timestamp: datetime,
        reason: str | None,
    ) -> TransactionRecord | None:
        """1.6 StopTransaction: close it (idempotent); None if the transaction is unknown."""
        return await self._write(
            _stop_transaction, station_id, ocpp_id, meter_stop, timestamp, reason
        )

    async def transaction_event(
        self,
        station_id: str,
        ocpp_id: str,
        seq_no: int,
        event_type: EventType,
        timestamp: datetime,
        *,
        evse_id: int = 0,
        connector_id: int = 0,
        id_token: str | None = None,
        meter_wh: float | None = None,
        stop_reason: str | None = None,
    ) -> tuple[TransactionRecord, bool]:
        """2.x TransactionEvent: create / update / end the transaction ``ocpp_id``; returns it and
        whether this (transaction, seq_no) was new (rules:
        ``ocppkit.store._rules.transaction_after_event``)."""
        return await self._write(
            _transaction_event,
            station_id,
            ocpp_id,
            seq_no,
            event_type,
            timestamp,
            evse_id,
            connector_id,
            id_token,
            meter_wh,
            stop_reason,
        )

    async def add_meter_values(self, transaction_id: int, samples: list[MeterSample]) -> int:
        """Store samples of a transaction, skipping stored ones; returns how many were new.

        Raises ``KeyError`` for an unknown transaction."""
        return await self._write(_add_meter_values, transaction_id, list(samples))

    async def meter_values(self, transaction_id: int) -> list[MeterSample]:
        """A transaction's samples in timestamp order (then arrival order)."""
        return await self._read(_meter_values, transaction_id)

    async def get_transaction(self, station_id: str, ocpp_id: str) -> TransactionRecord | None:
        """A transaction by its wire id."""
        return await self._read(_find_transaction, station_id, ocpp_id)

    async def list_transactions(self, station_id: str | None = None) -> list[TransactionRecord]:
        """Transactions, newest (``start_time``, then ``id``) first, optionally of one station."""
        return await self._read(_list_transactions, station_id)

    # message log ------------------------------------------------------------------------------
    async def log_frames(self, frames: list[FrameRecord]) -> None:
        """Append frames to the message log (batched by the caller)."""
        await self._write(_log_frames, list(frames))

    async def frames(
        self, station_id: str, limit: int = 100, after: datetime | None = None
    ) -> list[FrameRecord]:
        """The oldest ``limit`` frames of a station strictly after ``after`` (all when None), by
        timestamp then arrival."""
        _check_count("limit", limit)
        return await self._read(_frames, station_id, limit, _us_or_none(after))

    async def prune_frames(self, keep: int, station_ids: Sequence[str] | None = None) -> int:
        """Keep at most ``keep`` frames per station (the newest), of ``station_ids`` only when
        given; returns how many were deleted."""
        _check_count("keep", keep)
        chosen = None if station_ids is None else list(station_ids)
        return await self._write(_prune_frames, keep, chosen)

    # events ---------------------------------------------------------------------------------
    async def record_event(self, event: EventRecord) -> None:
        """Append a station message to the event log (``data`` must be JSON-compatible: a
        ``TypeError`` otherwise)."""
        data = dump_json(event.data)  # on the loop: a bad payload fails before it is queued
        await self._write(_record_event, event.station_id, event.kind, _us(event.timestamp), data)

    async def events(
        self, station_id: str, kind: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """The newest ``limit`` events of a station (of one ``kind`` when given), newest
        (timestamp, then arrival) first."""
        _check_count("limit", limit)
        return await self._read(_events, station_id, kind, limit)

    # station credentials --------------------------------------------------------------------------
    async def set_password(self, station_id: str, password_hash: str) -> None:
        """Store a station's (hashed) Basic-auth password, creating the station if new."""
        await self._write(_set_password, station_id, password_hash)
        self._station_ids.add(station_id)

    async def get_password(self, station_id: str) -> str | None:
        """A station's password hash, or None."""
        return await self._read(_get_password, station_id)

    async def remove_station(self, station_id: str) -> bool:
        """Forget a station and its credentials (history is kept); False if unknown."""
        self._forget_seen(station_id)
        self._station_ids.discard(station_id)
        return await self._write(_remove_station, station_id)
