"""``MemoryStore``: the in-memory ``Store`` (plain dicts and lists, no I/O), for tests.

It follows exactly the rules of ``ocppkit.store`` and the ones the interface leaves open, which
``SqliteStore`` shares (``tests/store/contract.py`` checks both):

- datetimes are kept and returned in UTC (a naive datetime is taken as UTC);
- ``record_boot`` replaces the boot fields of a known station and its ``last_seen`` when given;
  ``connected`` (and ``last_seen`` when None) stay, since they belong to ``set_connected`` /
  ``touch``; a new station is stored as given;
- ``touch`` of an unknown station does nothing; ``record_status`` and the transaction methods
  do not create stations;
- "latest" and "newest" order by timestamp, then by arrival (a later report with the same
  timestamp wins); ``frames(after=…)`` is strictly after; a negative ``limit`` / ``keep`` is a
  ``ValueError``;
- ``add_meter_values`` / ``meter_values`` of an unknown transaction raise / return ``[]``: the
  former is a ``KeyError`` (no sample without its transaction);
- 1.6 ``ocpp_id`` values come from one counter per store (1, 2, …), independent of ``id``; a
  value a station already uses as a 2.x transaction id is skipped;
- ``transaction_event`` follows ``_rules.transaction_after_event`` (shared with ``SqliteStore``);
- an event's ``data`` is kept as JSON would give it back (a copy; tuples become lists, keys
  strings), so it is what ``SqliteStore`` returns; data JSON cannot hold is a ``TypeError``.

The methods do not await anything, so each runs atomically on the event loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime

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
from ocppkit.store._rules import (
    EventType,
    check_count,
    json_data,
    transaction_after_event,
    utc,
    utc_now,
    utc_or_none,
)

__all__ = ["MemoryStore"]

_replace = msgspec.structs.replace


class _Station(msgspec.Struct):
    record: StationRecord
    password_hash: str | None = None


class MemoryStore:
    """In-memory ``Store``: same semantics as ``SqliteStore``, nothing survives the process.

    Data survives ``close()`` / ``open()`` of the same object; calls outside open() ... close()
    raise ``RuntimeError``, as for every store.
    """

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        """``clock``: the time of the arrival marks ``prune_history`` records."""
        self.clock = clock
        self._open = False
        self._seq = itertools.count(1)  # arrival order of statuses, samples and frames
        self._stations: dict[str, _Station] = {}
        self._statuses: dict[str, list[tuple[datetime, int, ConnectorStatus]]] = {}
        self._current: dict[tuple[str, int, int], tuple[datetime, int, ConnectorStatus]] = {}
        self._tokens: dict[str, IdTokenRecord] = {}
        self._transactions: dict[int, TransactionRecord] = {}
        self._by_ocpp_id: dict[tuple[str, str], int] = {}
        self._v16_starts: dict[tuple[str, int, str, datetime], int] = {}
        self._next_v16_id = 0
        self._events: set[tuple[int, int]] = set()
        self._samples: dict[int, list[tuple[datetime, int, MeterSample]]] = {}
        self._sample_keys: set[tuple[int, datetime, str, str | None, str | None, str | None]] = (
            set()
        )
        self._frames: dict[str, list[tuple[datetime, int, FrameRecord]]] = {}
        self._event_log: dict[str, list[tuple[datetime, int, EventRecord]]] = {}
        self._marks: list[tuple[datetime, int]] = []  # arrival marks: (time, next seq then)

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("the store is not open")

    async def open(self) -> None:
        """Make the store usable (nothing to create)."""
        self._open = True

    async def close(self) -> None:
        """Make the store unusable until the next open(); the data stays."""
        self._open = False

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # stations ---------------------------------------------------------------------------------
    async def record_boot(self, station: StationRecord) -> None:
        """Store a station's boot information (creating the station if new)."""
        self._check_open()
        station = _replace(
            station,
            last_boot=utc_or_none(station.last_boot),
            last_seen=utc_or_none(station.last_seen),
        )
        known = self._stations.get(station.id)
        if known is None:
            self._stations[station.id] = _Station(station)
            return
        old = known.record
        known.record = _replace(
            station,
            connected=old.connected,
            last_seen=station.last_seen if station.last_seen is not None else old.last_seen,
        )

    async def set_connected(self, station_id: str, connected: bool, when: datetime) -> None:
        """Mark a station connected or not (creating it if new); updates ``last_seen``."""
        self._check_open()
        known = self._stations.setdefault(station_id, _Station(StationRecord(id=station_id)))
        known.record = _replace(known.record, connected=connected, last_seen=utc(when))

    def touch(self, station_id: str, when: datetime) -> None:
        """Update ``last_seen`` of a known station (an unknown one is ignored)."""
        self._check_open()
        known = self._stations.get(station_id)
        if known is not None:
            known.record = _replace(known.record, last_seen=utc(when))

    async def get_station(self, station_id: str) -> StationRecord | None:
        """One station, or None."""
        self._check_open()
        known = self._stations.get(station_id)
        return None if known is None else known.record

    async def list_stations(self) -> list[StationRecord]:
        """Every known station, by id."""
        self._check_open()
        return [self._stations[key].record for key in sorted(self._stations)]

    # statuses -----------------------------------------------------------------------------------
    async def record_status(self, status: ConnectorStatus) -> None:
        """Append a status report; it becomes current unless a newer one is known."""
        self._check_open()
        status = _replace(status, timestamp=utc(status.timestamp))
        entry = (status.timestamp, next(self._seq), status)
        self._statuses.setdefault(status.station_id, []).append(entry)
        key = (status.station_id, status.evse_id, status.connector_id)
        current = self._current.get(key)
        if current is None or entry[:2] >= current[:2]:
            self._current[key] = entry

    async def current_statuses(self, station_id: str) -> list[ConnectorStatus]:
        """The latest status of each (evse, connector) of a station, by evse and connector."""
        self._check_open()
        return [
            entry[2]
            for key, entry in sorted(self._current.items(), key=lambda item: item[0])
            if key[0] == station_id
        ]

    async def status_history(self, station_id: str, limit: int = 100) -> list[ConnectorStatus]:
        """The newest ``limit`` status reports of a station, newest first."""
        check_count("limit", limit)
        self._check_open()
        entries = sorted(self._statuses.get(station_id, ()), key=lambda e: e[:2], reverse=True)
        return [entry[2] for entry in entries[:limit]]

    # id tokens ------------------------------------------------------------------------------------
    async def put_token(self, token: IdTokenRecord) -> None:
        """Create or replace an id token."""
        self._check_open()
        self._tokens[token.token] = _replace(token, expiry=utc_or_none(token.expiry))

    async def get_token(self, token: str) -> IdTokenRecord | None:
        """One id token, or None (unknown)."""
        self._check_open()
        return self._tokens.get(token)

    async def delete_token(self, token: str) -> bool:
        """Remove an id token; False if it did not exist."""
        self._check_open()
        return self._tokens.pop(token, None) is not None

    async def list_tokens(self) -> list[IdTokenRecord]:
        """Every id token, by token."""
        self._check_open()
        return [self._tokens[key] for key in sorted(self._tokens)]

    # transactions ---------------------------------------------------------------------------------
    def _add_transaction(self, tx: TransactionRecord) -> TransactionRecord:
        tx = _replace(tx, id=len(self._transactions) + 1)
        self._transactions[tx.id] = tx
        self._by_ocpp_id[tx.station_id, tx.ocpp_id] = tx.id
        return tx

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
        self._check_open()
        timestamp = utc(timestamp)
        key = (station_id, connector_id, id_token, timestamp)
        known = self._v16_starts.get(key)
        if known is not None:
            return self._transactions[known]
        while True:
            self._next_v16_id += 1
            ocpp_id = str(self._next_v16_id)
            if (station_id, ocpp_id) not in self._by_ocpp_id:
                break
        tx = self._add_transaction(
            TransactionRecord(
                id=0,
                station_id=station_id,
                ocpp_id=ocpp_id,
                evse_id=0,
                connector_id=connector_id,
                id_token=id_token,
                start_time=timestamp,
                meter_start=float(meter_start),
            )
        )
        self._v16_starts[key] = tx.id
        return tx

    async def stop_transaction(
        self,
        station_id: str,
        ocpp_id: str,
        meter_stop: float,
        timestamp: datetime,
        reason: str | None,
    ) -> TransactionRecord | None:
        """1.6 StopTransaction: close it (idempotent); None if the transaction is unknown."""
        self._check_open()
        known = self._by_ocpp_id.get((station_id, ocpp_id))
        if known is None:
            return None
        tx = self._transactions[known]
        if tx.stop_time is None:
            tx = _replace(
                tx, stop_time=utc(timestamp), meter_stop=float(meter_stop), stop_reason=reason
            )
            self._transactions[known] = tx
        return tx

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
        whether this (transaction, seq_no) was new (see :func:`transaction_after_event`)."""
        self._check_open()
        known = self._by_ocpp_id.get((station_id, ocpp_id))
        old = None if known is None else self._transactions[known]
        if old is not None and (old.id, seq_no) in self._events:
            return old, False
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
        if old is None:
            tx = self._add_transaction(tx)
        else:
            self._transactions[tx.id] = tx
        self._events.add((tx.id, seq_no))
        return tx, True

    async def add_meter_values(self, transaction_id: int, samples: list[MeterSample]) -> int:
        """Store samples of a transaction, skipping stored ones; returns how many were new.

        Raises ``KeyError`` for an unknown transaction."""
        self._check_open()
        if transaction_id not in self._transactions:
            raise KeyError(f"unknown transaction {transaction_id}")
        stored = self._samples.setdefault(transaction_id, [])
        new = 0
        for sample in samples:
            sample = _replace(sample, timestamp=utc(sample.timestamp))
            key = (
                transaction_id,
                sample.timestamp,
                sample.measurand,
                sample.phase,
                sample.location,
                sample.context,
            )
            if key in self._sample_keys:
                continue
            self._sample_keys.add(key)
            stored.append((sample.timestamp, next(self._seq), sample))
            new += 1
        return new

    async def add_transaction_meter_values(
        self,
        station_id: str,
        ocpp_id: str,
        samples: list[MeterSample],
        unknown: EventRecord | None = None,
    ) -> int | None:
        """Samples of a transaction named by its wire id; ``unknown`` to the event log when the
        transaction is not known (returns None)."""
        self._check_open()
        tx_id = self._by_ocpp_id.get((station_id, ocpp_id))
        if tx_id is not None:
            await self.add_meter_values(tx_id, samples)
        elif unknown is not None:
            await self.record_event(unknown)
        return tx_id

    async def meter_values(self, transaction_id: int) -> list[MeterSample]:
        """A transaction's samples in timestamp order (then arrival order)."""
        self._check_open()
        entries = sorted(self._samples.get(transaction_id, ()), key=lambda e: e[:2])
        return [entry[2] for entry in entries]

    async def get_transaction(self, station_id: str, ocpp_id: str) -> TransactionRecord | None:
        """A transaction by its wire id."""
        self._check_open()
        known = self._by_ocpp_id.get((station_id, ocpp_id))
        return None if known is None else self._transactions[known]

    async def list_transactions(self, station_id: str | None = None) -> list[TransactionRecord]:
        """Transactions, newest (``start_time``, then ``id``) first, optionally of one station."""
        self._check_open()
        found = [
            tx
            for tx in self._transactions.values()
            if station_id is None or tx.station_id == station_id
        ]
        found.sort(key=lambda tx: (tx.start_time, tx.id), reverse=True)
        return found

    # message log ------------------------------------------------------------------------------
    async def log_frames(self, frames: list[FrameRecord]) -> None:
        """Append frames to the message log (batched by the caller)."""
        self._check_open()
        for frame in frames:
            frame = _replace(frame, timestamp=utc(frame.timestamp))
            entry = (frame.timestamp, next(self._seq), frame)
            self._frames.setdefault(frame.station_id, []).append(entry)

    async def frames(
        self, station_id: str, limit: int = 100, after: datetime | None = None
    ) -> list[FrameRecord]:
        """The oldest ``limit`` frames of a station strictly after ``after`` (all when None), by
        timestamp then arrival."""
        check_count("limit", limit)
        self._check_open()
        entries = sorted(self._frames.get(station_id, ()), key=lambda e: e[:2])
        if after is not None:
            after = utc(after)
            entries = [entry for entry in entries if entry[0] > after]
        return [entry[2] for entry in entries[:limit]]

    async def prune_frames(self, keep: int, station_ids: Sequence[str] | None = None) -> int:
        """Keep at most ``keep`` frames per station (the newest), of ``station_ids`` only when
        given; returns how many were deleted."""
        check_count("keep", keep)
        self._check_open()
        deleted = 0
        chosen = self._frames if station_ids is None else set(station_ids)
        for station_id in chosen:
            entries = self._frames.get(station_id, [])
            if len(entries) > keep:
                entries.sort(key=lambda e: e[:2])
                deleted += len(entries) - keep
                self._frames[station_id] = entries[len(entries) - keep :]
        return deleted

    # history retention ---------------------------------------------------------------------
    async def prune_history(self, before: datetime) -> int:
        """Delete the status reports and events received before ``before`` by the arrival
        marks (see ``Store.prune_history``; each connector's current status stays); returns how
        many were deleted."""
        self._check_open()
        before = utc(before)
        self._marks.append((utc(self.clock()), next(self._seq)))
        older = [mark for mark in self._marks if mark[0] < before]
        if not older:
            return 0
        at, top = max(older)
        self._marks = [mark for mark in self._marks if mark[0] >= at]
        current = {id(entry) for entry in self._current.values()}
        deleted = 0
        for log in (self._statuses, self._event_log):
            for station_id, entries in log.items():
                kept = [e for e in entries if e[1] >= top or id(e) in current]
                deleted += len(entries) - len(kept)
                log[station_id] = kept  # type: ignore[assignment]
        return deleted

    # events ---------------------------------------------------------------------------------
    async def record_event(self, event: EventRecord) -> None:
        """Append a station message to the event log (``data`` must be JSON-compatible)."""
        self._check_open()
        event = _replace(event, timestamp=utc(event.timestamp), data=json_data(event.data))
        entry = (event.timestamp, next(self._seq), event)
        self._event_log.setdefault(event.station_id, []).append(entry)

    async def events(
        self, station_id: str, kind: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """The newest ``limit`` events of a station (of one ``kind`` when given), newest
        (timestamp, then arrival) first."""
        check_count("limit", limit)
        self._check_open()
        entries = [
            entry
            for entry in self._event_log.get(station_id, ())
            if kind is None or entry[2].kind == kind
        ]
        entries.sort(key=lambda e: e[:2], reverse=True)
        return [entry[2] for entry in entries[:limit]]

    # station credentials --------------------------------------------------------------------------
    async def set_password(self, station_id: str, password_hash: str) -> None:
        """Store a station's (hashed) Basic-auth password, creating the station if new."""
        self._check_open()
        known = self._stations.setdefault(station_id, _Station(StationRecord(id=station_id)))
        known.password_hash = password_hash

    async def get_password(self, station_id: str) -> str | None:
        """A station's password hash, or None."""
        self._check_open()
        known = self._stations.get(station_id)
        return None if known is None else known.password_hash

    async def remove_station(self, station_id: str) -> bool:
        """Forget a station and its credentials (history is kept); False if unknown."""
        self._check_open()
        return self._stations.pop(station_id, None) is not None
