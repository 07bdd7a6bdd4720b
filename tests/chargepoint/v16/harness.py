"""A 1.6 charge point stack on a fake clock, wired over the in-memory transport to a scripted CSMS.

Nothing waits on time: the clock moves only with ``clock.advance``, and tests wait for what the
CSMS receives (``await h.csms.next("StartTransaction")``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ocppkit.chargepoint.asyncio_runtime import AsyncioRuntime
from ocppkit.chargepoint.runtime import Handle, ManualClock
from ocppkit.chargepoint.state import MemoryStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks, TransactionInfo
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.messages import v16
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import InternalError, NotConnectedError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.testing import connected_pair

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
R = TypeVar("R")


class TestScheduler(AsyncioRuntime):
    """The asyncio runtime with its timers on a ``ManualClock``; background failures are kept
    in ``errors`` (``Harness.settle`` fails on them)."""

    __test__ = False

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.errors: list[BaseException] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        return self.clock.call_later(delay, callback)

    def _done(self, task: asyncio.Task[None]) -> None:
        super()._done(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]


class ConnectionLink:
    """``Link`` over whichever in-memory connection the test has open (None: offline)."""

    def __init__(self) -> None:
        self.connection: OcppConnection | None = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        if self.connection is None or self.connection.closed:
            raise NotConnectedError("not connected")
        return await self.connection.call(request, timeout=timeout)


@dataclass
class FakeCsms:
    """A CSMS that records every request and answers as scripted."""

    boot_status: v16.RegistrationStatus = "Accepted"
    boot_interval: int = 300
    authorize_status: v16.AuthorizationStatus = "Accepted"
    start_status: v16.AuthorizationStatus = "Accepted"
    fail_next: dict[str, int] = field(default_factory=dict)
    received: list[tuple[str, Any]] = field(default_factory=list)
    next_transaction_id: int = 100
    queues: dict[str, asyncio.Queue[Any]] = field(default_factory=dict)

    def queue(self, action: str) -> asyncio.Queue[Any]:
        return self.queues.setdefault(action, asyncio.Queue())

    async def next(self, action: str) -> Any:
        """The next ``action`` request the CSMS receives (fails after 5 s)."""
        return await asyncio.wait_for(self.queue(action).get(), 5)

    def pending(self, action: str) -> int:
        """Requests of ``action`` received and not yet taken by ``next``."""
        return self.queue(action).qsize()

    def _record(self, action: str, request: Any) -> None:
        self.received.append((action, request))
        self.queue(action).put_nowait(request)
        if self.fail_next.get(action, 0) > 0:
            self.fail_next[action] -= 1
            raise InternalError(f"scripted failure of {action}")

    def router(self) -> Router:
        router = Router(OcppVersion.V16)

        @router.on(v16.BootNotificationRequest)
        def boot(req: v16.BootNotificationRequest, conn: Any) -> v16.BootNotificationResponse:
            self._record("BootNotification", req)
            return v16.BootNotificationResponse(
                status=self.boot_status, interval=self.boot_interval, current_time=T0
            )

        @router.on(v16.HeartbeatRequest)
        def heartbeat(req: v16.HeartbeatRequest, conn: Any) -> v16.HeartbeatResponse:
            self._record("Heartbeat", req)
            return v16.HeartbeatResponse(current_time=T0)

        @router.on(v16.StatusNotificationRequest)
        def status(req: v16.StatusNotificationRequest, conn: Any) -> Any:
            self._record("StatusNotification", req)
            return v16.StatusNotificationResponse()

        @router.on(v16.AuthorizeRequest)
        def authorize(req: v16.AuthorizeRequest, conn: Any) -> v16.AuthorizeResponse:
            self._record("Authorize", req)
            return v16.AuthorizeResponse(id_tag_info=v16.IdTagInfo(status=self.authorize_status))

        @router.on(v16.StartTransactionRequest)
        def start(req: v16.StartTransactionRequest, conn: Any) -> v16.StartTransactionResponse:
            self._record("StartTransaction", req)
            self.next_transaction_id += 1
            return v16.StartTransactionResponse(
                transaction_id=self.next_transaction_id,
                id_tag_info=v16.IdTagInfo(status=self.start_status),
            )

        @router.on(v16.StopTransactionRequest)
        def stop(req: v16.StopTransactionRequest, conn: Any) -> v16.StopTransactionResponse:
            self._record("StopTransaction", req)
            return v16.StopTransactionResponse()

        @router.on(v16.MeterValuesRequest)
        def meter(req: v16.MeterValuesRequest, conn: Any) -> v16.MeterValuesResponse:
            self._record("MeterValues", req)
            return v16.MeterValuesResponse()

        for name in (
            "FirmwareStatusNotification",
            "DiagnosticsStatusNotification",
            "DataTransfer",
            "SecurityEventNotification",
            "LogStatusNotification",
            "SignedFirmwareStatusNotification",
            "SignCertificate",
        ):
            self._echo(router, name)
        return router

    def _echo(self, router: Router, name: str) -> None:
        request_type = getattr(v16, f"{name}Request")
        response_type = getattr(v16, f"{name}Response")

        def handler(req: Any, conn: Any) -> Any:
            self._record(name, req)
            with_status = name in ("DataTransfer", "SignCertificate")
            return response_type(status="Accepted") if with_status else response_type()

        router.add(request_type, handler)


class Recorder(ChargerCallbacks):
    """Callbacks that remember what the stack asked."""

    def __init__(self) -> None:
        self.energy: dict[int, bool] = {}
        self.enabled: dict[int, bool] = {}
        self.resets: list[str] = []
        self.started: list[TransactionInfo] = []
        self.stopped: list[TransactionInfo] = []
        self.updated: list[TransactionInfo] = []
        self.unlocked: list[int] = []
        self.changed: list[tuple[str, str]] = []
        self.reset_allowed = True
        self.firmware: list[v16.UpdateFirmwareRequest] = []
        self.diagnostics: list[v16.GetDiagnosticsRequest] = []

    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        self.energy[connector_id] = allowed

    async def set_enabled(self, connector_id: int, enabled: bool) -> None:
        self.enabled[connector_id] = enabled

    async def unlock(self, connector_id: int) -> bool | None:
        self.unlocked.append(connector_id)
        return True

    def is_reset_allowed(self, kind: v16.ResetType) -> bool:
        return self.reset_allowed

    async def reset(self, kind: v16.ResetType) -> None:
        self.resets.append(kind)

    async def update_firmware(self, request: v16.UpdateFirmwareRequest) -> None:
        self.firmware.append(request)

    async def upload_diagnostics(self, request: v16.GetDiagnosticsRequest) -> str | None:
        self.diagnostics.append(request)
        return "diag.zip"

    def transaction_started(self, tx: TransactionInfo) -> None:
        self.started.append(tx)

    def transaction_updated(self, tx: TransactionInfo) -> None:
        self.updated.append(tx)

    def transaction_stopped(self, tx: TransactionInfo) -> None:
        self.stopped.append(tx)

    def configuration_changed(self, key: str, value: str) -> None:
        self.changed.append((key, value))


@dataclass
class Harness:
    """One stack, its fake CSMS, clock and store, and the current connection."""

    cp: ChargePoint16
    csms: FakeCsms
    clock: ManualClock
    scheduler: TestScheduler
    store: MemoryStateStore
    link: ConnectionLink
    callbacks: Recorder
    csms_conn: Any = None

    async def call(self, request: Any) -> Any:
        """A CALL from the CSMS to the charge point."""
        return await self.csms_conn.call(request)

    @contextlib.asynccontextmanager
    async def online(self) -> AsyncIterator[None]:
        """Connect (a new websocket), tell the stack; disconnect at the end."""
        async with connected_pair(
            OcppVersion.V16, csms=self.csms.router(), charge_point=self.cp.router
        ) as pair:
            self.link.connection = pair.charge_point
            self.csms_conn = pair.csms
            self.cp.connected()
            try:
                yield
            finally:
                await self.scheduler.drain()
                self.link.connection = None
                self.cp.disconnected()

    async def settle(self) -> None:
        """Let background work finish (nothing waits on time)."""
        for _ in range(3):
            await self.scheduler.drain()
            await asyncio.sleep(0)  # a yield, not a wait: lets inline answers land
        assert not self.scheduler.errors, self.scheduler.errors


def make(
    *,
    connectors: int = 2,
    store: MemoryStateStore | None = None,
    csms: FakeCsms | None = None,
    config: dict[str, str | None] | None = None,
    clock: ManualClock | None = None,
    **options: Any,
) -> Harness:
    """A stack that is not started yet (``options``: more ``ChargePoint16`` arguments)."""
    clock = clock or ManualClock(T0)
    scheduler = TestScheduler(clock)
    store = store or MemoryStateStore()
    link = ConnectionLink()
    callbacks = Recorder()
    defaults: dict[str, str | None] = {"MeterValueSampleInterval": "0", **(config or {})}
    cp = ChargePoint16(
        store=store,
        link=link,
        clock=clock,
        scheduler=scheduler,
        vendor="ocppkit",
        model="Test",
        connectors=connectors,
        callbacks=callbacks,
        config_defaults=defaults,
        **options,
    )
    return Harness(cp, csms or FakeCsms(), clock, scheduler, store, link, callbacks)
