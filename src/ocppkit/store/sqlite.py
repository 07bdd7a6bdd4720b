"""``SqliteStore``: the default ``Store``, one SQLite file (stdlib ``sqlite3``, no dependency).

Durability and threads
    WAL with ``synchronous=FULL`` (an acknowledged call survives a process kill and a power
    loss); a writer thread runs the writes queued so far in one transaction (group commit), a
    reader thread runs the reads, so the event loop never waits for the disk. The machinery is
    ``ocppkit.store.sqlite_worker.SqliteWorkers`` (its module docstring tells the details); the
    operations it runs are in ``ocppkit.store.sqlite_ops``.

Schema
    versioned migrations in ``ocppkit.store.sqlite_migrations`` (``PRAGMA user_version``),
    applied by ``open()`` in one transaction; a file of a newer version is refused with
    ``SchemaVersionError``. Datetimes are stored as INTEGER microseconds since the Unix epoch
    (UTC) and returned as aware UTC datetimes; event data is stored as JSON text
    (``ocppkit.store.sqlite_rows``). Idempotence lives in the schema (UNIQUE constraints,
    ``INSERT … ON CONFLICT DO NOTHING``, lookups in the writer's transaction), so it holds
    across restarts.

The semantics are exactly those of ``ocppkit.store.memory.MemoryStore`` (see its module
docstring for the rules the interface leaves open). A call cancelled while it waits may still be
applied. Use one store object from one process (several processes on one file are safe, but
they serialize on SQLite's write lock).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from time import monotonic

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
from ocppkit.store._rules import EventType, check_count, dump_json, utc_now
from ocppkit.store.sqlite_index import TABLES, catch_up
from ocppkit.store.sqlite_migrations import SchemaVersionError, migrate
from ocppkit.store.sqlite_ops import (
    _GROUPED,
    _ONE_STATEMENT,
    _add_meter_values,
    _add_transaction_meter_values,
    _current_statuses,
    _delete_token,
    _events,
    _find_transaction,
    _frames,
    _get_password,
    _get_station,
    _get_token,
    _list_stations,
    _list_tokens,
    _list_transactions,
    _log_frames,
    _mark_arrivals,
    _meter_values,
    _prune_frames,
    _prune_history,
    _put_token,
    _record_boot,
    _record_event,
    _record_status,
    _remove_station,
    _set_connected,
    _set_password,
    _start_transaction,
    _status_history,
    _stop_transaction,
    _touch_many,
    _transaction_event,
)
from ocppkit.store.sqlite_rows import _dt, _us, _us_or_none
from ocppkit.store.sqlite_worker import SqliteWorkers

__all__ = ["SchemaVersionError", "SqliteStore"]

log = logging.getLogger("ocppkit.store")

_replace = msgspec.structs.replace


def _event_row(event: EventRecord) -> tuple[str, str, int, str]:
    """An event as the writer stores it, converted on the event loop (a payload that is not
    JSON-compatible fails here, before anything is queued)."""
    return event.station_id, event.kind, _us(event.timestamp), dump_json(event.data)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sqlite store: writing last_seen failed", exc_info=task.exception())


class SqliteStore:
    """The default ``Store``: one SQLite file in WAL mode, written by a group-committing writer
    thread and read by a reader thread (see the module docstring).

    ``batch_window``: seconds the writer waits, after the first queued write, for more writes to
    join the same commit (0: commit what is queued at once; under load batches form anyway,
    while the previous commit is syncing).

    ``touch_interval``: seconds between the writes of pending ``touch`` calls (0: at the end of
    each event-loop iteration); reads show touches at once either way.

    ``index_interval``: seconds between the updates of the per-station indexes of the status
    history, the event log and the message log (``ocppkit.store.sqlite_index``; 0: in every
    commit). Reads see every committed row either way; a longer interval means fewer pages per
    commit and a longer unindexed tail for reads to scan.

    ``clock``: the time of the arrival marks ``prune_history`` records (tests pass a fake).

    For tests and monitoring: ``commits`` (transactions committed), ``writes`` (write
    operations run), ``writer_thread_id`` / ``reader_thread_id`` (``threading.get_ident()`` of
    the threads holding the connections).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_window: float = 0.0,
        touch_interval: float = 1.0,
        index_interval: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if touch_interval < 0:
            raise ValueError(f"touch_interval must be >= 0, got {touch_interval}")
        if index_interval < 0:
            raise ValueError(f"index_interval must be >= 0, got {index_interval}")
        self.path = Path(path)
        self.touch_interval = touch_interval
        self.index_interval = index_interval
        self.clock = clock
        self._index_due = 0.0  # monotonic() of the next index update (writer thread)
        self._db = SqliteWorkers(
            self.path,
            migrate=migrate,
            one_statement=_ONE_STATEMENT,
            grouped=_GROUPED,
            batch_window=batch_window,
            before_commit=self._update_indexes,
        )
        # the workers' calls themselves, not wrappers: no extra frame on the hot path
        self._write = self._db.write
        self._read = self._db.read
        # ``touch`` is write-behind; only stations that exist are touched, so the ids are kept
        self._station_ids: set[str] = set()
        self._seen: dict[str, int] = {}  # not yet handed to the writer
        # the last touch of each station whose last ``last_seen`` write was a touch: what reads
        # show, whether committed or not (kept after the commit: a read that began before the
        # commit may still be on its way back)
        self._touched: dict[str, int] = {}
        self._seen_scheduled = False

    @property
    def batch_window(self) -> float:
        """Seconds the writer waits for more writes to join a commit."""
        return self._db.batch_window

    @property
    def commits(self) -> int:
        """Transactions committed since the store was created."""
        return self._db.commits

    @property
    def writes(self) -> int:
        """Write operations run since the store was created."""
        return self._db.writes

    @property
    def writer_thread_id(self) -> int | None:
        """``threading.get_ident()`` of the writer thread (None before ``open()``)."""
        return self._db.writer_thread_id

    @property
    def reader_thread_id(self) -> int | None:
        """``threading.get_ident()`` of the reader thread (None before ``open()``)."""
        return self._db.reader_thread_id

    # life cycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create or migrate the schema (``SchemaVersionError`` for a file of a newer ocppkit);
        start the writer and reader threads."""
        await self._db.open()
        self._station_ids = {s.id for s in await self._read(_list_stations)}

    async def close(self) -> None:
        """Run every queued call, commit, stop the threads and close the connections."""
        if self._seen:
            await self._write_seen()
        await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _update_indexes(self, conn: sqlite3.Connection) -> None:
        """Index what was written since the last time, every ``index_interval`` (writer thread,
        in a batch's transaction). A failure is logged and leaves the rows in the tails, where
        reads still find them; the batch's own writes commit."""
        now = monotonic()
        if now < self._index_due:
            return
        self._index_due = now + self.index_interval
        conn.execute("SAVEPOINT idx")
        try:
            for table in TABLES:
                catch_up(conn, table)
        except sqlite3.Error:
            if not conn.in_transaction:
                raise
            conn.execute("ROLLBACK TO idx")
            log.exception("sqlite store: updating the station indexes failed")
        conn.execute("RELEASE idx")

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

    def touch(self, station_id: str, when: datetime) -> None:
        """Update ``last_seen`` of a known station (an unknown one is ignored).

        Write-behind, as the interface allows: returns at once; the touches of
        ``touch_interval`` seconds go to the writer as one operation, and reads see them at
        once. A crash may lose the touches of that last interval (``last_seen`` is
        bookkeeping, not acknowledged data); ``close()`` writes them."""
        if not self._db.is_open:
            raise RuntimeError("the store is not open")
        if station_id not in self._station_ids:
            return
        self._seen[station_id] = self._touched[station_id] = _us(when)
        if not self._seen_scheduled:
            self._seen_scheduled = True
            loop = asyncio.get_running_loop()
            if self.touch_interval:
                loop.call_later(self.touch_interval, self._queue_seen)
            else:
                loop.call_soon(self._queue_seen)

    async def get_station(self, station_id: str) -> StationRecord | None:
        """One station, or None."""
        station = await self._read(_get_station, station_id)
        return None if station is None else self._with_seen(station)

    async def list_stations(self) -> list[StationRecord]:
        """Every known station, by id."""
        return [self._with_seen(station) for station in await self._read(_list_stations)]

    def _queue_seen(self) -> None:
        self._seen_scheduled = False
        if self._seen and self._db.is_open:
            task = asyncio.get_running_loop().create_task(self._write_seen())
            task.add_done_callback(_log_failure)

    async def _write_seen(self) -> None:
        """Hand the pending touches to the writer."""
        seen, self._seen = self._seen, {}
        await self._write(_touch_many, [(when, station) for station, when in seen.items()])

    def _forget_seen(self, station_id: str) -> None:
        """A later write sets ``last_seen``: earlier touches must not show over it."""
        self._seen.pop(station_id, None)
        self._touched.pop(station_id, None)

    def _with_seen(self, station: StationRecord) -> StationRecord:
        when = self._touched.get(station.id)
        return station if when is None else _replace(station, last_seen=_dt(when))

    # statuses -----------------------------------------------------------------------------------
    def record_status(self, status: ConnectorStatus) -> asyncio.Future[None]:
        """Append a status report; it becomes current unless a newer one is known."""
        return self._write(_record_status, status)

    async def current_statuses(self, station_id: str) -> list[ConnectorStatus]:
        """The latest status of each (evse, connector) of a station, by evse and connector."""
        return await self._read(_current_statuses, station_id)

    async def status_history(self, station_id: str, limit: int = 100) -> list[ConnectorStatus]:
        """The newest ``limit`` status reports of a station, newest first."""
        check_count("limit", limit)
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

    def add_meter_values(
        self, transaction_id: int, samples: list[MeterSample]
    ) -> asyncio.Future[int]:
        """Store samples of a transaction, skipping stored ones; returns how many were new.

        Raises ``KeyError`` for an unknown transaction."""
        return self._write(_add_meter_values, transaction_id, list(samples))

    def add_transaction_meter_values(
        self,
        station_id: str,
        ocpp_id: str,
        samples: list[MeterSample],
        unknown: EventRecord | None = None,
    ) -> asyncio.Future[int | None]:
        """Samples of a transaction named by its wire id; ``unknown`` to the event log when the
        transaction is not known (returns None). One operation on the writer, no read first."""
        event = None if unknown is None else _event_row(unknown)
        return self._write(_add_transaction_meter_values, station_id, ocpp_id, list(samples), event)

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
        check_count("limit", limit)
        return await self._read(_frames, station_id, limit, _us_or_none(after))

    async def prune_frames(self, keep: int, station_ids: Sequence[str] | None = None) -> int:
        """Keep at most ``keep`` frames per station (the newest), of ``station_ids`` only when
        given; returns how many were deleted."""
        check_count("keep", keep)
        chosen = None if station_ids is None else list(station_ids)
        return await self._write(_prune_frames, keep, chosen)

    # history retention ---------------------------------------------------------------------
    async def prune_history(self, before: datetime) -> int:
        """Delete the status reports and events received before ``before`` by the arrival
        marks (see ``Store.prune_history``; each connector's current status stays); returns how
        many were deleted. Large deletions are committed in chunks, so other writes go on."""
        mark = await self._write(_mark_arrivals, _us(self.clock()), _us(before))
        if mark is None:
            return 0
        deleted, more = 0, True
        while more:
            chunk, more = await self._write(_prune_history, mark)
            deleted += chunk
        return deleted

    # events ---------------------------------------------------------------------------------
    def record_event(self, event: EventRecord) -> asyncio.Future[None]:
        """Append a station message to the event log (``data`` must be JSON-compatible: a
        ``TypeError`` otherwise)."""
        return self._write(_record_event, *_event_row(event))

    async def events(
        self, station_id: str, kind: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """The newest ``limit`` events of a station (of one ``kind`` when given), newest
        (timestamp, then arrival) first."""
        check_count("limit", limit)
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
