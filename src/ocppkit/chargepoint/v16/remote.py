"""What the CSMS asks of the charge point (1.6 CSMS -> charge point operations), as handlers.

Each handler answers from the stack's state; what must happen *after* the answer (a triggered
message, the start of a remotely started transaction, a reboot) runs in the router's
after-hook, so the reply always goes out first (1.6 TriggerMessage). Not accepted yet (boot
Pending): RemoteStart / RemoteStop are Rejected (1.6 §4.2).

- RemoteStartTransaction: a given connector must exist, be operative, not faulted and free;
  without one, the only free plugged connector, else the first free one. With
  ``AuthorizeRemoteTxRequests`` the idTag is authorised first; then it starts when plugged, or
  waits ``ConnectionTimeOut`` for the plug.
- RemoteStopTransaction: Accepted for a running transaction's id, then stopped (Remote).
- UnlockConnector: stops the connector's transaction (UnlockCommand), then unlocks through the
  callback (NotSupported when the integrator has no ``unlock``).
- Reset: ``is_reset_allowed`` first; after the answer every transaction is stopped
  (SoftReset / HardReset, queued durably) and the ``reset`` callback reboots.
- ChangeAvailability: connector 0 means every connector; Scheduled when a transaction runs on
  an affected connector (applied when it ends); the wanted availability is persisted
  (namespace ``"availability"``) and restored at start-up.
- TriggerMessage: every 1.6 message type; a connectorId that does not exist is Rejected.
- GetDiagnostics / UpdateFirmware: drive the integrator's callbacks; status notifications come
  from ``ChargePoint16.diagnostics_status`` / ``firmware_status``.
- ReserveNow / CancelReservation: the ``reservations`` block (``reservations.py``). A remote
  start on a reserved connector is Accepted only for a token that may match the reservation; its
  group (parentIdTag) is then learnt by authorising it (§5.13), whatever
  ``AuthorizeRemoteTxRequests`` says.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import msgspec

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.v16.boot import Boot
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.chargepoint.v16.meter import meter_value
from ocppkit.chargepoint.v16.reservations import Reservations
from ocppkit.chargepoint.v16.transactions import Transactions
from ocppkit.messages import v16
from ocppkit.runtime.router import Router

__all__ = ["Remote"]

log = logging.getLogger("ocppkit.chargepoint")

_TRIGGERS = frozenset(get_args(v16.MessageTrigger))
_AVAILABILITY = "availability"
_FIRMWARE = "firmware"
_SCHEDULED = "availability_scheduled"


class Remote:
    """The handlers of CSMS requests, registered on a 1.6 ``Router``."""

    def __init__(
        self,
        ctx: StackContext,
        boot: Boot,
        transactions: Transactions,
        router: Router,
        reservations: Reservations,
    ) -> None:
        self.ctx = ctx
        self.boot = boot
        self.tx = transactions
        self.reservations = reservations
        self.firmware_status: v16.FirmwareStatus = "Idle"
        self.diagnostics_status: v16.DiagnosticsStatus = "Idle"
        self.scheduled: dict[int, bool] = {}
        self._firmware: Handle | None = None
        self._firmware_request: v16.UpdateFirmwareRequest | None = None
        self.router = router
        self._extended: dict[str, Callable[[], Awaitable[None] | None]] = {}
        self.vendors: dict[
            str, Callable[[v16.DataTransferRequest], Awaitable[v16.DataTransferResponse]]
        ] = {}
        """DataTransfer vendorIds answered by a block of the stack (Plug & Charge)."""
        self.profile_error: Callable[[v16.ChargingProfile], str | None] | None = None
        """Smart charging's check of a remote start's charging profile (None: the
        SmartCharging profile is not supported, the profile is ignored)."""
        self._install()

    async def load(self) -> None:
        """Restore the availability the CSMS set (or scheduled) before a restart."""
        for key, operative in (await self.ctx.store.load(_AVAILABILITY)).items():
            connector = int(key)
            if 0 <= connector <= self.ctx.connectors.count:
                self.ctx.connectors.facts[connector].operative = bool(operative)
        for key, operative in (await self.ctx.store.load(_SCHEDULED)).items():
            self.scheduled[int(key)] = bool(operative)
        pending = (await self.ctx.store.load(_FIRMWARE)).get("pending")
        if pending is not None:
            self._arm_firmware(msgspec.convert(pending, v16.UpdateFirmwareRequest))
        self._cascade()

    async def transaction_ended(self, connector_id: int) -> None:
        """Apply an availability change scheduled behind the connector's transaction."""
        due = [connector_id]
        if not any(n in self.scheduled for n in self.tx.open) and 0 in self.scheduled:
            due.append(0)  # the charge point's own change waited for its last transaction
        for n in due:
            wanted = self.scheduled.get(n)
            if wanted is not None:  # applied first, forgotten after: a crash between re-applies
                await self._set_available([n], wanted)
                del self.scheduled[n]
                await self.ctx.store.delete(_SCHEDULED, str(n))

    async def apply_scheduled(self) -> None:
        """At start-up: apply scheduled changes whose transaction ended before a power loss
        let them be applied."""
        for n in [n for n in self.scheduled if n != 0 and n not in self.tx.open]:
            await self.transaction_ended(n)
        if 0 in self.scheduled and not self.tx.open:
            await self.transaction_ended(0)

    # -- registration ----------------------------------------------------------------------------
    def _install(self) -> None:
        r = self.router
        r.add(v16.RemoteStartTransactionRequest, self.remote_start)
        r.after(v16.RemoteStartTransactionRequest)(self._remote_start_after)
        r.add(v16.RemoteStopTransactionRequest, self.remote_stop)
        r.after(v16.RemoteStopTransactionRequest)(self._remote_stop_after)
        r.add(v16.UnlockConnectorRequest, self.unlock)
        r.add(v16.ResetRequest, self.reset)
        r.after(v16.ResetRequest)(self._reset_after)
        r.add(v16.ChangeAvailabilityRequest, self.change_availability)
        r.add(v16.TriggerMessageRequest, self.trigger)
        r.after(v16.TriggerMessageRequest)(self._trigger_after)
        r.add(v16.GetConfigurationRequest, self.get_configuration)
        r.add(v16.ChangeConfigurationRequest, self.change_configuration)
        r.add(v16.ClearCacheRequest, self.clear_cache)
        r.add(v16.SendLocalListRequest, self.send_local_list)
        r.add(v16.GetLocalListVersionRequest, self.get_local_list_version)
        r.add(v16.DataTransferRequest, self.data_transfer)
        r.add(v16.GetDiagnosticsRequest, self.get_diagnostics)
        r.add(v16.UpdateFirmwareRequest, self.update_firmware)
        r.after(v16.UpdateFirmwareRequest)(self._update_firmware_after)
        r.add(v16.ReserveNowRequest, self.reserve_now)
        r.add(v16.CancelReservationRequest, self.cancel_reservation)

    # -- transactions ----------------------------------------------------------------------------
    def _startable(self, connector_id: int, id_tag: str) -> bool:
        return (
            connector_id not in self.tx.open
            and self.tx.startable(connector_id)
            and self.reservations.admits(connector_id, id_tag, None, parent_known=False)
        )

    def _remote_connector(self, wanted: int | None, id_tag: str) -> int | None:
        ids = list(self.ctx.connectors.ids())
        if wanted is not None:
            return wanted if wanted in ids and self._startable(wanted, id_tag) else None
        free = [n for n in ids if self._startable(n, id_tag)]
        plugged = [n for n in free if self.ctx.connectors.facts[n].plugged]
        own = self.reservations.for_token(id_tag, None)
        reserved = [own.connector_id] if own is not None and own.connector_id in free else []
        chosen = reserved or plugged or free
        return chosen[0] if chosen else None

    def remote_start(
        self, req: v16.RemoteStartTransactionRequest, conn: Any
    ) -> v16.RemoteStartTransactionResponse:
        """Accepted when a connector can take the transaction (and its charging profile, if
        any, is a TxProfile without transactionId)."""
        ok = self.ctx.accepted and self._remote_connector(req.connector_id, req.id_tag) is not None
        if ok and req.charging_profile is not None and self.profile_error is not None:
            error = self.profile_error(req.charging_profile)
            if error is not None:
                log.info("remote start rejected: %s", error)
                ok = False
        return v16.RemoteStartTransactionResponse(status="Accepted" if ok else "Rejected")

    async def _remote_start_after(
        self, req: v16.RemoteStartTransactionRequest, resp: Any, conn: Any
    ) -> None:
        if resp.status != "Accepted":
            return
        connector = self._remote_connector(req.connector_id, req.id_tag)
        if connector is None:
            return
        info = None
        reservations = self.reservations
        group = not reservations.admits(connector, req.id_tag, None)
        if self.ctx.config.get_bool("AuthorizeRemoteTxRequests") or group:
            decision = await self.ctx.authorize(req.id_tag)
            if not decision.accepted:
                log.info("remote start: %s not authorised", req.id_tag)
                return
            info = decision.info
        parent = info.parent_id_tag if info else None
        if not reservations.admits(connector, req.id_tag, parent):
            log.info("remote start: connector %d is reserved for another idTag", connector)
            return
        profile = req.charging_profile if self.profile_error is not None else None
        if self.ctx.connectors.facts[connector].plugged:
            await self.tx.start(connector, req.id_tag, info, profile=profile)
        else:
            self.tx.wait_for_plug(connector, req.id_tag, info, profile)

    def remote_stop(
        self, req: v16.RemoteStopTransactionRequest, conn: Any
    ) -> v16.RemoteStopTransactionResponse:
        """Accepted for a running transaction."""
        ok = self.ctx.accepted and self.tx.find(req.transaction_id) is not None
        return v16.RemoteStopTransactionResponse(status="Accepted" if ok else "Rejected")

    async def _remote_stop_after(
        self, req: v16.RemoteStopTransactionRequest, resp: Any, conn: Any
    ) -> None:
        connector = self.tx.find(req.transaction_id)
        if resp.status == "Accepted" and connector is not None:
            await self.tx.stop(connector, "Remote")

    async def unlock(
        self, req: v16.UnlockConnectorRequest, conn: Any
    ) -> v16.UnlockConnectorResponse:
        """Stop the transaction, then unlock through the callback."""
        cb = self.ctx.callbacks
        supported = type(cb).unlock is not ChargerCallbacks.unlock
        if not supported or req.connector_id not in self.ctx.connectors.ids():
            return v16.UnlockConnectorResponse(status="NotSupported")
        await self.tx.stop(req.connector_id, "UnlockCommand")
        unlocked = await cb.unlock(req.connector_id)
        status: v16.UnlockStatus = (
            "NotSupported" if unlocked is None else "Unlocked" if unlocked else "UnlockFailed"
        )
        return v16.UnlockConnectorResponse(status=status)

    # -- reservations ------------------------------------------------------------------------------
    async def reserve_now(self, req: v16.ReserveNowRequest, conn: Any) -> v16.ReserveNowResponse:
        """Reserve a connector (0: the charge point) for an idTag until expiryDate."""
        return v16.ReserveNowResponse(status=await self.reservations.reserve(req))

    async def cancel_reservation(
        self, req: v16.CancelReservationRequest, conn: Any
    ) -> v16.CancelReservationResponse:
        """Accepted when the reservation exists (it ends now), else Rejected."""
        ok = await self.reservations.cancel(req.reservation_id)
        return v16.CancelReservationResponse(status="Accepted" if ok else "Rejected")

    # -- reset / availability ----------------------------------------------------------------------
    def reset(self, req: v16.ResetRequest, conn: Any) -> v16.ResetResponse:
        """Accepted when the integrator allows it now."""
        allowed = self.ctx.callbacks.is_reset_allowed(req.type)
        return v16.ResetResponse(status="Accepted" if allowed else "Rejected")

    async def _reset_after(self, req: v16.ResetRequest, resp: Any, conn: Any) -> None:
        if resp.status != "Accepted":
            return
        await self.tx.stop_all("SoftReset" if req.type == "Soft" else "HardReset")
        log.info("%s reset", req.type)
        if self.ctx.security_event is not None:
            await self.ctx.security_event("ResetOrReboot", f"{req.type} reset by the CSMS")
        await self.ctx.callbacks.reset(req.type)

    async def change_availability(
        self, req: v16.ChangeAvailabilityRequest, conn: Any
    ) -> v16.ChangeAvailabilityResponse:
        """Apply now, or Scheduled behind running transactions."""
        if req.connector_id != 0 and req.connector_id not in self.ctx.connectors.ids():
            return v16.ChangeAvailabilityResponse(status="Rejected")
        operative = req.type == "Operative"
        facts = self.ctx.connectors.facts
        affected = list(self.ctx.connectors.ids()) if req.connector_id == 0 else [req.connector_id]
        # a running transaction delays a change, not a request for the state already held
        busy = [n for n in affected if n in self.tx.open and facts[n].operative != operative]
        now = [n for n in affected if n not in busy]
        for n in now:
            if self.scheduled.pop(n, None) is not None:  # a newer request replaces it
                await self.ctx.store.delete(_SCHEDULED, str(n))
        if req.connector_id == 0:  # the charge point itself follows its last transaction
            (busy if busy else now).append(0)
        await self._set_available(now, operative)
        if busy:
            await self.ctx.store.put_many(_SCHEDULED, {str(n): operative for n in busy})
            self.scheduled.update(dict.fromkeys(busy, operative))
        return v16.ChangeAvailabilityResponse(status="Scheduled" if busy else "Accepted")

    async def _set_available(self, connectors: list[int], operative: bool) -> None:
        if not connectors:
            return
        await self.ctx.store.put_many(_AVAILABILITY, {str(n): operative for n in connectors})
        for n in connectors:
            self.ctx.connectors.facts[n].operative = operative
        self._cascade()
        for n in connectors:
            await self.ctx.callbacks.set_enabled(n, operative)

    def _cascade(self) -> None:
        """Every connector re-derives its status (connector 0 inoperative: all Unavailable)."""
        for n in range(self.ctx.connectors.count + 1):
            self.ctx.connectors.changed(n)

    # -- trigger -----------------------------------------------------------------------------------
    def trigger(self, req: v16.TriggerMessageRequest, conn: Any) -> v16.TriggerMessageResponse:
        """Accepted for every 1.6 message; Rejected for a connector that does not exist."""
        if req.connector_id is not None and not 0 <= req.connector_id <= self.ctx.connectors.count:
            return v16.TriggerMessageResponse(status="Rejected")
        return v16.TriggerMessageResponse(status="Accepted")

    async def _trigger_after(self, req: v16.TriggerMessageRequest, resp: Any, conn: Any) -> None:
        if resp.status != "Accepted":
            return
        await self._run_trigger(req.requested_message, req.connector_id)

    async def _run_trigger(self, what: v16.MessageTrigger, connector_id: int | None) -> None:
        """Send the triggered message (TriggerMessage and ExtendedTriggerMessage)."""
        actions: dict[str, Callable[[], Awaitable[None] | None]] = {
            "BootNotification": self.boot.boot_now,
            "Heartbeat": lambda: self.boot.heartbeat(),
            "StatusNotification": lambda: self.ctx.connectors.trigger(
                connector_id, lambda r: self.ctx.send(r, triggered=True)
            ),
            "MeterValues": lambda: self._trigger_meter(connector_id),
            "DiagnosticsStatusNotification": lambda: self.ctx.send(
                v16.DiagnosticsStatusNotificationRequest(status=self.diagnostics_status),
                triggered=True,
            ),
            "FirmwareStatusNotification": lambda: self.ctx.send(
                v16.FirmwareStatusNotificationRequest(status=self.firmware_status),
                triggered=True,
            ),
        }
        outcome = actions[what]()
        if outcome is not None:
            await outcome

    def install_extended_trigger(
        self, extra: dict[str, Callable[[], Awaitable[None] | None]]
    ) -> None:
        """Answer ExtendedTriggerMessage (Security Whitepaper): the TriggerMessage messages plus
        ``extra`` (LogStatusNotification, SignChargePointCertificate, the signed
        FirmwareStatusNotification); NotImplemented for one without an action."""
        self._extended = extra
        self.router.add(v16.ExtendedTriggerMessageRequest, self.extended_trigger)
        self.router.after(v16.ExtendedTriggerMessageRequest)(self._extended_after)

    def extended_trigger(
        self, req: v16.ExtendedTriggerMessageRequest, conn: Any
    ) -> v16.ExtendedTriggerMessageResponse:
        """Accepted, Rejected (no such connector) or NotImplemented."""
        known = req.requested_message in self._extended or req.requested_message in _TRIGGERS
        if not known:
            return v16.ExtendedTriggerMessageResponse(status="NotImplemented")
        if req.connector_id is not None and not 0 <= req.connector_id <= self.ctx.connectors.count:
            return v16.ExtendedTriggerMessageResponse(status="Rejected")
        return v16.ExtendedTriggerMessageResponse(status="Accepted")

    async def _extended_after(
        self, req: v16.ExtendedTriggerMessageRequest, resp: Any, conn: Any
    ) -> None:
        if resp.status != "Accepted":
            return
        action = self._extended.get(req.requested_message)
        if action is None:
            await self._run_trigger(req.requested_message, req.connector_id)  # type: ignore[arg-type]
            return
        outcome = action()
        if outcome is not None:
            await outcome

    def _trigger_meter(self, connector_id: int | None) -> None:
        ids = [connector_id] if connector_id is not None else list(self.ctx.connectors.ids())
        items = self.ctx.config.get_list("MeterValuesSampledData") or []
        for n in ids:
            readings = self.tx.readings.get(n, {}).values()
            value = meter_value(readings, items, "Trigger", self.ctx.clock.now())
            if value is None:
                continue
            record = self.tx.open.get(n)
            known = self.ctx.outbox.transaction_id(record["local"]) if record else None
            self.ctx.send(
                v16.MeterValuesRequest(connector_id=n, transaction_id=known, meter_value=[value]),
                triggered=True,
            )

    # -- configuration, authorisation data, data transfer -------------------------------------
    def get_configuration(
        self, req: v16.GetConfigurationRequest, conn: Any
    ) -> v16.GetConfigurationResponse:
        """From the configuration."""
        return self.ctx.config.get_configuration(req)

    async def change_configuration(
        self, req: v16.ChangeConfigurationRequest, conn: Any
    ) -> v16.ChangeConfigurationResponse:
        """Validated, persisted, then applied by the listeners."""
        return await self.ctx.config.change_configuration(req)

    async def clear_cache(self, req: v16.ClearCacheRequest, conn: Any) -> v16.ClearCacheResponse:
        """Empty the authorization cache."""
        return await self.ctx.authorizer.cache.clear()

    async def send_local_list(
        self, req: v16.SendLocalListRequest, conn: Any
    ) -> v16.SendLocalListResponse:
        """Full or differential update of the local list."""
        return await self.ctx.authorizer.local_list.apply(req)

    def get_local_list_version(
        self, req: v16.GetLocalListVersionRequest, conn: Any
    ) -> v16.GetLocalListVersionResponse:
        """The local list's version."""
        return v16.GetLocalListVersionResponse(
            list_version=self.ctx.authorizer.local_list.version()
        )

    async def data_transfer(
        self, req: v16.DataTransferRequest, conn: Any
    ) -> v16.DataTransferResponse:
        """A stack block's vendorId (Plug & Charge) first, else the integrator; UnknownVendorId
        by default."""
        block = self.vendors.get(req.vendor_id)
        if block is not None:
            return await block(req)
        answer = await self.ctx.callbacks.data_transfer(req.vendor_id, req.message_id, req.data)
        if answer is None:
            return v16.DataTransferResponse(status="UnknownVendorId")
        return v16.DataTransferResponse(status=answer[0], data=answer[1])

    # -- firmware / diagnostics ----------------------------------------------------------------
    async def get_diagnostics(
        self, req: v16.GetDiagnosticsRequest, conn: Any
    ) -> v16.GetDiagnosticsResponse:
        """The integrator uploads; the answer names the file (none: nothing to upload)."""
        name = await self.ctx.callbacks.upload_diagnostics(req)
        return v16.GetDiagnosticsResponse(file_name=name)

    def update_firmware(
        self, req: v16.UpdateFirmwareRequest, conn: Any
    ) -> v16.UpdateFirmwareResponse:
        """Always answered (1.6 UpdateFirmware.conf has no status)."""
        return v16.UpdateFirmwareResponse()

    async def _update_firmware_after(
        self, req: v16.UpdateFirmwareRequest, resp: Any, conn: Any
    ) -> None:
        await self.ctx.store.put(_FIRMWARE, "pending", msgspec.to_builtins(req))
        self._arm_firmware(req)

    def _arm_firmware(self, req: v16.UpdateFirmwareRequest) -> None:
        """Call the integrator at ``retrieve_date`` (persisted: a reboot before it re-arms)."""
        if self._firmware is not None:
            self._firmware.cancel()
        self._firmware_request = req
        delay = (req.retrieve_date - self.ctx.clock.now()).total_seconds()
        self._firmware = self.ctx.scheduler.call_later(delay, lambda: self._firmware_due(req))

    def rearm(self) -> None:
        """The wall clock was set: a pending firmware update's timer again from the new time."""
        if self._firmware_request is not None and self._firmware is not None:
            self._arm_firmware(self._firmware_request)

    def _firmware_due(self, req: v16.UpdateFirmwareRequest) -> None:
        self._firmware = None
        self.ctx.scheduler.spawn(self._install_firmware(req), "ocppkit firmware update")

    async def _install_firmware(self, req: v16.UpdateFirmwareRequest) -> None:
        await self.ctx.store.delete(_FIRMWARE, "pending")
        await self.ctx.callbacks.update_firmware(req)

    def cancel_timers(self) -> None:
        """Stop the firmware timer (at close; the pending update stays stored)."""
        if self._firmware is not None:
            self._firmware.cancel()
            self._firmware = None
