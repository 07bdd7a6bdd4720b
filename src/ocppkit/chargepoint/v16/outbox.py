"""The durable outbox of transaction-related messages (1.6 §3.7, §3.7.1, errata 3.18) and
security events (Security Whitepaper: SecurityEventNotification is queued like them).

StartTransaction, StopTransaction and transaction MeterValues are **stored before they are
sent** (``StateStore.enqueue``), then delivered one at a time in the order they were queued,
whenever the charge point is online and its boot is accepted; a power loss in between loses
nothing, and the queue is delivered after the next boot.

- **Retries.** A CALLERROR or no answer within the timeout is a failure to process: the message
  is sent again after ``TransactionMessageRetryInterval × (transmissions so far)`` seconds, up to
  ``TransactionMessageAttempts`` transmissions in all; then it is discarded and delivery goes on
  with the next one. Being offline is not a failure: delivery waits for the connection and
  counts nothing. Attempts are persisted with the message. A CALLERROR NotImplemented or
  NotSupported discards the message at once: that CSMS will never take it (a 1.6 CSMS without
  the Security Whitepaper and SecurityEventNotification).
- **Transaction ids.** A queued message refers to its transaction by the stack's own local id;
  the CSMS's ``transactionId`` is filled in when the message is sent, from the StartTransaction
  answer (kept in state namespace ``"tx_ids"``). When the StartTransaction was discarded, the
  later messages carry ``transactionId = -1`` (errata 3.18).
- **Answers.** ``on_result(entry, response)`` runs for every delivered message before it leaves
  the queue (StartTransaction: the transactionId is stored first), so a crash in between
  delivers it again rather than losing its answer — the CSMS's idempotence covers the repeat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ocppkit.chargepoint.runtime import Clock, Handle, Scheduler
from ocppkit.chargepoint.state import StateChanges, StateStore
from ocppkit.messages import v16
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    NotImplementedCallError,
    NotSupportedError,
    PayloadValidationError,
)

__all__ = ["Outbox", "OutboxEntry", "UNKNOWN_TRANSACTION_ID"]

log = logging.getLogger("ocppkit.chargepoint")

UNKNOWN_TRANSACTION_ID = -1
"""``transactionId`` of messages whose StartTransaction was never answered (errata 3.18)."""

_TYPES: dict[str, type[OcppRequest[Any]]] = {
    "StartTransaction": v16.StartTransactionRequest,
    "StopTransaction": v16.StopTransactionRequest,
    "MeterValues": v16.MeterValuesRequest,
    "SecurityEventNotification": v16.SecurityEventNotificationRequest,
}
_TX_IDS = "tx_ids"


@dataclass
class OutboxEntry:
    """One queued message."""

    item_id: int
    action: str
    payload: dict[str, Any]
    tx: str | None
    attempts: int = 0

    def request(self, transaction_id: int | None) -> OcppRequest[Any]:
        """The typed request, with the CSMS's transaction id filled in."""
        payload = dict(self.payload)
        if self.tx is not None and self.action != "StartTransaction":
            payload["transactionId"] = (
                UNKNOWN_TRANSACTION_ID if transaction_id is None else transaction_id
            )
        request: OcppRequest[Any] = msgspec.convert(payload, _TYPES[self.action])
        return request

    def stored(self) -> dict[str, Any]:
        """The JSON value kept in the queue."""
        return {
            "action": self.action,
            "payload": self.payload,
            "tx": self.tx,
            "attempts": self.attempts,
        }


ResultHook = Callable[[OutboxEntry, Any], Awaitable[None]]


class Outbox:
    """Stores, orders and delivers transaction messages (see the module docstring).

    ``ready()`` says whether messages may go out now (online, boot accepted); call ``kick()``
    whenever that may have become true. ``call(request)`` sends a CALL (the stack's
    ``StackContext.call``, which also notes the time for the heartbeat). ``attempts()`` /
    ``retry_interval()`` read ``TransactionMessageAttempts`` / ``TransactionMessageRetryInterval``.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        call: Callable[[OcppRequest[Any]], Awaitable[Any]],
        clock: Clock,
        scheduler: Scheduler,
        ready: Callable[[], bool],
        attempts: Callable[[], int],
        retry_interval: Callable[[], int],
        on_result: ResultHook,
    ) -> None:
        self.store = store
        self._call = call
        self._clock = clock
        self._scheduler = scheduler
        self._ready = ready
        self._attempts = attempts
        self._retry_interval = retry_interval
        self._on_result = on_result
        self._entries: list[OutboxEntry] = []
        self._tx_ids: dict[str, int] = {}
        self._running = False
        self._not_before = 0.0
        self._retry: Handle | None = None
        self.delivered = 0
        self.discarded = 0
        self._empty_waiters: list[Callable[[], None]] = []
        self._stopped = False

    async def open(self) -> None:
        """Load what was queued before a restart."""
        self._entries = [
            OutboxEntry(item_id, v["action"], v["payload"], v.get("tx"), v.get("attempts", 0))
            for item_id, v in await self.store.queued()
        ]
        self._tx_ids = {k: int(v) for k, v in (await self.store.load(_TX_IDS)).items()}

    # -- what is queued --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[OutboxEntry]:
        """The queued messages, oldest first."""
        return list(self._entries)

    def when_empty(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once nothing is queued (at once if nothing is)."""
        if self._entries:
            self._empty_waiters.append(callback)
        else:
            callback()

    def has_tx(self, tx: str) -> bool:
        """True if a message of local transaction ``tx`` is queued."""
        return any(e.tx == tx for e in self._entries)

    def transaction_id(self, tx: str) -> int | None:
        """The CSMS's id of local transaction ``tx``, once its StartTransaction was answered
        (``UNKNOWN_TRANSACTION_ID`` when it was discarded)."""
        return self._tx_ids.get(tx)

    # -- queueing --------------------------------------------------------------------------------
    async def put(
        self,
        request: OcppRequest[Any],
        *,
        tx: str | None,
        state: StateChanges | None = None,
    ) -> None:
        """Store ``request`` (with ``state`` changes, atomically), then deliver in turn."""
        action = type(request).__name__.removesuffix("Request")
        if action not in _TYPES:
            raise ValueError(f"{action} is not a message of the durable queue")
        payload: dict[str, Any] = msgspec.to_builtins(request)
        entry = OutboxEntry(0, action, payload, tx)
        entry.item_id = await self.store.enqueue(entry.stored(), state=state)
        self._entries.append(entry)
        self.kick()

    async def forget_tx(self, tx: str) -> None:
        """Drop the transaction-id mapping of a finished transaction with nothing queued."""
        if tx in self._tx_ids and not self.has_tx(tx):
            del self._tx_ids[tx]
            await self.store.delete(_TX_IDS, tx)

    # -- delivery --------------------------------------------------------------------------------
    def kick(self) -> None:
        """Deliver what is queued, if possible now (a no-op while delivery runs)."""
        if self._stopped or self._running or not self._entries or not self._ready():
            return
        wait = self._not_before - self._clock.monotonic()
        if wait > 0:
            if self._retry is None:
                self._retry = self._scheduler.call_later(wait, self._retry_due)
            return
        self._running = True
        self._scheduler.spawn(self._deliver(), "ocppkit outbox")

    def stop(self) -> None:
        """No more deliveries (what is queued stays queued); cancels the retry timer."""
        self._stopped = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _retry_due(self) -> None:
        self._retry = None
        self.kick()

    async def _deliver(self) -> None:
        try:
            while self._entries and self._ready() and not self._stopped:
                if not await self._send(self._entries[0]):
                    return
        finally:
            self._running = False

    async def _send(self, entry: OutboxEntry) -> bool:
        """Send the oldest message; False to stop delivering for now."""
        request = entry.request(self._tx_ids.get(entry.tx) if entry.tx else None)
        try:
            response = await self._call(request)
        except ConnectionClosedError:  # offline, or the connection dropped during the call
            return False
        except (CallError, CallTimeoutError, PayloadValidationError) as exc:
            entry.attempts += 1
            if isinstance(exc, NotImplementedCallError | NotSupportedError):
                log.warning("%s discarded: the CSMS does not take it (%s)", entry.action, exc)
                await self._drop(entry, discarded=True)
                return True
            if entry.attempts >= max(self._attempts(), 1):
                log.warning("%s discarded after %d attempts: %s", entry.action, entry.attempts, exc)
                await self._drop(entry, discarded=True)
                return True
            await self.store.update(entry.item_id, entry.stored())
            delay = self._retry_interval() * entry.attempts
            log.info("%s failed (%s); retrying in %d s", entry.action, exc, delay)
            self._not_before = self._clock.monotonic() + delay
            self._retry = self._scheduler.call_later(delay, self._retry_due)
            return False
        if entry.action == "StartTransaction" and entry.tx is not None:
            await self._learn_id(entry.tx, response.transaction_id)
        try:
            await self._on_result(entry, response)
        except Exception:  # the answer is in: never send the message again for this
            log.exception("handling the answer to %s failed", entry.action)
        await self._drop(entry, discarded=False)
        return True

    async def _learn_id(self, tx: str, transaction_id: int) -> None:
        self._tx_ids[tx] = transaction_id
        await self.store.put(_TX_IDS, tx, transaction_id)

    async def _drop(self, entry: OutboxEntry, *, discarded: bool) -> None:
        if discarded and entry.action == "StartTransaction" and entry.tx is not None:
            await self._learn_id(entry.tx, UNKNOWN_TRANSACTION_ID)
        await self.store.dequeue(entry.item_id)
        self._entries.remove(entry)
        if not self._entries:
            waiters, self._empty_waiters = self._empty_waiters, []
            for waiter in waiters:
                waiter()
        if discarded:
            self.discarded += 1
        else:
            self.delivered += 1
        if entry.tx is not None and entry.action == "StopTransaction":
            await self.forget_tx(entry.tx)
