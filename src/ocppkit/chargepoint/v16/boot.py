"""Boot and keep-alive (1.6 §4.2, §4.6, errata 3.22): BootNotification first, heartbeats after.

- On every start the stack sends BootNotification as soon as it is connected, and nothing else
  until the CSMS accepts it (except answers to the CSMS, and what it triggers). Pending and
  Rejected are retried after the ``interval`` of the answer (0: ``retry_default`` seconds); a
  failed or unanswered boot is retried after ``retry_default``.
- The answer's ``currentTime`` sets the clock; an Accepted ``interval`` becomes
  ``HeartbeatInterval``. After an accepted boot, and after every reconnect, the status of
  connector 0 and of every connector is sent; the outbox is delivered.
- A reconnect does not boot again once accepted (the content did not change).
- Heartbeat every ``HeartbeatInterval`` seconds, skipped when another CALL went out meanwhile;
  its answer sets the clock. A new HeartbeatInterval applies at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.messages import v16
from ocppkit.protocol.errors import NotConnectedError, OcppError

__all__ = ["Boot"]

log = logging.getLogger("ocppkit.chargepoint")


class Boot:
    """Registration with the CSMS and the heartbeat."""

    def __init__(
        self, ctx: StackContext, request: v16.BootNotificationRequest, *, retry_default: int = 60
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.retry_default = retry_default
        self.status: v16.RegistrationStatus | None = None
        self._retry: Handle | None = None
        self._heartbeat: Handle | None = None
        self._booting = False
        self._accepted_waiters: list[Callable[[], None]] = []
        ctx.config.on_change("HeartbeatInterval", lambda _: self.schedule_heartbeat())

    def when_accepted(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the CSMS accepted the boot (at once if it did)."""
        if self.ctx.accepted:
            callback()
        else:
            self._accepted_waiters.append(callback)

    def connected(self) -> None:
        """The link opened: boot, or (already accepted) re-send statuses and the outbox."""
        if self.ctx.accepted:
            self.ctx.connectors.report_all()
            self.ctx.outbox.kick()
            self.schedule_heartbeat()
        else:
            self.boot_now()

    def disconnected(self) -> None:
        """The link closed: no heartbeats until it is back."""
        for handle in (self._heartbeat, self._retry):
            if handle is not None:
                handle.cancel()
        self._heartbeat = self._retry = None

    def boot_now(self) -> None:
        """Send BootNotification (again) in the background."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if not self._booting:
            self._booting = True
            self.ctx.scheduler.spawn(self._boot(), "ocppkit boot")

    async def _boot(self) -> None:
        try:
            response = await self.ctx.call(self.request)
        except NotConnectedError:
            return  # connected() boots again
        except OcppError as exc:
            log.warning("BootNotification failed: %s", exc)
            self._retry_in(self.retry_default)
            return
        finally:
            self._booting = False
        self.status = response.status
        self.ctx.set_time(response.current_time)
        log.info("BootNotification: %s (interval %d s)", response.status, response.interval)
        if response.status != "Accepted":
            self.ctx.callbacks.boot_answered(response.status, response.interval)
            self._retry_in(response.interval or self.retry_default)
            return
        self.ctx.accepted = True  # before anyone hears of it: they may send at once
        if response.interval > 0:
            await self.ctx.config.set_internal("HeartbeatInterval", str(response.interval))
        self.ctx.callbacks.boot_answered(response.status, response.interval)
        waiters, self._accepted_waiters = self._accepted_waiters, []
        for waiter in waiters:
            waiter()
        await self.ctx.callbacks.set_system_time(response.current_time)
        self.ctx.connectors.report_all()
        self.ctx.outbox.kick()
        self.schedule_heartbeat()

    def _retry_in(self, seconds: int) -> None:
        self._retry = self.ctx.scheduler.call_later(seconds, self._retry_due)

    def _retry_due(self) -> None:
        self._retry = None
        if self.ctx.link.connected and not self.ctx.accepted:
            self.boot_now()

    # -- heartbeat -----------------------------------------------------------------------------
    def schedule_heartbeat(self, delay: float | None = None) -> None:
        """(Re)arm the heartbeat timer (``HeartbeatInterval``; 0 or less: no heartbeat)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        interval = self.ctx.config.get_int("HeartbeatInterval") or 0
        if interval > 0 and self.ctx.accepted:
            self._heartbeat = self.ctx.scheduler.call_later(
                interval if delay is None else delay, self._heartbeat_due
            )

    def _heartbeat_due(self) -> None:
        self._heartbeat = None
        interval = self.ctx.config.get_int("HeartbeatInterval") or 0
        idle = self.ctx.clock.monotonic() - self.ctx.last_sent
        if idle < interval:  # other traffic was sent meanwhile: wait for the rest of the interval
            self.schedule_heartbeat(interval - idle)
            return
        self.schedule_heartbeat()
        if self.ctx.can_send():
            self.ctx.scheduler.spawn(self.heartbeat(), "ocppkit heartbeat")

    async def heartbeat(self) -> None:
        """Send one Heartbeat and take the CSMS's time."""
        try:
            response = await self.ctx.call(v16.HeartbeatRequest())
        except (NotConnectedError, OcppError) as exc:
            log.info("Heartbeat failed: %s", exc)
            return
        self.ctx.set_time(response.current_time)
        await self.ctx.callbacks.set_system_time(response.current_time)
