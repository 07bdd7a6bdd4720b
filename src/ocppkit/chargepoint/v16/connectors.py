"""Connector status (1.6 §4.9): what each connector *is* follows from facts, reported on change.

The stack records facts (plugged, authorised, transaction running, suspended, reserved,
operative, active errors) and never sets a status directly; ``status_of`` derives the 1.6
``ChargePointStatus`` from them by one priority table, so no sequence of events can leave a
connector in a state its facts contradict:

=================  =====================================================================
status             when (first match wins)
=================  =====================================================================
Faulted            an active error is a fault
Unavailable        not operative (ChangeAvailability of it, or of connector 0: the whole
                   charge point), or disabled by the hardware
SuspendedEVSE      a transaction runs and the EVSE offers no energy
SuspendedEV        a transaction runs and the EV takes none
Charging           a transaction runs
Finishing          the transaction ended, the cable is still plugged
Reserved           a reservation holds the connector
Preparing          a cable is plugged, or a token was accepted for this connector
Available          otherwise
=================  =====================================================================

Connector 0 (the charge point itself) is only Available, Unavailable or Faulted. Errors are kept
apart from the status: several may be active at once (each a code, vendor code and info); an
error that is not a fault is a warning, reported with the status it leaves unchanged. The error
code reported is that of the newest active error (NoError when none).

Reporting: every change of (status, errorCode, info, vendorErrorCode) is sent as a
StatusNotification, once it has held for ``MinimumStatusDuration`` seconds (0: at once); a change
that reverts before then is not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from ocppkit.chargepoint.runtime import Clock, Handle, Scheduler
from ocppkit.messages import v16

__all__ = ["ConnectorError", "ConnectorFacts", "Connectors", "Reported", "status_of"]


@dataclass(frozen=True)
class ConnectorError:
    """One active error of a connector."""

    code: v16.ChargePointErrorCode
    fault: bool = True
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass
class ConnectorFacts:
    """What the stack knows about one connector."""

    operative: bool = True
    disabled: bool = False
    plugged: bool = False
    authorized: bool = False
    transaction: bool = False
    ev_suspended: bool = False
    evse_suspended: bool = False
    finishing: bool = False
    reserved: bool = False
    errors: list[ConnectorError] = field(default_factory=list)


def status_of(facts: ConnectorFacts, connector_id: int) -> v16.ChargePointStatus:
    """The 1.6 status these facts mean (the table in the module docstring)."""
    if any(e.fault for e in facts.errors):
        return "Faulted"
    if not facts.operative or facts.disabled:
        return "Unavailable"
    if connector_id == 0:
        return "Available"
    if facts.transaction:
        if facts.evse_suspended:
            return "SuspendedEVSE"
        if facts.ev_suspended:
            return "SuspendedEV"
        return "Charging"
    if facts.finishing and facts.plugged:
        return "Finishing"
    if facts.reserved:
        return "Reserved"
    if facts.plugged or facts.authorized:
        return "Preparing"
    return "Available"


@dataclass(frozen=True)
class Reported:
    """What one StatusNotification says about a connector."""

    status: v16.ChargePointStatus
    error_code: v16.ChargePointErrorCode = "NoError"
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None

    def request(self, connector_id: int, timestamp: datetime) -> v16.StatusNotificationRequest:
        """The StatusNotification saying this."""
        return v16.StatusNotificationRequest(
            connector_id=connector_id,
            status=self.status,
            error_code=self.error_code,
            info=self.info,
            vendor_id=self.vendor_id,
            vendor_error_code=self.vendor_error_code,
            timestamp=timestamp,
        )


def _reported(facts: ConnectorFacts, connector_id: int, whole_operative: bool = True) -> Reported:
    if not whole_operative and facts.operative:  # the charge point inoperative: all Unavailable
        facts = replace(facts, operative=False)
    status = status_of(facts, connector_id)
    if not facts.errors:
        return Reported(status)
    newest = facts.errors[-1]
    return Reported(status, newest.code, newest.info, newest.vendor_id, newest.vendor_error_code)


class Connectors:
    """Facts of connectors 0..N and their StatusNotifications.

    ``send(request)`` delivers a StatusNotification (the stack sends it when online; offline it
    is dropped, as every status is sent again after a reconnect); ``min_duration()`` reads
    ``MinimumStatusDuration``; ``on_change(connector_id, reported)`` tells the integrator.
    """

    def __init__(
        self,
        count: int,
        *,
        clock: Clock,
        scheduler: Scheduler,
        send: Callable[[v16.StatusNotificationRequest], None],
        min_duration: Callable[[], int] = lambda: 0,
        on_change: Callable[[int, Reported], None] | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("a charge point has at least one connector")
        self.count = count
        self.facts = {n: ConnectorFacts() for n in range(count + 1)}
        self._clock = clock
        self._scheduler = scheduler
        self._send = send
        self._min_duration = min_duration
        self._on_change = on_change
        self._reported: dict[int, Reported | None] = dict.fromkeys(self.facts)
        self._current = {n: _reported(f, n) for n, f in self.facts.items()}
        self._pending: dict[int, Handle] = {}

    def ids(self) -> range:
        """The connector ids 1..N (without 0)."""
        return range(1, self.count + 1)

    def check(self, connector_id: int, *, zero: bool = False) -> None:
        """``ValueError`` unless ``connector_id`` exists (0 allowed only with ``zero``)."""
        low = 0 if zero else 1
        if not low <= connector_id <= self.count:
            raise ValueError(f"no connector {connector_id} (connectors 1..{self.count})")

    def status(self, connector_id: int) -> v16.ChargePointStatus:
        """The connector's status now (reported or not)."""
        return self._current[connector_id].status

    def current(self, connector_id: int) -> Reported:
        """The connector's status and error now."""
        return self._current[connector_id]

    def changed(self, connector_id: int) -> None:
        """Facts of ``connector_id`` changed: report what that means (after the debounce)."""
        now = _reported(self.facts[connector_id], connector_id, self.facts[0].operative)
        if now != self._current[connector_id]:
            self._current[connector_id] = now
            if self._on_change is not None:
                self._on_change(connector_id, now)
                if self._current[connector_id] != now:
                    return  # the hook changed facts again, and that change was handled
        pending = self._pending.pop(connector_id, None)
        if pending is not None:
            pending.cancel()
        if now == self._reported[connector_id]:
            return
        delay = self._min_duration()
        if delay <= 0:
            self._report(connector_id)
        else:
            self._pending[connector_id] = self._scheduler.call_later(
                delay, lambda: self._report(connector_id)
            )

    def raise_error(self, connector_id: int, error: ConnectorError) -> None:
        """An error became active (replacing an active one with the same codes)."""
        errors = self.facts[connector_id].errors
        errors[:] = [e for e in errors if not _same(e, error)] + [error]
        self.changed(connector_id)

    def clear_error(self, connector_id: int, code: str | None = None) -> None:
        """Errors ended: those with ``code`` (all when None)."""
        errors = self.facts[connector_id].errors
        errors[:] = [] if code is None else [e for e in errors if e.code != code]
        self.changed(connector_id)

    def report_all(self) -> None:
        """Send the current status of connector 0 and every connector (after a boot or a
        reconnect, errata 3.22), whatever was reported before."""
        for connector_id in self.facts:
            pending = self._pending.pop(connector_id, None)
            if pending is not None:
                pending.cancel()
            self._report(connector_id)

    def trigger(
        self, connector_id: int | None, send: Callable[[v16.StatusNotificationRequest], None]
    ) -> None:
        """TriggerMessage(StatusNotification): the current status of one connector, or of all,
        through ``send`` (triggered messages may go out before the boot is accepted)."""
        for n in self.facts if connector_id is None else (connector_id,):
            pending = self._pending.pop(n, None)
            if pending is not None:
                pending.cancel()
            self._reported[n] = self._current[n]
            send(self._current[n].request(n, self._clock.now()))

    def _report(self, connector_id: int) -> None:
        self._pending.pop(connector_id, None)
        reported = self._current[connector_id]
        self._reported[connector_id] = reported
        self._send(reported.request(connector_id, self._clock.now()))


def _same(a: ConnectorError, b: ConnectorError) -> bool:
    return (a.code, a.vendor_id, a.vendor_error_code) == (b.code, b.vendor_id, b.vendor_error_code)
