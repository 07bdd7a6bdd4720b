"""The CSMS role: a server with store-backed defaults for every charge point message.

::

    csms = Csms(SqliteStore("ocppkit.db"), boot_policy=known_only)

    @csms.router(OcppVersion.V16).on(v16.DataTransferRequest)     # override one default
    async def vendor_data(request, conn): ...

    await csms.start("0.0.0.0", 9000)
    await csms.station("CP-1").reset(type="Soft")                   # typed commands

Defaults (``handlers_v16`` / ``handlers_v2x``) store every message before answering it (boot
information, statuses with history, authorizations from the id tokens, transactions with their
meter values, idempotent under retries; firmware / diagnostics / log status reports, security
events, DataTransfer, MeterValues outside transactions and every other 2.x report — NotifyReport,
NotifyEvent, NotifyMonitoringReport, ReportChargingProfiles … — in the store's event log) and
answer as a CSMS should (unknown token: Invalid; DataTransfer: UnknownVendorId; SignCertificate:
signed by ``certificate_authority`` and sent back as CertificateSigned, Rejected without one;
where no service stands behind an answer, the answer says so: NotifyEVChargingNeeds gets no
schedule, Plug & Charge certificates Failed unless ``pnc_hooks`` provide them). Stations whose
boot was not Accepted get ``SecurityError`` for anything but BootNotification.

Every frame in and out is written to the store by ``csms.message_log`` (``MessageLog``: batched,
bounded, 10,000 frames kept per station by default; ``Csms(store, message_log=False)``: none).
With ``history_days``, status reports and events the store received longer ago than that (by
its clock: a station's timestamps may be wrong) are deleted at start and then every hour
(``store.prune_history``: no connector's current status, and never a transaction or its meter
values); by default they are kept for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from ocppkit.csms.certificates import install_certificate_signing
from ocppkit.csms.context import BootHook, BootPolicy, CsmsContext, accept_all
from ocppkit.csms.gate import GatedRouter
from ocppkit.csms.handlers_v2x import install_v2x
from ocppkit.csms.handlers_v16 import install_v16
from ocppkit.csms.message_log import MessageLog
from ocppkit.csms.plug_and_charge import (
    PncHooks,
    install_plug_and_charge,
    install_plug_and_charge_v2x,
)
from ocppkit.csms.station import Station16, Station21, Station201, station_for
from ocppkit.protocol.session import ValidationPolicy
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.server import AuthHook, Handshake, NotConnectedError, OcppServer
from ocppkit.store import Store

if TYPE_CHECKING:  # cryptography is the security extra
    from ocppkit.certificates import CertificateAuthority

__all__ = ["Csms"]

log = logging.getLogger("ocppkit.csms")

StationHook = Callable[[Station16 | Station201 | Station21], Awaitable[None]]


class Csms:
    """A Central System: ``OcppServer`` + ``Store`` + default handlers + typed stations."""

    def __init__(
        self,
        store: Store,
        *,
        versions: Sequence[OcppVersion] = tuple(OcppVersion),
        boot_policy: BootPolicy = accept_all,
        heartbeat_interval: int = 300,
        pending_interval: int = 30,
        auth: AuthHook | None = None,
        security_profile: int = 0,
        validation: ValidationPolicy | None = None,
        call_timeout: float = 30.0,
        message_log: MessageLog | Literal[False] | None = None,
        certificate_authority: CertificateAuthority | None = None,
        pnc_hooks: PncHooks | None = None,
        history_days: float | None = None,
        prune_interval: float = 3600.0,
    ) -> None:
        """``message_log`` writes every frame in and out to the store: None (the default) makes a
        ``MessageLog(store)`` (10,000 frames kept per station), False keeps no log, or give
        your own ``MessageLog(store, keep=...)``. ``self.message_log`` is the log, or None.
        ``certificate_authority`` signs the stations' SignCertificate CSRs (None: Rejected).
        ``pnc_hooks`` answers ISO 15118 Plug & Charge over 1.6 DataTransfer and 2.x's
        Get15118EVCertificate / GetCertificateStatus / SignCertificate of V2G certificates
        (default: ``PncHooks()``; V2G CSRs signed by its authority, else
        ``certificate_authority``).
        ``history_days``: status reports and events are kept this long (None: for ever), pruned
        every ``prune_interval`` seconds (a row goes at most that long after it is due)."""
        if history_days is not None and history_days <= 0:
            raise ValueError("history_days must be > 0 (None: keep the history for ever)")
        if prune_interval < 0:
            raise ValueError(f"prune_interval must be >= 0, got {prune_interval}")
        self.store = store
        self.history_days = history_days
        self.prune_interval = prune_interval
        self._pruner: asyncio.Task[None] | None = None
        if message_log is None:
            message_log = MessageLog(store)
        self.message_log: MessageLog | None = None if message_log is False else message_log
        frame_log = self.message_log
        self.context = CsmsContext(
            store,
            heartbeat_interval=heartbeat_interval,
            pending_interval=pending_interval,
            boot_policy=boot_policy,
        )
        hooks = pnc_hooks or PncHooks()
        hooks.ctx = self.context
        hooks.authority = hooks.authority or certificate_authority
        self._routers: dict[OcppVersion, GatedRouter] = {}
        for version in versions:
            router = GatedRouter(version, self.context.accepted)
            (install_v16 if version is OcppVersion.V16 else install_v2x)(router, self.context)
            install_certificate_signing(router, version, certificate_authority, hooks)
            if version is OcppVersion.V16:
                install_plug_and_charge(router, hooks)
            else:
                install_plug_and_charge_v2x(router, hooks)
            self._routers[version] = router
        self._on_connect: list[StationHook] = []
        self._on_disconnect: list[StationHook] = []
        self.server = OcppServer(
            dict(self._routers),
            auth=auth,
            security_profile=security_profile,
            validation=validation,
            call_timeout=call_timeout,
            on_connect=self._connected,
            on_disconnect=self._disconnected,
            # keep=0: no hook at all, so a log that is off costs nothing per frame
            on_frame=frame_log.hook if frame_log is not None and frame_log.enabled else None,
        )

    # -- configuration ---------------------------------------------------------------------------
    def router(self, version: OcppVersion) -> GatedRouter:
        """The router of ``version``: register handlers on it to replace a default."""
        return self._routers[version]

    def on_connect(self, hook: StationHook) -> StationHook:
        """Decorator: ``async hook(station)`` after a station connected."""
        self._on_connect.append(hook)
        return hook

    def on_disconnect(self, hook: StationHook) -> StationHook:
        """Decorator: ``async hook(station)`` after a station disconnected."""
        self._on_disconnect.append(hook)
        return hook

    def on_boot(self, hook: BootHook) -> BootHook:
        """Decorator: ``async hook(station_record)`` after each BootNotification was stored."""
        self.context.on_boot.append(hook)
        return hook

    # -- stations --------------------------------------------------------------------------------
    def station(self, identity: str) -> Station16 | Station201 | Station21:
        """The connected station ``identity`` with its typed commands; ``NotConnectedError`` if
        it is not connected."""
        conn = self.server.get(identity)
        if conn is None:
            raise NotConnectedError(f"{identity!r} is not connected")
        return station_for(conn)

    def set_heartbeat_interval(self, identity: str, seconds: int | None) -> None:
        """The heartbeat interval to give ``identity`` in its next boot reply (None: the default).

        A connected 1.6 station also takes it at once with
        ``station.change_configuration(key="HeartbeatInterval", value=str(seconds))``.
        """
        if seconds is None:
            self.context.heartbeat_overrides.pop(identity, None)
        elif seconds < 1:
            raise ValueError("a heartbeat interval is at least 1 second")
        else:
            self.context.heartbeat_overrides[identity] = seconds

    def is_accepted(self, identity: str) -> bool:
        """True once the station's last boot on this run was Accepted."""
        return identity in self.context.accepted

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        ssl: ssl.SSLContext | None = None,
        backend: Literal["websockets", "picows"] = "websockets",
    ) -> None:
        """Open the store, start the message log's writer and start serving; if serving cannot
        start (a port in use …), the log and the store are closed again before the error."""
        await self.store.open()
        try:
            # stations boot when they reboot, not when they reconnect: after a restart the ones
            # whose last boot was accepted stay accepted (their queued messages go through)
            self.context.accepted.update(
                s.id for s in await self.store.list_stations() if s.boot_status == "Accepted"
            )
            if self.message_log is not None:
                self.message_log.start()
            await self.server.start(host, port, ssl=ssl, backend=backend)
        except BaseException:
            if self.message_log is not None:
                await self.message_log.close()
            await self.store.close()
            raise
        if self.history_days is not None:
            self._pruner = asyncio.create_task(self._prune_periodically())

    async def close(self, grace: float = 5.0) -> None:
        """Stop serving (handlers finish within ``grace``), write what the message log still
        holds, then close the store."""
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        await self.server.close(grace)
        if self.message_log is not None:
            await self.message_log.close()
        await self.store.close()

    async def prune_history(self) -> int:
        """Delete the status reports and events received more than ``history_days`` ago (see
        the module docstring); returns how many went. ``start`` runs it every ``prune_interval``."""
        if self.history_days is None:
            return 0
        # the store's clock: the one its arrival marks were taken by
        before = self.store.clock() - timedelta(days=self.history_days)
        deleted = await self.store.prune_history(before)
        if deleted:
            log.info("history before %s pruned: %d status reports and events", before, deleted)
        return deleted

    # -- internals ---------------------------------------------------------------------------------
    async def _prune_periodically(self) -> None:
        while True:
            try:
                await self.prune_history()
            except Exception:  # a full disk, a locked file: the next round tries again
                log.exception("pruning the history failed")
            await asyncio.sleep(self.prune_interval)

    async def _connected(self, conn: OcppConnection, handshake: Handshake) -> None:
        # a station unknown so far is stored by its boot: connecting must not make it "known"
        if await self.store.get_station(conn.identity) is not None:
            await self.store.set_connected(conn.identity, True, self.context.clock())
        station = station_for(conn)
        for hook in self._on_connect:
            await hook(station)

    async def _disconnected(self, conn: OcppConnection) -> None:
        superseded = self.server.get(conn.identity) is not None
        known = await self.store.get_station(conn.identity) is not None
        if known and not superseded:
            await self.store.set_connected(conn.identity, False, self.context.clock())
        station = station_for(conn)
        for hook in self._on_disconnect:
            await hook(station)

    def __repr__(self) -> str:
        versions: Any = ", ".join(v.value for v in self._routers)
        return f"<Csms {versions}: {len(self.server.connections)} connected>"
