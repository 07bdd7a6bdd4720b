"""The one object every block of the 1.6 stack shares: its dependencies, made explicit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocppkit.chargepoint.runtime import Clock, Link, Scheduler
from ocppkit.chargepoint.state import StateStore
from ocppkit.chargepoint.v16.authorization import AuthDecision, Authorizer
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks
from ocppkit.chargepoint.v16.config import Configuration
from ocppkit.chargepoint.v16.connectors import Connectors, Reported
from ocppkit.chargepoint.v16.outbox import Outbox
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import NotConnectedError, OcppError

__all__ = ["StackContext"]

log = logging.getLogger("ocppkit.chargepoint")

TIME_CHANGE_THRESHOLD = 60.0
"""Seconds: a clock change from the CSMS larger than this is a SettingSystemTime security event
(1.6 has no key for it; 2.x has ``ClockCtrlr.TimeAdjustmentReportingThreshold``)."""


@dataclass
class StackContext:
    """Clock, timers, link, storage, configuration and the blocks the others call."""

    clock: Clock
    scheduler: Scheduler
    link: Link
    store: StateStore
    config: Configuration
    connectors: Connectors
    outbox: Outbox
    authorizer: Authorizer
    callbacks: ChargerCallbacks
    accepted: bool = False
    """The CSMS accepted our BootNotification since this start."""
    last_sent: float = 0.0
    """Monotonic time of the last CALL sent (a Heartbeat is skipped after other traffic)."""
    closing: bool = False
    """``ChargePoint16.close`` began: nothing new is sent or started."""
    security_event: Callable[[str, str | None], Coroutine[Any, Any, None]] | None = None
    """Set when the Security profile is on: log a security event (and send a critical one)."""
    reconnect: Callable[[], Awaitable[bool]] | None = None
    """Set by the adapter: drop the websocket and connect again with the current settings
    (security profile, AuthorizationKey, certificates); True once connected and answered."""
    on_time_set: list[Callable[[], None]] = field(default_factory=list)
    """Called after the wall clock was set from the CSMS (timers due at a wall-clock time
    re-arm: reservation expiry, a firmware update's retrieve date, clock-aligned samples)."""

    def set_time(self, now: datetime) -> None:
        """Take the CSMS's time and re-arm what waits for a wall-clock time; a jump larger than
        ``TIME_CHANGE_THRESHOLD`` is a SettingSystemTime security event."""
        jump = abs((now - self.clock.now()).total_seconds())
        self.clock.set_time(now)
        for rearm in self.on_time_set:
            rearm()
        if jump > TIME_CHANGE_THRESHOLD and self.security_event is not None:
            event = self.security_event("SettingSystemTime", f"moved by {jump:.0f} s")
            self.scheduler.spawn(event, "ocppkit security event")

    def after_answer(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Run ``work()`` in the background: spawned work starts on a later turn of the event
        loop, after the handler returned and its answer was written to the transport."""
        self.scheduler.spawn(work(), name)

    def reconnect_soon(self, why: str) -> None:
        """Reconnect in the background, after the current answer went out (no adapter: no-op)."""
        if self.reconnect is None or self.closing:
            log.info("cannot reconnect (%s): no adapter hook", why)
            return
        reconnect = self.reconnect

        async def run() -> None:
            log.info("reconnecting: %s", why)
            await reconnect()

        self.after_answer(run, "ocppkit reconnect")

    def can_send(self) -> bool:
        """Online with an accepted boot: other messages than BootNotification may go out."""
        return self.accepted and self.link.connected

    async def authorize(self, id_tag: str) -> AuthDecision:
        """Authorize by the configured rules; a CSMS answer that contradicts the local list is
        reported (StatusNotification, connector 0, LocalListConflict: 1.6 §3.5.2)."""
        decision = await self.authorizer.authorize(id_tag, online=self.can_send())
        if decision.local_list_conflict:
            self.local_list_conflict()
        return decision

    def local_list_conflict(self) -> None:
        """Tell the CSMS its answer contradicted the local list (1.6 §3.5.2)."""
        current = self.connectors.current(0)
        conflict = Reported(current.status, "LocalListConflict")
        self.send(conflict.request(0, self.clock.now()))

    async def call(self, request: OcppRequest[Any]) -> Any:
        """Send a CALL now (``NotConnectedError`` offline); notes the time for heartbeats."""
        self.last_sent = self.clock.monotonic()
        return await self.link.call(request)

    def send(self, request: OcppRequest[Any], *, triggered: bool = False) -> None:
        """Send a message that is not queued (status, heartbeat…) in the background when it may
        go out; offline it is dropped (statuses are sent again after a reconnect). A
        ``triggered`` message (TriggerMessage) goes out before the boot is accepted too."""
        allowed = self.link.connected if triggered else self.can_send()
        if self.closing or not allowed:
            return
        self.scheduler.spawn(self._send(request), f"ocppkit send {type(request).__name__}")

    async def _send(self, request: OcppRequest[Any]) -> None:
        try:
            await self.call(request)
        except (NotConnectedError, OcppError) as exc:
            log.info("%s not delivered: %s", type(request).__name__, exc)
