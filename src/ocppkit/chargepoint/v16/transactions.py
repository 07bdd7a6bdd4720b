"""Transactions (1.6 §3.5–3.7, §4.x): start and stop on their triggers, meter values, power loss.

- **Start** when a connector is plugged *and* a token is authorised for it, in either order. A
  token presented before the plug waits ``ConnectionTimeOut`` seconds for it (then the
  authorisation lapses, Preparing -> Available). ``present_token`` without a connector picks the
  only plugged connector without a transaction, else the token waits for the first plug.
- **Stop**: the same token again, or one of the same group (``parentIdTag``) -> Local; the EV
  unplugged -> EVDisconnected when ``StopTransactionOnEVSideDisconnect`` (else the transaction
  goes on, SuspendedEV); RemoteStop -> Remote; reset -> SoftReset / HardReset; unlock ->
  UnlockCommand; StartTransaction answered with a non-Accepted idTagInfo -> DeAuthorized when
  ``StopTransactionOnInvalidId`` (else energy is only stopped); an open transaction found at
  start-up -> PowerLoss, with the last persisted meter reading and its time.
- **Meter values**: every ``MeterValueSampleInterval`` s of a transaction, the latest readings
  selected by ``MeterValuesSampledData`` go out as MeterValues (context Sample.Periodic);
  clock-aligned ones every ``ClockAlignedDataInterval`` s from midnight UTC (``MeterValuesAligned
  Data``, Sample.Clock; queued like the others while a transaction runs, sent best-effort
  otherwise). ``StopTxnSampledData`` / ``StopTxnAlignedData`` readings (plus Transaction.Begin /
  End values) are collected into StopTransaction's ``transactionData`` and persisted with the
  transaction, so they survive a reboot.

The transaction record (namespace ``"transactions"``, key = connector) is written before the
StartTransaction is queued, and removed in the same atomic write that queues the
StopTransaction, so a transaction is never stopped twice nor lost.

Reservations (``reservations``): a token starts on a reserved connector only if it matches the
reservation; the StartTransaction carries the reservationId it uses up, queued in the same atomic
write that ends the reservation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import msgspec

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.state import dump_time, load_time
from ocppkit.chargepoint.v16.authorization import tag_key
from ocppkit.chargepoint.v16.callbacks import TransactionInfo
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.chargepoint.v16.meter import Reading, energy_wh, meter_value
from ocppkit.chargepoint.v16.outbox import OutboxEntry
from ocppkit.chargepoint.v16.reservations import Reservations
from ocppkit.messages import v16

__all__ = ["Transactions"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "transactions"
_Waiting = tuple[str, v16.IdTagInfo | None, Handle | None, v16.ChargingProfile | None]
"""A token waiting for a plug: idTag, its info, the timeout, a remote start's profile."""


class Transactions:
    """The transactions of every connector."""

    def __init__(self, ctx: StackContext, reservations: Reservations) -> None:
        self.ctx = ctx
        self.reservations = reservations
        self.open: dict[int, dict[str, Any]] = {}
        self.readings: dict[int, dict[tuple[str, str | None, str | None], Reading]] = {}
        self._lock = ctx.scheduler.lock()  # one change of transactions at a time
        self._waiting: dict[int | None, _Waiting] = {}
        self._samplers: dict[int, Handle] = {}
        self._aligned: Handle | None = None
        self.on_stopped: Callable[[int], Awaitable[None]] | None = None
        """Called after a transaction stopped (availability scheduled behind it …)."""
        self.on_started: Callable[[int, v16.ChargingProfile | None], Awaitable[None]] | None = None
        """Called when a transaction started, before energy is offered, with the remote start's
        charging profile (smart charging installs it and applies the limits)."""

    # -- start-up ----------------------------------------------------------------------------------
    async def recover(self) -> None:
        """Close what a power loss left open (reason PowerLoss, last persisted reading)."""
        for key, record in (await self.ctx.store.load(_NS)).items():
            connector = int(key)  # its StopTransaction would have removed it in the same write
            self.open[connector] = record
            when = load_time(record["lastAt"])
            await self._stop(connector, "PowerLoss", None, meter=record["lastWh"], at=when)

    def schedule_aligned(self) -> None:
        """(Re)arm the clock-aligned timer from ``ClockAlignedDataInterval``."""
        if self._aligned is not None:
            self._aligned.cancel()
            self._aligned = None
        interval = self.ctx.config.get_int("ClockAlignedDataInterval") or 0
        if interval <= 0:
            return
        now = self.ctx.clock.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        elapsed = (now - midnight).total_seconds()
        delay = interval - (elapsed % interval)
        self._aligned = self.ctx.scheduler.call_later(delay, self._aligned_due)

    def cancel_timers(self) -> None:
        """Stop sampling, the clock-aligned timer and ConnectionTimeOut waits (at close)."""
        for handle in [*self._samplers.values(), self._aligned]:
            if handle is not None:
                handle.cancel()
        self._samplers.clear()
        self._aligned = None
        for _, _, handle, _ in self._waiting.values():
            if handle is not None:
                handle.cancel()

    # -- what the integrator reports ---------------------------------------------------------
    def meter(self, connector_id: int, readings: list[Reading]) -> None:
        """New readings of a connector (each replaces the last of its measurand/phase/location)."""
        known = self.readings.setdefault(connector_id, {})
        for reading in readings:
            known[reading.key()] = reading

    async def sample_now(self, connector_id: int) -> None:
        """Take a periodic sample now (as ``MeterValueSampleInterval`` would): queued
        MeterValues and StopTxnSampledData while a transaction runs, best effort otherwise."""
        await self._sample(
            connector_id, "MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic"
        )

    def energy(self, connector_id: int) -> float:
        """The connector's energy register (Wh; 0 before any reading)."""
        return energy_wh(self.readings.get(connector_id, {}).values()) or 0.0

    async def present_token(self, id_tag: str, connector_id: int | None = None) -> bool:
        """A token was presented: stops the transaction it may stop, or authorises a start.
        Returns whether the token was accepted."""
        async with self._lock:
            return await self._present_token(id_tag, connector_id)

    async def _present_token(self, id_tag: str, connector_id: int | None) -> bool:
        for connector, record in list(self.open.items()):
            if connector_id not in (None, connector):
                continue
            if await self._may_stop(record, id_tag) and self.open.get(connector) is record:
                await self._stop_open(connector, "Local", id_tag=id_tag)
                return True
        if connector_id is not None and not self.startable(connector_id):
            return False  # Unavailable or Faulted: no new transaction there
        reservations = self.reservations
        if reservations.refuses_unauthorized(id_tag, connector_id):
            return False  # reserved for another idTag (no group to look up: no Authorize)
        decision = await self.ctx.authorize(id_tag)
        if not decision.accepted:
            return False
        parent = decision.parent_id_tag
        target = connector_id if connector_id is not None else self._pick(id_tag, parent)
        if not reservations.admits_token(target, id_tag, parent):
            return False
        if target is not None and self.ctx.connectors.facts[target].plugged:
            if target in self.open or not self.startable(target):
                return False
            await self._start(target, id_tag, decision.info)
            return True
        self.wait_for_plug(target, id_tag, decision.info)
        return True

    def startable(self, connector_id: int) -> bool:
        """May a transaction start on the connector now (neither it nor the charge point
        Unavailable or Faulted)?"""
        blocked = ("Unavailable", "Faulted")
        connectors = self.ctx.connectors
        return (
            connectors.status(connector_id) not in blocked and connectors.status(0) not in blocked
        )

    def wait_for_plug(
        self,
        connector_id: int | None,
        id_tag: str,
        info: v16.IdTagInfo | None,
        profile: v16.ChargingProfile | None = None,
    ) -> None:
        """An accepted token waits for a plug (``ConnectionTimeOut`` seconds); ``profile``: a
        remote start's charging profile for the transaction."""
        self._cancel_wait(connector_id)
        timeout = self.ctx.config.get_int("ConnectionTimeOut") or 0
        handle = (
            self.ctx.scheduler.call_later(timeout, lambda: self._wait_expired(connector_id))
            if timeout > 0
            else None
        )
        self._waiting[connector_id] = (id_tag, info, handle, profile)
        targets = self._targets(connector_id)
        for n in targets:
            self.ctx.connectors.facts[n].authorized = True
        # the holder's token: Reserved -> Preparing
        self.reservations.presented(connector_id, id_tag, info.parent_id_tag if info else None)
        for n in targets:
            self.ctx.connectors.changed(n)

    async def plugged(self, connector_id: int) -> None:
        """A cable was plugged in: starts a transaction when a token waits for it."""
        async with self._lock:
            await self._plugged(connector_id)

    async def _plugged(self, connector_id: int) -> None:
        facts = self.ctx.connectors.facts[connector_id]
        facts.plugged = True
        facts.finishing = False
        waiting = self._waiting.get(connector_id) or self._waiting.get(None)
        if waiting is not None:
            parent = waiting[1].parent_id_tag if waiting[1] else None
            if not self.reservations.admits(connector_id, waiting[0], parent, lenient=True):
                waiting = None  # the connector is reserved for another idTag
        if waiting is not None and connector_id not in self.open and self.startable(connector_id):
            key = connector_id if connector_id in self._waiting else None
            self._cancel_wait(key)
            await self._start(connector_id, waiting[0], waiting[1], profile=waiting[3])
            return
        self.ctx.connectors.changed(connector_id)

    async def unplugged(self, connector_id: int) -> None:
        """The cable was unplugged (at the EV side while a transaction runs)."""
        async with self._lock:
            await self._unplugged(connector_id)

    async def _unplugged(self, connector_id: int) -> None:
        """The cable was unplugged (at the EV side while a transaction runs)."""
        facts = self.ctx.connectors.facts[connector_id]
        facts.plugged = False
        facts.finishing = False
        if connector_id in self.open:
            if self.ctx.config.get_bool("StopTransactionOnEVSideDisconnect") is not False:
                await self._stop_open(connector_id, "EVDisconnected")
                if self.ctx.config.get_bool("UnlockConnectorOnEVSideDisconnect"):
                    await self.ctx.callbacks.unlock(connector_id)
                return
            facts.ev_suspended = True
        self.ctx.connectors.changed(connector_id)

    # -- start / stop ----------------------------------------------------------------------------
    async def start(
        self,
        connector_id: int,
        id_tag: str,
        info: v16.IdTagInfo | None = None,
        reservation_id: int | None = None,
        profile: v16.ChargingProfile | None = None,
    ) -> TransactionInfo:
        """Start a transaction now (the token is authorised): record, queue, offer energy
        (``profile``: a remote start's charging profile for it)."""
        async with self._lock:
            return await self._start(connector_id, id_tag, info, reservation_id, profile)

    async def _start(
        self,
        connector_id: int,
        id_tag: str,
        info: v16.IdTagInfo | None = None,
        reservation_id: int | None = None,
        profile: v16.ChargingProfile | None = None,
    ) -> TransactionInfo:
        if connector_id in self.open:
            raise ValueError(f"a transaction already runs on connector {connector_id}")
        if not self.startable(connector_id):
            status = self.ctx.connectors.status(connector_id)
            raise ValueError(f"connector {connector_id} is {status}: no transaction can start")
        parent = info.parent_id_tag if info else None
        if not self.reservations.admits(connector_id, id_tag, parent, lenient=True):
            raise ValueError(f"connector {connector_id} is reserved for another idTag")
        reservation = self.reservations.claim(connector_id, id_tag, parent)
        if reservation is not None:
            reservation_id = reservation.reservation_id
        now = self.ctx.clock.now()
        meter_start = round(self.energy(connector_id))
        record: dict[str, Any] = {
            "local": uuid.uuid4().hex,
            "connector": connector_id,
            "idTag": id_tag,
            "parent": info.parent_id_tag if info else None,
            "meterStart": meter_start,
            "start": dump_time(now),
            "reservationId": reservation_id,
            "stopData": [],
            "lastWh": float(meter_start),
            "lastAt": dump_time(now),
        }
        self._collect(record, "StopTxnSampledData", "Transaction.Begin", now)
        request = v16.StartTransactionRequest(
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            timestamp=now,
            reservation_id=reservation_id,
        )
        # the record and its StartTransaction in one atomic write: a power loss leaves both or
        # neither, so recovery never stops a transaction whose start was never queued
        state: dict[tuple[str, str], Any] = {(_NS, str(connector_id)): record}
        if reservation is not None:
            state.update(self.reservations.ending(reservation))
        await self.ctx.outbox.put(request, tx=record["local"], state=state)
        self.open[connector_id] = record
        facts = self.ctx.connectors.facts[connector_id]
        facts.transaction, facts.authorized, facts.finishing = True, False, False
        self.ctx.connectors.changed(connector_id)
        if reservation is not None:
            self.reservations.used(reservation)
        self._arm_sampler(connector_id)
        if self.on_started is not None:
            await self.on_started(connector_id, profile)
        await self.ctx.callbacks.set_energy(connector_id, True)
        tx = self.info(record)
        log.info("connector %d: transaction %s started by %s", connector_id, tx.local_id, id_tag)
        self.ctx.callbacks.transaction_started(tx)
        return tx

    async def stop(
        self, connector_id: int, reason: v16.Reason, *, id_tag: str | None = None
    ) -> TransactionInfo | None:
        """Stop the connector's transaction (None when none runs)."""
        async with self._lock:
            return await self._stop_open(connector_id, reason, id_tag=id_tag)

    async def stop_all(self, reason: v16.Reason) -> None:
        """Stop every transaction (reset, …)."""
        async with self._lock:
            for connector_id in list(self.open):
                await self._stop_open(connector_id, reason)

    async def _stop_open(
        self, connector_id: int, reason: v16.Reason, *, id_tag: str | None = None
    ) -> TransactionInfo | None:
        if connector_id not in self.open:
            return None
        return await self._stop(connector_id, reason, id_tag)

    async def _stop(
        self,
        connector_id: int,
        reason: v16.Reason,
        id_tag: str | None,
        *,
        meter: float | None = None,
        at: datetime | None = None,
    ) -> TransactionInfo:
        record = self.open.pop(connector_id)
        sampler = self._samplers.pop(connector_id, None)
        if sampler is not None:
            sampler.cancel()
        now = at or self.ctx.clock.now()
        meter_stop = round(meter if meter is not None else self.energy(connector_id))
        if at is None:
            self._collect(record, "StopTxnSampledData", "Transaction.End", now)
        # transactionId 0 is a placeholder: the outbox fills in the CSMS's id when it sends
        request = v16.StopTransactionRequest(
            meter_stop=meter_stop,
            timestamp=now,
            transaction_id=0,
            reason=reason,
            id_tag=id_tag,
            transaction_data=msgspec.convert(record["stopData"], list[v16.TransactionData]) or None,
        )
        await self.ctx.outbox.put(
            request, tx=record["local"], state={(_NS, str(connector_id)): None}
        )
        facts = self.ctx.connectors.facts[connector_id]
        facts.transaction = facts.ev_suspended = facts.evse_suspended = False
        facts.finishing = facts.plugged
        self.ctx.connectors.changed(connector_id)
        await self.ctx.callbacks.set_energy(connector_id, False)
        tx = replace(self.info(record), meter_stop_wh=meter_stop, stopped=now, reason=reason)
        log.info("connector %d: transaction %s stopped (%s)", connector_id, tx.local_id, reason)
        self.ctx.callbacks.transaction_stopped(tx)
        if self.on_stopped is not None:
            await self.on_stopped(connector_id)
        return tx

    def info(self, record: dict[str, Any]) -> TransactionInfo:
        """The integrator's view of a transaction record."""
        known = self.ctx.outbox.transaction_id(record["local"])
        return TransactionInfo(
            local_id=record["local"],
            connector_id=record["connector"],
            id_tag=record["idTag"],
            meter_start_wh=record["meterStart"],
            started=load_time(record["start"]),
            transaction_id=known,
        )

    def find(self, transaction_id: int) -> int | None:
        """The connector whose transaction the CSMS knows as ``transaction_id``."""
        for connector, record in self.open.items():
            if self.ctx.outbox.transaction_id(record["local"]) == transaction_id:
                return connector
        return None

    # -- answers of the CSMS -----------------------------------------------------------------------
    async def answered(self, entry: OutboxEntry, response: Any) -> None:
        """The outbox delivered a transaction message: apply its idTagInfo."""
        info = getattr(response, "id_tag_info", None)
        id_tag = entry.payload.get("idTag")
        if info is not None and id_tag and await self.ctx.authorizer.update_from(id_tag, info):
            self.ctx.local_list_conflict()
        if entry.action != "StartTransaction":
            return
        connector = next((c for c, r in self.open.items() if r["local"] == entry.tx), None)
        if connector is None:  # stopped before the CSMS answered: the id still goes out
            if entry.tx is not None:
                payload = entry.payload
                self.ctx.callbacks.transaction_updated(
                    TransactionInfo(
                        local_id=entry.tx,
                        connector_id=payload["connectorId"],
                        id_tag=payload["idTag"],
                        meter_start_wh=payload["meterStart"],
                        started=load_time(payload["timestamp"]),
                        transaction_id=self.ctx.outbox.transaction_id(entry.tx),
                    )
                )
            return
        record = self.open[connector]
        self.ctx.callbacks.transaction_updated(self.info(record))
        if info is not None and info.status != "Accepted":
            log.info("connector %d: idTag %s is %s", connector, id_tag, info.status)
            if self.ctx.config.get_bool("StopTransactionOnInvalidId"):
                await self.stop(connector, "DeAuthorized")
            else:
                self.ctx.connectors.facts[connector].evse_suspended = True
                self.ctx.connectors.changed(connector)
                await self.ctx.callbacks.set_energy(connector, False)

    # -- internals ---------------------------------------------------------------------------------
    async def _may_stop(self, record: dict[str, Any], id_tag: str) -> bool:
        """The same idTag, or (authorised) one of the transaction's group."""
        if tag_key(record["idTag"]) == tag_key(id_tag):
            return True  # the same idTag (CiString20: ignoring case), no look-up
        if not record.get("parent"):
            return False
        decision = await self.ctx.authorize(id_tag)
        return decision.accepted and self.ctx.authorizer.same_group(
            record["idTag"], id_tag, parent_a=record["parent"], parent_b=decision.parent_id_tag
        )

    def _pick(self, id_tag: str, parent: str | None) -> int | None:
        """The connector of a token presented for the charge point: its reserved one, else the
        only plugged free one (None: wait for a plug)."""
        own = self.reservations.for_token(id_tag, parent)
        if own is not None and own.connector_id not in self.open:
            return own.connector_id
        return self._free_plugged(id_tag, parent)

    def _free_plugged(self, id_tag: str, parent: str | None) -> int | None:
        facts = self.ctx.connectors.facts
        free = [n for n in self.ctx.connectors.ids() if facts[n].plugged and n not in self.open]
        free = [n for n in free if self.reservations.admits(n, id_tag, parent)]
        if len(free) == 1:
            return free[0]
        if self.ctx.connectors.count == 1 and 1 not in self.open:
            return 1
        return None

    def _targets(self, connector_id: int | None) -> list[int]:
        if connector_id is not None:
            return [connector_id]
        return [n for n in self.ctx.connectors.ids() if n not in self.open]

    def _cancel_wait(self, connector_id: int | None) -> None:
        waiting = self._waiting.pop(connector_id, None)
        if waiting is None:
            return
        if waiting[2] is not None:
            waiting[2].cancel()
        targets = self._targets(connector_id)
        for n in targets:
            self.ctx.connectors.facts[n].authorized = False
        self.reservations.refresh()
        for n in targets:
            self.ctx.connectors.changed(n)

    def _wait_expired(self, connector_id: int | None) -> None:
        log.info("no plug within ConnectionTimeOut: authorisation lapsed")
        self._waiting.pop(connector_id, None)
        targets = self._targets(connector_id)
        for n in targets:
            self.ctx.connectors.facts[n].authorized = False
        self.reservations.lapsed(connector_id)  # a reserved connector is Reserved again
        for n in targets:
            self.ctx.connectors.changed(n)

    def _collect(
        self, record: dict[str, Any], key: str, context: v16.ReadingContext, at: datetime
    ) -> None:
        items = self.ctx.config.get_list(key) or []
        readings = self.readings.get(record["connector"], {}).values()
        value = meter_value(readings, items, context, at)
        if value is not None:  # kept in wire form: the record is persisted as JSON
            record["stopData"].append(msgspec.to_builtins(value))

    def _arm_sampler(self, connector_id: int) -> None:
        interval = self.ctx.config.get_int("MeterValueSampleInterval") or 0
        if interval > 0:
            self._samplers[connector_id] = self.ctx.scheduler.call_later(
                interval, lambda: self._sample_due(connector_id)
            )

    def _sample_due(self, connector_id: int) -> None:
        self._samplers.pop(connector_id, None)
        if connector_id not in self.open:
            return
        self._arm_sampler(connector_id)
        self.ctx.scheduler.spawn(
            self._sample(
                connector_id, "MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic"
            ),
            "ocppkit sample",
        )

    def _aligned_due(self) -> None:
        self._aligned = None
        self.schedule_aligned()
        for connector_id in [0, *self.ctx.connectors.ids()]:
            self.ctx.scheduler.spawn(
                self._sample(
                    connector_id, "MeterValuesAlignedData", "StopTxnAlignedData", "Sample.Clock"
                ),
                "ocppkit aligned sample",
            )

    async def _sample(
        self, connector_id: int, key: str, stop_key: str, context: v16.ReadingContext
    ) -> None:
        now = self.ctx.clock.now()
        readings = self.readings.get(connector_id, {}).values()
        value = meter_value(readings, self.ctx.config.get_list(key) or [], context, now)
        record = self.open.get(connector_id)
        if record is not None:
            self._collect(record, stop_key, context, now)
            energy = energy_wh(readings)
            if energy is not None:
                record["lastWh"], record["lastAt"] = energy, dump_time(now)
            if value is None:
                await self.ctx.store.put(_NS, str(connector_id), record)
                return
            request = v16.MeterValuesRequest(
                connector_id=connector_id, transaction_id=0, meter_value=[value]
            )
            await self.ctx.outbox.put(
                request, tx=record["local"], state={(_NS, str(connector_id)): record}
            )
        elif value is not None:
            self.ctx.send(v16.MeterValuesRequest(connector_id=connector_id, meter_value=[value]))
