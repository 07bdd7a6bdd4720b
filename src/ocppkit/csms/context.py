"""What the CSMS's default handlers share: the store, the policies, the clock, the hooks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, TypeVar, overload

import msgspec

from ocppkit.messages import OcppRequest
from ocppkit.runtime.router import AnswerAfter
from ocppkit.store import EventRecord, IdTokenRecord, StationRecord, Store, TransactionRecord

log = logging.getLogger("ocppkit.csms")

__all__ = [
    "BootDecision",
    "BootHook",
    "BootPolicy",
    "CsmsContext",
    "accept_all",
    "answer_after",
    "boot_rate_limit",
    "known_only",
    "stored_event_handler",
]

R = TypeVar("R")

BootDecision: TypeAlias = Literal["Accepted", "Pending", "Rejected"]
BootPolicy: TypeAlias = Callable[[str, StationRecord | None], Awaitable[BootDecision]]
"""``async (identity, known station record or None) -> Accepted / Pending / Rejected``."""
BootHook: TypeAlias = Callable[[StationRecord], Awaitable[None]]
"""Called after each BootNotification was stored (and before it is answered)."""


async def accept_all(identity: str, known: StationRecord | None) -> BootDecision:
    """Boot policy: accept every station."""
    return "Accepted"


async def known_only(identity: str, known: StationRecord | None) -> BootDecision:
    """Boot policy: accept stations the store knows (``ocppkit stations add``), reject others."""
    return "Accepted" if known is not None else "Rejected"


def boot_rate_limit(
    max_boots: int,
    per_seconds: float,
    then: BootPolicy = accept_all,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> BootPolicy:
    """Boot policy against boot storms (a power cut ends, thousands of stations boot at once):
    at most ``max_boots`` boots are decided by ``then`` within any ``per_seconds`` window; the
    others are answered Pending, so the station retries after the retry interval."""
    if max_boots < 1 or per_seconds <= 0:
        raise ValueError("max_boots must be >= 1 and per_seconds > 0")
    recent: deque[float] = deque()

    async def policy(identity: str, known: StationRecord | None) -> BootDecision:
        now = clock()
        while recent and recent[0] <= now - per_seconds:
            recent.popleft()
        if len(recent) >= max_boots:
            return "Pending"
        recent.append(now)
        return await then(identity, known)

    return policy


def answer_after(written: Awaitable[Any], response: R) -> AnswerAfter[R]:
    """A plain handler's answer ``response``, sent once the store call ``written`` is done:
    without a task when the store returned a future (``SqliteStore``), in one otherwise."""
    return AnswerAfter(asyncio.ensure_future(written), response)


def utc_now() -> datetime:
    """The current time, UTC, to the millisecond (OCPP 2.x allows at most 3 fraction digits)."""
    # exact: a whole number of milliseconds over 1000 is within 1 µs of its float, and
    # fromtimestamp rounds to the microsecond (3x cheaper than now().replace(microsecond=…))
    return datetime.fromtimestamp(time.time_ns() // 1_000_000 / 1000, UTC)


@dataclass
class CsmsContext:
    """The explicit dependencies of every default handler."""

    store: Store
    heartbeat_interval: int = 300
    pending_interval: int = 30
    boot_policy: BootPolicy = accept_all
    clock: Callable[[], datetime] = utc_now
    accepted: set[str] = field(default_factory=set)
    heartbeat_overrides: dict[str, int] = field(default_factory=dict)
    on_boot: list[BootHook] = field(default_factory=list)
    known_transactions: dict[tuple[str, str], int] = field(default_factory=dict)
    """(station, wire transaction id) -> store id of transactions seen lately (bounded)."""
    known_transactions_max: int = 10_000

    def remember_transaction(self, tx: TransactionRecord) -> None:
        """Note a transaction's store id, so its meter values need no look-up."""
        self.remember(tx.station_id, tx.ocpp_id, tx.id)

    def remember(self, identity: str, ocpp_id: str, tx_id: int) -> None:
        """Note the store id of a station's transaction by its wire id (bounded, oldest out)."""
        known = self.known_transactions
        if len(known) >= self.known_transactions_max:
            del known[next(iter(known))]  # the oldest entry
        known[(identity, ocpp_id)] = tx_id

    async def token_verdict(self, token: str) -> tuple[str, IdTokenRecord | None]:
        """The authorization status of a token: its own, Expired past expiry, Invalid if unknown."""
        record = await self.store.get_token(token)
        if record is None:
            return "Invalid", None
        if record.expiry is not None and record.expiry <= self.clock():
            return "Expired", record
        return record.status, record

    async def boot(self, record: StationRecord) -> BootDecision:
        """Decide, store and announce a boot (the gate tracks acceptance from the answer)."""
        known = await self.store.get_station(record.id)
        decision = await self.boot_policy(record.id, known)
        now = self.clock()
        stored = msgspec.structs.replace(
            record, boot_status=decision, last_boot=now, last_seen=now, connected=True
        )
        await self.store.record_boot(stored)
        log.info(
            "%s booted (OCPP %s, %s %s): %s",
            record.id,
            record.ocpp_version,
            record.vendor,
            record.model,
            decision,
        )
        for hook in self.on_boot:
            await hook(stored)
        return decision

    def record_event(
        self,
        identity: str,
        action: str,
        request: OcppRequest[Any],
        timestamp: datetime | None = None,
    ) -> Awaitable[None]:
        """Store a station message in the event log: kind ``action``, the request payload in
        wire form (camelCase, as sent), at the message's own ``timestamp`` (now when None)."""
        return self.store.record_event(self.event(identity, action, request, timestamp))

    def event(
        self,
        identity: str,
        action: str,
        request: OcppRequest[Any],
        timestamp: datetime | None = None,
    ) -> EventRecord:
        """The event-log record of a station message (see ``record_event``)."""
        data: dict[str, Any] = msgspec.to_builtins(request)  # wire names, absent fields left out
        return EventRecord(
            station_id=identity,
            kind=action,
            timestamp=timestamp if timestamp is not None else self.clock(),
            data=data,
        )

    def interval(self, decision: BootDecision, identity: str) -> int:
        """The station's heartbeat interval when accepted, the retry interval otherwise."""
        if decision != "Accepted":
            return self.pending_interval
        return self.heartbeat_overrides.get(identity, self.heartbeat_interval)


@overload
def stored_event_handler(
    ctx: CsmsContext, action: str, response: Callable[[Any], R], time_field: str | None
) -> Callable[[Any, Any], AnswerAfter[R]]: ...


@overload
def stored_event_handler(
    ctx: CsmsContext, action: str, response: R, time_field: str | None
) -> Callable[[Any, Any], AnswerAfter[R]]: ...


def stored_event_handler(
    ctx: CsmsContext, action: str, response: Any, time_field: str | None
) -> Callable[[Any, Any], AnswerAfter[Any]]:
    """A handler that stores the request in the event log (timestamped by ``time_field`` of the
    request, or the clock), then answers ``response`` — or ``response(request)`` when it is a
    function of the request."""

    def handler(request: Any, conn: Any) -> AnswerAfter[Any]:
        timestamp = getattr(request, time_field) if time_field else None
        return answer_after(ctx.record_event(conn.identity, action, request, timestamp), response)

    def answering(request: Any, conn: Any) -> AnswerAfter[Any]:
        timestamp = getattr(request, time_field) if time_field else None
        written = ctx.record_event(conn.identity, action, request, timestamp)
        return answer_after(written, response(request))

    return answering if callable(response) else handler
