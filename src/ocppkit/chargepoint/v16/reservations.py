"""Reservations (1.6 Reservation profile: §5.13 ReserveNow, §5.3 CancelReservation).

A reservation holds a connector for one idTag (or its group: ``parentIdTag``) until
``expiryDate``. They persist in namespace ``"reservations"`` (key: reservationId) and are restored
at start-up, expired ones dropped.

**ReserveNow** answers, in this order (§5.13):

- Rejected: the Reservation profile is not enabled, the connector does not exist, connector 0
  without ``ReserveConnectorZeroSupported`` = true, or ``expiryDate`` already passed;
- Faulted / Unavailable: the charge point (connector 0) or the connector is in that state (for
  connector 0: every connector is Faulted / every one Faulted or Unavailable);
- Occupied: the connector is not Available (a transaction, a cable, an accepted token, Finishing)
  or is reserved by another reservation, or reserving it would leave fewer free connectors than
  the charge point holds for connector-0 reservations (connector 0: no free connector beyond
  those already held);
- Accepted otherwise. A ReserveNow with the id of an existing reservation replaces it (checked
  as above, the old reservation not counted; when the check fails the old one stays).

**Connector 0** (``ReserveConnectorZeroSupported``): no connector is reserved, but the charge point
keeps as many *free* connectors (Available, not reserved) as it has connector-0 reservations. A
token that matches none of them may start only where that many free connectors remain besides its
own. While the free connectors are no more than those held, they report Reserved (nobody else may
use them); once more are free, they report Available again. Several connector-0 reservations (even
for the same idTag) are accepted while enough connectors are free.

**Use**: on a reserved connector only the reservation's idTag, or a token whose parentIdTag equals
the reservation's parentIdTag, may start (the comparison ignores case, ``CiString20Type``); other
tokens are refused, without an Authorize when the reservation has no parentIdTag (TC_046_1). The
StartTransaction carries the reservationId, and the reservation ends in the same atomic write
that queues it. The holder's token accepted before the plug shows Preparing (§4.9 Reserved ->
Preparing); the reservation stays until the transaction starts (after ``ConnectionTimeOut`` the
connector is Reserved again).

**End** (§5.13): the transaction starts; ``expiryDate`` passes (a Scheduler timer; the connector
returns to Available); CancelReservation (Accepted for a known id, else Rejected, §5.3); the
connector becomes Faulted or Unavailable, or the charge point does (connector 0: every
reservation ends). The integrator hears ``reservation_started`` / ``reservation_ended``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.state import StateChanges, dump_time, load_time
from ocppkit.chargepoint.v16.authorization import tag_key
from ocppkit.chargepoint.v16.callbacks import ReservationEndReason, ReservationInfo
from ocppkit.chargepoint.v16.connectors import Reported, status_of
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.messages import v16

__all__ = ["Reservations", "matches"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "reservations"


def matches(
    reservation: ReservationInfo, id_tag: str, parent: str | None, *, parent_known: bool = True
) -> bool:
    """Whether a token may use ``reservation``: its idTag, or the same parentIdTag. With
    ``parent_known=False`` (the token not authorised yet) a reservation with a parentIdTag may
    still match."""
    if tag_key(id_tag) == tag_key(reservation.id_tag):
        return True
    if reservation.parent_id_tag is None:
        return False
    if not parent_known:
        return True
    return parent is not None and tag_key(parent) == tag_key(reservation.parent_id_tag)


def _record(r: ReservationInfo) -> dict[str, Any]:
    return {
        "connector": r.connector_id,
        "idTag": r.id_tag,
        "parent": r.parent_id_tag,
        "expiry": dump_time(r.expiry),
    }


class Reservations:
    """The charge point's reservations (see the module docstring)."""

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx
        self.by_id: dict[int, ReservationInfo] = {}
        self._timers: dict[int, Handle] = {}
        self._presented: set[int] = set()  # connectors whose holder's token waits for the plug
        self._refreshing = False

    # -- start-up ----------------------------------------------------------------------------------
    async def load(self) -> None:
        """Restore the persisted reservations; drop expired ones and those whose connector is
        gone, Faulted or Unavailable."""
        now = self.ctx.clock.now()
        for key, value in (await self.ctx.store.load(_NS)).items():
            try:
                r = ReservationInfo(
                    reservation_id=int(key),
                    connector_id=int(value["connector"]),
                    id_tag=str(value["idTag"]),
                    expiry=load_time(value["expiry"]),
                    parent_id_tag=value.get("parent"),
                )
            except (KeyError, TypeError, ValueError):
                log.warning("dropping unreadable reservation %s", key)
                await self.ctx.store.delete(_NS, key)
                continue
            usable = 0 <= r.connector_id <= self.ctx.connectors.count
            if not usable or r.expiry <= now or self._bare(r.connector_id) != "Available":
                log.info("reservation %d dropped at start-up", r.reservation_id)
                await self.ctx.store.delete(_NS, key)
                continue
            self.by_id[r.reservation_id] = r
            self._arm(r)
        self.refresh()

    # -- queries -----------------------------------------------------------------------------------
    def on_connector(self, connector_id: int, ignore: int | None = None) -> ReservationInfo | None:
        """The reservation of one connector (not connector 0's), if any."""
        for r in self.by_id.values():
            if r.connector_id == connector_id != 0 and r.reservation_id != ignore:
                return r
        return None

    def charge_point_wide(self, ignore: int | None = None) -> list[ReservationInfo]:
        """The connector-0 reservations."""
        return [
            r for r in self.by_id.values() if r.connector_id == 0 and r.reservation_id != ignore
        ]

    def for_token(self, id_tag: str, parent: str | None) -> ReservationInfo | None:
        """A connector reservation the token may use (to pick its connector)."""
        for r in self.by_id.values():
            if r.connector_id != 0 and matches(r, id_tag, parent):
                return r
        return None

    def admits(
        self,
        connector_id: int,
        id_tag: str,
        parent: str | None,
        *,
        parent_known: bool = True,
        lenient: bool = False,
    ) -> bool:
        """May this token start on ``connector_id``? Its connector's reservation must match;
        otherwise a matching connector-0 reservation, or enough free connectors left for them.
        ``lenient``: accepted tokens waiting for a plug do not make a connector busy (at the
        plug, when the waiting token itself marked them)."""
        own = self.on_connector(connector_id)
        if own is not None:
            return matches(own, id_tag, parent, parent_known=parent_known)
        wide = self.charge_point_wide()
        if not wide or any(matches(r, id_tag, parent, parent_known=parent_known) for r in wide):
            return True
        spare = [n for n in self._free(lenient=lenient) if n != connector_id]
        return len(spare) >= len(wide)

    def refuses_unauthorized(self, id_tag: str, connector_id: int | None) -> bool:
        """A token presented at a reserved connector (or at a one-connector charge point) that
        cannot match its reservation whatever its group: refused before any Authorize."""
        if connector_id is None and self.ctx.connectors.count == 1:
            connector_id = 1
        if connector_id is None or self.ctx.connectors.facts[connector_id].transaction:
            return False
        refused = not self.admits(connector_id, id_tag, None, parent_known=False)
        if refused:
            log.info("%s refused: connector %d is reserved", id_tag, connector_id)
        return refused

    def admits_token(self, connector_id: int | None, id_tag: str, parent: str | None) -> bool:
        """An authorised token for ``connector_id`` (None: the next plug) may start there (None:
        on some connector without a transaction)."""
        if not self.by_id:
            return True
        if connector_id is not None:
            ok = self.admits(connector_id, id_tag, parent)
        else:
            facts = self.ctx.connectors.facts
            ids = [n for n in self.ctx.connectors.ids() if not facts[n].transaction]
            ok = any(self.admits(n, id_tag, parent) for n in ids)
        if not ok:
            log.info("%s refused: the connector is reserved", id_tag)
        return ok

    def claim(self, connector_id: int, id_tag: str, parent: str | None) -> ReservationInfo | None:
        """The reservation a transaction of this token on ``connector_id`` uses up, if any: the
        connector's own, else a connector-0 one (the earliest expiring)."""
        own = self.on_connector(connector_id)
        if own is not None:
            return own if matches(own, id_tag, parent) else None
        wide = [r for r in self.charge_point_wide() if matches(r, id_tag, parent)]
        return min(wide, key=lambda r: r.expiry) if wide else None

    # -- CSMS requests -----------------------------------------------------------------------------
    async def reserve(self, req: v16.ReserveNowRequest) -> v16.ReservationStatus:
        """ReserveNow: check, persist, hold the connector, arm the expiry."""
        config = self.ctx.config
        n = req.connector_id
        if "Reservation" not in (config.get_list("SupportedFeatureProfiles") or []):
            return "Rejected"
        if not 0 <= n <= self.ctx.connectors.count:
            return "Rejected"
        if n == 0 and not config.get_bool("ReserveConnectorZeroSupported"):
            return "Rejected"
        if req.expiry_date <= self.ctx.clock.now():
            return "Rejected"
        old = self.by_id.get(req.reservation_id)
        status = self._check(n, req.reservation_id)
        if status != "Accepted":
            return status
        new = ReservationInfo(
            reservation_id=req.reservation_id,
            connector_id=n,
            id_tag=req.id_tag,
            expiry=req.expiry_date,
            parent_id_tag=req.parent_id_tag,
        )
        await self.ctx.store.put(_NS, str(new.reservation_id), _record(new))
        if old is not None:
            self._drop(old)
            self.ctx.callbacks.reservation_ended(old, "Replaced")
        self.by_id[new.reservation_id] = new
        self._arm(new)
        log.info("reservation %d: connector %d for %s", new.reservation_id, n, new.id_tag)
        self.ctx.callbacks.reservation_started(new)
        self.refresh()
        return "Accepted"

    def cancel_timers(self) -> None:
        """Stop the expiry timers (at close; reservations stay stored)."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    async def cancel(self, reservation_id: int) -> bool:
        """CancelReservation: True when the reservation existed (it ends now)."""
        r = self.by_id.get(reservation_id)
        if r is None:
            return False
        await self.ctx.store.delete(_NS, str(reservation_id))
        self._end(r, "Cancelled", persist=False)
        return True

    # -- what the transactions block reports -------------------------------------------------------
    def ending(self, r: ReservationInfo) -> StateChanges:
        """The store change that ends ``r``, to write atomically with its StartTransaction."""
        return {(_NS, str(r.reservation_id)): None}

    def used(self, r: ReservationInfo) -> None:
        """``r``'s transaction started (its deletion is already stored)."""
        if self.by_id.get(r.reservation_id) is r:
            self._end(r, "Used", persist=False)

    def presented(self, connector_id: int | None, id_tag: str, parent: str | None) -> None:
        """An accepted token waits for a plug: its own reserved connector shows Preparing."""
        own = None if connector_id is None else self.on_connector(connector_id)
        if connector_id is not None and own is not None and matches(own, id_tag, parent):
            self._presented.add(connector_id)
        self.refresh()

    def lapsed(self, connector_id: int | None) -> None:
        """A waiting token's authorisation lapsed (ConnectionTimeOut): Reserved again."""
        if connector_id is not None:
            self._presented.discard(connector_id)
        self.refresh()

    def status_changed(self, connector_id: int, reported: Reported) -> None:
        """A connector's status changed: Faulted / Unavailable end its reservations (connector 0:
        all of them), and the connectors held for connector-0 reservations are re-derived."""
        if reported.status in ("Faulted", "Unavailable"):
            reason: ReservationEndReason = (
                "Faulted" if reported.status == "Faulted" else "Unavailable"
            )
            for r in list(self.by_id.values()):
                if connector_id == 0 or r.connector_id == connector_id:
                    self._end(r, reason)
        self.refresh()

    # -- internals ---------------------------------------------------------------------------------
    def _bare(self, connector_id: int, *, lenient: bool = False) -> v16.ChargePointStatus:
        """The connector's status without reservations (``lenient``: nor waiting tokens)."""
        facts = self.ctx.connectors.facts
        own = facts[connector_id]
        bare = replace(own, reserved=False, authorized=own.authorized and not lenient)
        if not facts[0].operative:  # the charge point inoperative: every connector Unavailable
            bare.operative = False
        return status_of(bare, connector_id)

    def _free(self, *, lenient: bool = False, ignore: int | None = None) -> list[int]:
        """Connectors a new driver could use: Available and not reserved."""
        return [
            n
            for n in self.ctx.connectors.ids()
            if self.on_connector(n, ignore) is None
            and self._bare(n, lenient=lenient) == "Available"
        ]

    def _check(self, connector_id: int, reservation_id: int) -> v16.ReservationStatus:
        whole = self.ctx.connectors.status(0)
        if whole == "Faulted":
            return "Faulted"
        if whole == "Unavailable":
            return "Unavailable"
        wide = len(self.charge_point_wide(ignore=reservation_id))
        free = self._free(ignore=reservation_id)
        if connector_id == 0:
            if len(free) > wide:
                return "Accepted"
            statuses = {self._bare(n) for n in self.ctx.connectors.ids()}
            if statuses == {"Faulted"}:
                return "Faulted"
            if statuses <= {"Faulted", "Unavailable"}:
                return "Unavailable"
            return "Occupied"
        status = self._bare(connector_id)
        if status == "Faulted":
            return "Faulted"
        if status == "Unavailable":
            return "Unavailable"
        if connector_id not in free or len(free) - 1 < wide:
            return "Occupied"
        return "Accepted"

    def rearm(self) -> None:
        """The wall clock was set: every expiry timer again from the new time."""
        for r in self.by_id.values():
            self._arm(r)

    def _arm(self, r: ReservationInfo) -> None:
        handle = self._timers.pop(r.reservation_id, None)
        if handle is not None:
            handle.cancel()
        delay = (r.expiry - self.ctx.clock.now()).total_seconds()
        self._timers[r.reservation_id] = self.ctx.scheduler.call_later(delay, self._due(r))

    def _due(self, r: ReservationInfo) -> Callable[[], None]:
        def expire() -> None:
            if self.by_id.get(r.reservation_id) is not r:
                return  # replaced or ended meanwhile
            self._timers.pop(r.reservation_id, None)
            if (r.expiry - self.ctx.clock.now()).total_seconds() > 0.001:
                self._arm(r)  # the wall clock was set back since
                return
            log.info("reservation %d expired", r.reservation_id)
            self._end(r, "Expired")

        return expire

    def _drop(self, r: ReservationInfo) -> None:
        """Forget ``r`` in memory (timer, presented token)."""
        self.by_id.pop(r.reservation_id, None)
        handle = self._timers.pop(r.reservation_id, None)
        if handle is not None:
            handle.cancel()
        if r.connector_id != 0:
            self._presented.discard(r.connector_id)

    def _end(
        self, r: ReservationInfo, reason: ReservationEndReason, *, persist: bool = True
    ) -> None:
        self._drop(r)
        if persist:
            self.ctx.scheduler.spawn(self._persist(r.reservation_id), "ocppkit reservation")
        log.info("reservation %d ended (%s)", r.reservation_id, reason)
        self.ctx.callbacks.reservation_ended(r, reason)
        self.refresh()

    async def _persist(self, reservation_id: int) -> None:
        """Store what memory says now (so a late write never undoes a newer one)."""
        current = self.by_id.get(reservation_id)
        if current is None:
            await self.ctx.store.delete(_NS, str(reservation_id))
        else:
            await self.ctx.store.put(_NS, str(reservation_id), _record(current))

    def refresh(self) -> None:
        """Set each connector's ``reserved`` fact: its own reservation (unless its holder's token
        waits there), or held for connector-0 reservations (see the module docstring)."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            wide = len(self.charge_point_wide())
            free = self._free()
            held = set(free) if wide and len(free) <= wide else set()
            connectors = self.ctx.connectors
            for n in connectors.ids():
                own = self.on_connector(n) is not None and n not in self._presented
                wanted = own or n in held
                if connectors.facts[n].reserved != wanted:
                    connectors.facts[n].reserved = wanted
                    connectors.changed(n)
        finally:
            self._refreshing = False
