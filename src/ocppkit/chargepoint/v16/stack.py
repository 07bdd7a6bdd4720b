"""``ChargePoint16``: the OCPP 1.6 charge point stack — the integrator reports, the stack acts.

::

    cp = ChargePoint16(store=SqliteStateStore("cp.db"), link=link, clock=clock,
                       scheduler=scheduler, vendor="ACME", model="Wallbox", connectors=2,
                       callbacks=MyCharger())
    await cp.start()                   # restores state, closes transactions a power loss left
    cp.connected()                     # the adapter says so: boot, statuses, queued messages
    await cp.plug_in(1)
    await cp.present_token("04A2B3C4")  # authorised -> StartTransaction (durably queued)
    cp.meter(1, [Reading(1234.0)])     # Wh; sampled per MeterValueSampleInterval
    await cp.plug_out(1)               # -> StopTransaction (EVDisconnected)

The blocks (``boot``, ``connectors``, ``transactions``, ``outbox``, ``remote``, ``config``,
``authorization``, ``reservations``, ``smart_charging``, and with the Security profile
``security_log``, ``security_profile``, ``certificates``, ``signed_firmware``,
``plug_and_charge``) share one ``StackContext``. This class
only wires them and offers the integrator's API; ``ocppkit.chargepoint.asyncio_runtime
.run_charge_point`` runs it over a real websocket.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Literal

from ocppkit.chargepoint.runtime import Clock, Link, Scheduler
from ocppkit.chargepoint.state import StateStore
from ocppkit.chargepoint.v16.authorization import (
    AuthDecision,
    AuthorizationCache,
    Authorizer,
    LocalAuthList,
)
from ocppkit.chargepoint.v16.boot import Boot
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks, TransactionInfo
from ocppkit.chargepoint.v16.config import Configuration
from ocppkit.chargepoint.v16.config_keys import PROFILES
from ocppkit.chargepoint.v16.connectors import ConnectorError, Connectors, Reported
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.outbox import Outbox
from ocppkit.chargepoint.v16.remote import Remote
from ocppkit.chargepoint.v16.reservations import Reservations
from ocppkit.chargepoint.v16.security_log import SecurityLog
from ocppkit.chargepoint.v16.security_profile import SecurityProfiles
from ocppkit.chargepoint.v16.smart_charging import SmartCharging
from ocppkit.chargepoint.v16.transactions import Transactions
from ocppkit.messages import v16
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.router import Router
from ocppkit.smartcharging import Electrical

if TYPE_CHECKING:  # these import cryptography (the security extra)
    from ocppkit.chargepoint.v16.certificates import Certificates
    from ocppkit.chargepoint.v16.plug_and_charge import PlugAndCharge
    from ocppkit.chargepoint.v16.signed_firmware import SignedFirmware

__all__ = ["ChargePoint16"]

log = logging.getLogger("ocppkit.chargepoint")


class _ConfigAuthSettings:
    """The authorization block's settings, read from the configuration keys."""

    def __init__(self, config: Configuration) -> None:
        self.config = config

    def _flag(self, name: str) -> bool:
        return bool(self.config.get_bool(name))

    def local_pre_authorize(self) -> bool:
        return self._flag("LocalPreAuthorize")

    def local_authorize_offline(self) -> bool:
        return self._flag("LocalAuthorizeOffline")

    def allow_offline_tx_for_unknown_id(self) -> bool:
        return self._flag("AllowOfflineTxForUnknownId")

    def cache_enabled(self) -> bool:
        return self._flag("AuthorizationCacheEnabled")

    def local_list_enabled(self) -> bool:
        return self._flag("LocalAuthListEnabled")

    def local_list_max_length(self) -> int:
        return self.config.get_int("LocalAuthListMaxLength") or 0

    def send_local_list_max_length(self) -> int:
        return self.config.get_int("SendLocalListMaxLength") or 0


class ChargePoint16:
    """One OCPP 1.6 charge point (see the module docstring)."""

    def __init__(
        self,
        *,
        store: StateStore,
        link: Link,
        clock: Clock,
        scheduler: Scheduler,
        vendor: str,
        model: str,
        connectors: int = 1,
        callbacks: ChargerCallbacks | None = None,
        serial_number: str | None = None,
        firmware_version: str | None = None,
        profiles: tuple[str, ...] = PROFILES,
        config_defaults: Mapping[str, str | None] | None = None,
        boot_retry: int = 60,
        electrical: Electrical | None = None,
        identity: str | None = None,
        key_passphrase: bytes | None = None,
        key_type: Literal["EC", "RSA"] = "EC",
    ) -> None:
        if connectors < 1:
            raise ValueError("a charge point has at least one connector")
        self.store = store
        self.link = link
        self.clock = clock
        self.scheduler = scheduler
        self.callbacks = callbacks or ChargerCallbacks()
        self.connector_count = connectors
        self.profiles = profiles
        self.config_defaults = dict(config_defaults or {})
        self.boot_request = v16.BootNotificationRequest(
            charge_point_vendor=vendor,
            charge_point_model=model,
            charge_point_serial_number=serial_number,
            firmware_version=firmware_version,
        )
        self.boot_retry = boot_retry
        self.electrical = electrical or Electrical()
        """Nominal voltage, default phases and hardware maximum current per connector (smart
        charging converts A/W with them and fills gaps with the maximum)."""
        self.identity = identity
        """The charge point's identity (the CN of its certificate requests; the adapter fills it
        in from the connection URL when None)."""
        self.key_passphrase = key_passphrase
        """Encrypts the private keys the stack keeps (None: stored unencrypted, with a warning)."""
        self.key_type = key_type
        self.router = Router(OcppVersion.V16)
        self._ctx: StackContext | None = None
        self._boot: Boot | None = None
        self._tx: Transactions | None = None
        self._remote: Remote | None = None
        self._reservations: Reservations | None = None
        self._smart: SmartCharging | None = None
        self._security: SecurityLog | None = None
        self._certificates: Certificates | None = None
        self._signed_firmware: SignedFirmware | None = None
        self._pnc: PlugAndCharge | None = None

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, restore state, close transactions a power loss left open."""
        await self.store.open()
        config = await Configuration.load(
            self.store,
            number_of_connectors=self.connector_count,
            profiles=self.profiles,
            defaults=self.config_defaults,
        )
        config.on_any_change(self.callbacks.configuration_changed)
        link = self.link

        async def send_authorize(id_tag: str) -> v16.IdTagInfo:
            if self._ctx is None or not self._ctx.can_send():
                raise ConnectionError("offline")
            response: v16.AuthorizeResponse = await self._ctx.call(
                v16.AuthorizeRequest(id_tag=id_tag)
            )
            return response.id_tag_info

        settings = _ConfigAuthSettings(config)
        authorizer = Authorizer(
            settings,
            LocalAuthList(self.store, settings, self.clock.now),
            AuthorizationCache(self.store, settings, self.clock.now),
            send_authorize,
        )
        await authorizer.load()
        connectors = Connectors(
            self.connector_count,
            clock=self.clock,
            scheduler=self.scheduler,
            send=lambda request: ctx.send(request),
            min_duration=lambda: config.get_int("MinimumStatusDuration") or 0,
            on_change=self._status_changed,
        )
        outbox = Outbox(
            self.store,
            call=lambda request: ctx.call(request),
            clock=self.clock,
            scheduler=self.scheduler,
            ready=lambda: ctx.can_send(),
            attempts=lambda: config.get_int("TransactionMessageAttempts") or 1,
            retry_interval=lambda: config.get_int("TransactionMessageRetryInterval") or 0,
            on_result=lambda entry, response: self.transactions.answered(entry, response),
        )
        await outbox.open()
        ctx = StackContext(
            clock=self.clock,
            scheduler=self.scheduler,
            link=link,
            store=self.store,
            config=config,
            connectors=connectors,
            outbox=outbox,
            authorizer=authorizer,
            callbacks=self.callbacks,
        )
        self._ctx = ctx
        self._boot = Boot(ctx, self.boot_request, retry_default=self.boot_retry)
        self._reservations = Reservations(ctx)
        self._tx = Transactions(ctx, self._reservations)
        self._remote = Remote(ctx, self._boot, self._tx, self.router, self._reservations)
        if "SmartCharging" in self.profiles:
            smart = self._smart = SmartCharging(ctx, self._tx, self.router, self.electrical)
            self._remote.profile_error = smart.remote_start_profile_error
            self._tx.on_started = smart.transaction_started
            ctx.on_time_set.append(smart.apply)
        self._tx.on_stopped = self._transaction_ended
        await self._remote.load()
        await self._tx.recover()
        await self._remote.apply_scheduled()
        ctx.on_time_set += [
            self._tx.schedule_aligned,
            self._remote.rearm,
            self.reservations.rearm,
        ]
        await self._reservations.load()
        if self._smart is not None:
            await self._smart.load()
        if "Security" in self.profiles:
            await self._start_security(ctx)
        self._tx.schedule_aligned()
        config.on_change("ClockAlignedDataInterval", lambda _: self.transactions.schedule_aligned())

    async def _start_security(self, ctx: StackContext) -> None:
        """The Security Whitepaper blocks: the security log always; certificates, signed
        firmware and Plug & Charge when ``cryptography`` is installed (the ``security`` extra;
        imported only when a certificate is first handled)."""
        security = self._security = SecurityLog(ctx, self.router)
        await security.load()
        ctx.security_event = security.record
        SecurityProfiles(ctx, security)
        extra: dict[str, Callable[[], Awaitable[None] | None]] = {
            "LogStatusNotification": lambda: ctx.send(security.status_request(), triggered=True)
        }
        if importlib.util.find_spec("cryptography") is None:
            log.warning("no certificate management: pip install ocppkit[security] for it")
        else:  # the blocks import cryptography on first use, not now
            from ocppkit.chargepoint.v16.certificates import Certificates
            from ocppkit.chargepoint.v16.signed_firmware import SignedFirmware

            serial = self.boot_request.charge_point_serial_number
            certs = self._certificates = Certificates(
                ctx, self.router, common_name=lambda: self.identity or serial,
                passphrase=self.key_passphrase, key_type=self.key_type, raise_event=security.record,
            )  # fmt: skip
            firmware = self._signed_firmware = SignedFirmware(
                ctx, self.router,
                manufacturer_roots=lambda: certs.roots("ManufacturerRootCertificate"),
                raise_event=security.record,
            )  # fmt: skip
            from ocppkit.iso15118.tunnel import VENDOR_ID

            self.remote.vendors[VENDOR_ID] = self._plug_and_charge_message
            await certs.load()
            await firmware.load()
            ctx.on_time_set.append(firmware.rearm)
            extra["SignChargePointCertificate"] = certs.renew_in_background
            extra["FirmwareStatusNotification"] = lambda: ctx.send(
                firmware.status_request(), triggered=True
            )
        self.remote.install_extended_trigger(extra)
        await security.record("StartupOfTheDevice")

    async def _transaction_ended(self, connector_id: int) -> None:
        if self._smart is not None:
            await self._smart.transaction_ended(connector_id)
        await self.remote.transaction_ended(connector_id)

    def _status_changed(self, connector_id: int, now: Reported) -> None:
        self.callbacks.status_changed(connector_id, now.status, now.error_code)
        if self._reservations is not None:  # Faulted / Unavailable end reservations
            self._reservations.status_changed(connector_id, now)

    async def close(self) -> None:
        """Stop every timer and background task, then close the store. Queued messages stay
        queued (and open transactions open) for the next start."""
        if self._ctx is not None:
            self._ctx.closing = True
            self.boot.disconnected()
            self.outbox.stop()
            self.transactions.cancel_timers()
            self.reservations.cancel_timers()
            self.remote.cancel_timers()
            if self._smart is not None:
                self._smart.cancel_timers()
            if self._certificates is not None:
                self._certificates.cancel_timers()
            if self._signed_firmware is not None:
                self._signed_firmware.cancel_timers()
            await self.scheduler.drain()
        await self.store.close()

    def connected(self) -> None:
        """The adapter opened the websocket: boot, or re-send statuses and queued messages."""
        self.callbacks.connection_changed(True)
        self.boot.connected()

    def disconnected(self) -> None:
        """The adapter lost the websocket."""
        self.callbacks.connection_changed(False)
        self.boot.disconnected()

    # -- blocks --------------------------------------------------------------------------------
    @property
    def context(self) -> StackContext:
        """The shared context (after ``start``)."""
        if self._ctx is None:
            raise RuntimeError("call start() first")
        return self._ctx

    @property
    def config(self) -> Configuration:
        """The configuration keys."""
        return self.context.config

    @property
    def connectors(self) -> Connectors:
        """The connectors' facts and statuses."""
        return self.context.connectors

    @property
    def outbox(self) -> Outbox:
        """The queue of transaction messages."""
        return self.context.outbox

    @property
    def boot(self) -> Boot:
        """Boot and heartbeat."""
        if self._boot is None:
            raise RuntimeError("call start() first")
        return self._boot

    @property
    def transactions(self) -> Transactions:
        """The transactions block."""
        if self._tx is None:
            raise RuntimeError("call start() first")
        return self._tx

    @property
    def reservations(self) -> Reservations:
        """The reservations (ReserveNow / CancelReservation)."""
        if self._reservations is None:
            raise RuntimeError("call start() first")
        return self._reservations

    @property
    def smart_charging(self) -> SmartCharging:
        """Charging profiles, composite schedules and the limits applied (``RuntimeError``
        when the SmartCharging profile is not among ``profiles``)."""
        if self._smart is None:
            raise RuntimeError(
                "SmartCharging is not supported by this charge point (or not started)"
            )
        return self._smart

    @property
    def security_log(self) -> SecurityLog:
        """The security log and its events (``RuntimeError`` without the Security profile)."""
        if self._security is None:
            raise RuntimeError("the Security profile is not supported (or not started)")
        return self._security

    @property
    def has_certificates(self) -> bool:
        """Certificate management runs (the Security profile and ``cryptography``)."""
        return self._certificates is not None

    @property
    def certificates(self) -> Certificates:
        """Installed roots and the charge point's certificate (``RuntimeError`` without the
        Security profile or without ``cryptography``)."""
        if self._certificates is None:
            raise RuntimeError("certificates need the Security profile and ocppkit[security]")
        return self._certificates

    async def _plug_and_charge_message(
        self, request: v16.DataTransferRequest
    ) -> v16.DataTransferResponse:
        return await self.plug_and_charge.handle(request)

    @property
    def plug_and_charge(self) -> PlugAndCharge:
        """ISO 15118 Plug & Charge over DataTransfer, made on first use (its 2.0.1 messages are
        not loaded before); ``RuntimeError`` without the Security profile or ``cryptography``."""
        if self._pnc is None:
            if self._certificates is None or self._security is None:
                raise RuntimeError("Plug & Charge needs the Security profile and ocppkit[security]")
            from ocppkit.chargepoint.v16.plug_and_charge import PlugAndCharge

            self._pnc = PlugAndCharge(
                self.context, self._certificates, raise_event=self._security.record
            )
        return self._pnc

    @property
    def remote(self) -> Remote:
        """The CSMS-initiated operations."""
        if self._remote is None:
            raise RuntimeError("call start() first")
        return self._remote

    # -- what the hardware reports ---------------------------------------------------------------
    async def plug_in(self, connector_id: int) -> None:
        """A cable was plugged in."""
        self.connectors.check(connector_id)
        await self.transactions.plugged(connector_id)

    async def plug_out(self, connector_id: int) -> None:
        """The cable was unplugged."""
        self.connectors.check(connector_id)
        await self.transactions.unplugged(connector_id)

    async def present_token(self, id_tag: str, connector_id: int | None = None) -> bool:
        """A token (RFID …) was presented, for one connector or the charge point."""
        if connector_id is not None:
            self.connectors.check(connector_id)
        return await self.transactions.present_token(id_tag, connector_id)

    def ev_suspended(self, connector_id: int, suspended: bool = True) -> None:
        """The EV stopped (or resumed) taking energy."""
        self._fact(connector_id, "ev_suspended", suspended)

    def evse_suspended(self, connector_id: int, suspended: bool = True) -> None:
        """The EVSE stopped (or resumed) offering energy."""
        self._fact(connector_id, "evse_suspended", suspended)

    def _fact(self, connector_id: int, name: str, value: bool) -> None:
        self.connectors.check(connector_id)
        setattr(self.connectors.facts[connector_id], name, value)
        self.connectors.changed(connector_id)

    def meter(self, connector_id: int, readings: list[Reading]) -> None:
        """New meter readings of a connector (0: the main meter)."""
        self.connectors.check(connector_id, zero=True)
        self.transactions.meter(connector_id, readings)

    async def sample_meter(self, connector_id: int) -> None:
        """Send the connector's readings now as a periodic sample (for integrators that pace
        metering themselves; ``MeterValueSampleInterval`` does it on a timer)."""
        self.connectors.check(connector_id, zero=True)
        await self.transactions.sample_now(connector_id)

    def offered(
        self, connector_id: int, *, amps: float | None = None, watts: float | None = None
    ) -> None:
        """The maximum current / power the connector offers the EV now (sampled as
        ``Current.Offered`` / ``Power.Offered`` when the measurand lists ask for them)."""
        readings = []
        if amps is not None:
            readings.append(Reading(amps, "Current.Offered"))
        if watts is not None:
            readings.append(Reading(watts, "Power.Offered"))
        self.meter(connector_id, readings)

    def connector_enabled(self, connector_id: int, enabled: bool) -> None:
        """The hardware took the connector out of service (or back): Unavailable while
        disabled, whatever the CSMS set with ChangeAvailability."""
        self._fact(connector_id, "disabled", not enabled)

    async def security_event(
        self, kind: str, tech_info: str | None = None, *, critical: bool | None = None
    ) -> None:
        """A security event (the whitepaper's list or the integrator's own): kept in the
        security log; a critical one (the whitepaper's, or ``critical=True``) is also sent as
        SecurityEventNotification through the durable queue. Without the Security profile every
        event is sent."""
        if self._security is not None:
            await self._security.record(kind, tech_info, critical=critical)
            return
        request = v16.SecurityEventNotificationRequest(
            type=kind, timestamp=self.clock.now(), tech_info=tech_info
        )
        await self.outbox.put(request, tx=None)

    def log_status(
        self, status: v16.UploadLogStatusEnumType, request_id: int | None = None
    ) -> None:
        """Log upload progress (sent as LogStatusNotification)."""
        self.security_log.status_changed(status, request_id)

    async def verify_firmware(self, data: bytes) -> bool:
        """Check downloaded firmware against the SignedUpdateFirmware's signature (reports
        SignatureVerified / InvalidSignature); install only when True."""
        if self._signed_firmware is None:
            raise RuntimeError("signed firmware needs the Security profile and ocppkit[security]")
        return await self._signed_firmware.verify(data, self.clock.now())

    def signed_firmware_status(self, status: v16.FirmwareStatusEnumType) -> None:
        """Signed firmware progress (sent as SignedFirmwareStatusNotification)."""
        if self._signed_firmware is None:
            raise RuntimeError("signed firmware needs the Security profile and ocppkit[security]")
        self._signed_firmware.report(status)

    def raise_error(self, connector_id: int, error: ConnectorError) -> None:
        """An error became active (a fault makes the connector Faulted)."""
        self.connectors.check(connector_id, zero=True)
        self.connectors.raise_error(connector_id, error)

    def clear_error(self, connector_id: int, code: str | None = None) -> None:
        """Errors of a connector ended (those with ``code``; all when None)."""
        self.connectors.check(connector_id, zero=True)
        self.connectors.clear_error(connector_id, code)

    def firmware_status(self, status: v16.FirmwareStatus) -> None:
        """Firmware download / installation progress (sent as FirmwareStatusNotification)."""
        self.remote.firmware_status = status
        self.context.send(v16.FirmwareStatusNotificationRequest(status=status))

    def diagnostics_status(self, status: v16.DiagnosticsStatus) -> None:
        """Diagnostics upload progress (sent as DiagnosticsStatusNotification)."""
        self.remote.diagnostics_status = status
        self.context.send(v16.DiagnosticsStatusNotificationRequest(status=status))

    # -- direct calls ----------------------------------------------------------------------------
    async def authorize(self, id_tag: str) -> AuthDecision:
        """Authorize a token by the configured rules (local list, cache, CSMS)."""
        return await self.context.authorize(id_tag)

    async def start_transaction(self, connector_id: int, id_tag: str) -> TransactionInfo:
        """Start a transaction now, the token already authorised by the integrator
        (``ValueError`` on a connector reserved for another idTag)."""
        self.connectors.check(connector_id)
        return await self.transactions.start(connector_id, id_tag)

    async def stop_transaction(
        self, connector_id: int, reason: v16.Reason = "Local"
    ) -> TransactionInfo | None:
        """Stop the connector's transaction (None when none runs)."""
        self.connectors.check(connector_id)
        return await self.transactions.stop(connector_id, reason)

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> v16.DataTransferResponse:
        """Send a DataTransfer to the CSMS now (``NotConnectedError`` offline)."""
        request = v16.DataTransferRequest(vendor_id=vendor_id, message_id=message_id, data=data)
        response: v16.DataTransferResponse = await self.context.call(request)
        return response
