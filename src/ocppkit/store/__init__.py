"""Persistence for the CSMS: one ``Store`` interface, an in-memory fake and SQLite (default).

Every method is awaited and **durable when it returns**: the CSMS sends a CALLRESULT only after
the store call that records the message has returned (``nothing acknowledged is ever lost``).
The writes of a CSMS's busiest messages (``record_status``, ``record_event``,
``add_meter_values``, ``add_transaction_meter_values``) are declared to return an
``Awaitable``: an ``async def`` implements them, and so does a plain method returning an
``asyncio.Future`` — which lets the CSMS answer those messages without a task each
(``AnswerAfter``); ``SqliteStore`` does so. Writes
are idempotent where a charge point may retry after a reconnect:

- 1.6 ``start_transaction``: the same (station, connector, id_tag, timestamp) returns the same
  transaction id, however often it is retried, with the same or a new message id;
- 1.6 ``stop_transaction``: a second stop of a stopped transaction changes nothing;
- 2.x ``transaction_event``: (station, transaction_id, seq_no) is recorded once;
- ``add_meter_values`` / ``add_transaction_meter_values``: identical samples (transaction,
  timestamp, measurand, phase, location, context) are stored once.

Station messages with no table of their own (firmware / diagnostics / log status reports,
security events, DataTransfer, 2.x NotifyReport / NotifyEvent / MeterValues outside
transactions) go to the event log: ``record_event`` appends an ``EventRecord`` (a retried
message is a second event), ``events`` reads it back newest first.

Implementations: ``ocppkit.store.memory.MemoryStore`` (tests) and
``ocppkit.store.sqlite.SqliteStore`` (one file, WAL, versioned migrations, group commit on a
writer thread, so the event loop never blocks on disk). ``tests/store/contract.py`` is the
contract every implementation passes (a PostgreSQL store will too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

__all__ = [
    "ConnectorStatus",
    "EventRecord",
    "FrameRecord",
    "IdTokenRecord",
    "MeterSample",
    "StationRecord",
    "Store",
    "TransactionRecord",
]


class StationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A charge point the CSMS knows: its last boot, version and connection state."""

    id: str
    ocpp_version: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    boot_status: str | None = None  # Accepted / Pending / Rejected of the last boot
    last_boot: datetime | None = None
    last_seen: datetime | None = None
    connected: bool = False


class ConnectorStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One status report: 1.6 connector (evse_id 0) or 2.x EVSE + connector."""

    station_id: str
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None = None
    info: str | None = None
    timestamp: datetime


class IdTokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An id token (1.6 idTag) and what the CSMS answers for it."""

    token: str
    status: str = "Accepted"  # Accepted / Blocked / Expired / Invalid …
    expiry: datetime | None = None
    parent: str | None = None  # 1.6 parentIdTag / 2.x groupIdToken
    token_type: str | None = None  # 2.x IdTokenEnumType


class TransactionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A charging session. ``id`` is the CSMS's; ``ocpp_id`` the one on the wire (1.6: the
    integer the CSMS assigned, as a string; 2.x: the station's transactionId)."""

    id: int
    station_id: str
    ocpp_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    start_time: datetime
    meter_start: float | None = None  # Wh
    stop_time: datetime | None = None
    meter_stop: float | None = None  # Wh
    stop_reason: str | None = None
    last_seq_no: int | None = None  # 2.x

    @property
    def energy_wh(self) -> float | None:
        """Energy delivered, when both meter readings are known."""
        if self.meter_start is None or self.meter_stop is None:
            return None
        return self.meter_stop - self.meter_start


class MeterSample(msgspec.Struct, frozen=True, kw_only=True):
    """One sampled value, flattened from a meterValue / sampledValue pair."""

    timestamp: datetime
    value: str
    measurand: str = "Energy.Active.Import.Register"
    phase: str | None = None
    unit: str | None = None
    context: str | None = None
    location: str | None = None


class FrameRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One websocket message of the message log."""

    station_id: str
    direction: Literal["in", "out"]
    timestamp: datetime
    frame: str


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One station message kept as it came: ``kind`` is its OCPP action (``DataTransfer`` …),
    ``data`` the request payload in wire form (camelCase names, JSON values), ``timestamp`` the
    message's own time when it has one, else when the CSMS received it."""

    station_id: str
    kind: str
    timestamp: datetime
    data: dict[str, Any]


class Store(Protocol):
    """What the CSMS persists. Methods return once the data is durable."""

    clock: Callable[[], datetime]
    """The store's time source (UTC): when it received what, for ``prune_history``."""

    async def open(self) -> None:
        """Create or migrate the schema; start background work."""
        ...

    async def close(self) -> None:
        """Flush and release everything."""
        ...

    # stations ---------------------------------------------------------------------------------
    async def record_boot(self, station: StationRecord) -> None:
        """Store a station's boot information (creating the station if new)."""
        ...

    async def set_connected(self, station_id: str, connected: bool, when: datetime) -> None:
        """Mark a station connected or not (creating it if new); updates ``last_seen``."""
        ...

    def touch(self, station_id: str, when: datetime) -> None:
        """Update ``last_seen`` of a known station (an unknown one is ignored). Not awaited:
        reads see it at once, the store may write it behind and batched (``last_seen`` is
        bookkeeping, not acknowledged data, so a crash may lose the latest touches)."""
        ...

    async def get_station(self, station_id: str) -> StationRecord | None:
        """One station, or None."""
        ...

    async def list_stations(self) -> list[StationRecord]:
        """Every known station, by id."""
        ...

    # statuses -----------------------------------------------------------------------------------
    def record_status(self, status: ConnectorStatus) -> Awaitable[None]:
        """Append a status report to the history (the latest per connector is the current one)."""
        ...

    async def current_statuses(self, station_id: str) -> list[ConnectorStatus]:
        """The latest status of each (evse, connector) of a station."""
        ...

    async def status_history(self, station_id: str, limit: int = 100) -> list[ConnectorStatus]:
        """The newest ``limit`` status reports of a station, newest first."""
        ...

    # id tokens ------------------------------------------------------------------------------------
    async def put_token(self, token: IdTokenRecord) -> None:
        """Create or replace an id token."""
        ...

    async def get_token(self, token: str) -> IdTokenRecord | None:
        """One id token, or None (unknown)."""
        ...

    async def delete_token(self, token: str) -> bool:
        """Remove an id token; False if it did not exist."""
        ...

    async def list_tokens(self) -> list[IdTokenRecord]:
        """Every id token, by token."""
        ...

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
        ...

    async def stop_transaction(
        self,
        station_id: str,
        ocpp_id: str,
        meter_stop: float,
        timestamp: datetime,
        reason: str | None,
    ) -> TransactionRecord | None:
        """1.6 StopTransaction: close it (idempotent); None if the transaction is unknown."""
        ...

    async def transaction_event(
        self,
        station_id: str,
        ocpp_id: str,
        seq_no: int,
        event_type: Literal["Started", "Updated", "Ended"],
        timestamp: datetime,
        *,
        evse_id: int = 0,
        connector_id: int = 0,
        id_token: str | None = None,
        meter_wh: float | None = None,
        stop_reason: str | None = None,
    ) -> tuple[TransactionRecord, bool]:
        """2.x TransactionEvent: create / update / end the transaction ``ocpp_id``; returns it and
        whether this (transaction, seq_no) was new. An event for an unknown transaction (e.g. the
        Started was lost) creates it. ``meter_wh`` sets meter_start on the first event and
        meter_stop on Ended."""
        ...

    def add_meter_values(self, transaction_id: int, samples: list[MeterSample]) -> Awaitable[int]:
        """Store samples of a transaction, skipping stored ones; returns how many were new."""
        ...

    def add_transaction_meter_values(
        self,
        station_id: str,
        ocpp_id: str,
        samples: list[MeterSample],
        unknown: EventRecord | None = None,
    ) -> Awaitable[int | None]:
        """Store samples of the station's transaction with wire id ``ocpp_id`` (as
        ``add_meter_values``) and return its store id; when the store knows no such transaction,
        record ``unknown`` in the event log instead (if given) and return None. One write: the
        look-up and the insert see the same state."""
        ...

    async def meter_values(self, transaction_id: int) -> list[MeterSample]:
        """A transaction's samples in timestamp order."""
        ...

    async def get_transaction(self, station_id: str, ocpp_id: str) -> TransactionRecord | None:
        """A transaction by its wire id."""
        ...

    async def list_transactions(self, station_id: str | None = None) -> list[TransactionRecord]:
        """Transactions, newest first, optionally of one station."""
        ...

    # message log ------------------------------------------------------------------------------
    async def log_frames(self, frames: list[FrameRecord]) -> None:
        """Append frames to the message log (batched by the caller)."""
        ...

    async def frames(
        self, station_id: str, limit: int = 100, after: datetime | None = None
    ) -> list[FrameRecord]:
        """The oldest ``limit`` frames of a station after ``after`` (all when None), in order."""
        ...

    async def prune_frames(self, keep: int, station_ids: Sequence[str] | None = None) -> int:
        """Keep at most ``keep`` frames per station (only of ``station_ids`` when given);
        returns how many were deleted."""
        ...

    # history retention ---------------------------------------------------------------------
    async def prune_history(self, before: datetime) -> int:
        """Delete the status reports and events the store *received* before ``before`` (by its
        ``clock``, never by their timestamps: a station's clock may be years off); each
        connector's current status stays, however old. Returns how many were deleted.

        Receipt is known to the granularity of these calls: each one first records an *arrival
        mark* (the time, and what has arrived so far), and what arrived before the newest mark
        older than ``before`` goes. So call it periodically (``Csms`` does, hourly): a row goes
        at most one period after ``before`` passes it. Transactions and their meter values are
        never pruned."""
        ...

    # events ---------------------------------------------------------------------------------
    def record_event(self, event: EventRecord) -> Awaitable[None]:
        """Append a station message to the event log (``data`` must be JSON-compatible)."""
        ...

    async def events(
        self, station_id: str, kind: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        """The newest ``limit`` events of a station (of one ``kind`` when given), newest first."""
        ...

    # station credentials --------------------------------------------------------------------------
    async def set_password(self, station_id: str, password_hash: str) -> None:
        """Store a station's (hashed) Basic-auth password, creating the station if new."""
        ...

    async def get_password(self, station_id: str) -> str | None:
        """A station's password hash, or None."""
        ...

    async def remove_station(self, station_id: str) -> bool:
        """Forget a station and its credentials (history is kept); False if unknown."""
        ...
