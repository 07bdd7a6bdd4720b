"""What the stack asks of the charger: override the methods your hardware supports.

::

    class MyCharger(ChargerCallbacks):
        async def set_energy(self, connector_id, allowed):   # open / close the contactor
            relay[connector_id].set(allowed)

        async def unlock(self, connector_id):
            return lock[connector_id].release()

Every method has a safe default: nothing happens, unsupported operations answer NotSupported /
Rejected, and the notifications are ignored. Callbacks run on the stack's event loop; keep them
short or hand long work to a task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from ocppkit.messages import v16
from ocppkit.smartcharging import ChargingLimit

__all__ = ["ChargerCallbacks", "ReservationEndReason", "ReservationInfo", "TransactionInfo"]


@dataclass(frozen=True)
class TransactionInfo:
    """A transaction as the integrator sees it."""

    local_id: str
    connector_id: int
    id_tag: str
    meter_start_wh: int
    started: datetime
    transaction_id: int | None = None
    meter_stop_wh: int | None = None
    stopped: datetime | None = None
    reason: v16.Reason | None = None


@dataclass(frozen=True)
class ReservationInfo:
    """A reservation (ReserveNow) as the integrator sees it."""

    reservation_id: int
    connector_id: int
    """The reserved connector; 0: any one connector of the charge point."""
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None


ReservationEndReason: TypeAlias = Literal[
    "Used", "Expired", "Cancelled", "Replaced", "Faulted", "Unavailable"
]
"""Why a reservation ended: its transaction started, expiryDate passed, CancelReservation, a
ReserveNow with its id replaced it, or its connector (or the charge point) became Faulted /
Unavailable."""


class ChargerCallbacks:
    """The charger's side of the stack (defaults: no hardware behind it)."""

    # -- commands to the hardware ------------------------------------------------------------
    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        """Offer energy on the connector (transaction running and authorised) or stop it."""

    def apply_limit(self, connector_id: int, limit: ChargingLimit) -> None:
        """Keep the connector within ``limit`` from now on (smart charging: called at start-up,
        when profiles or transactions change and when a schedule changes period, only for
        connectors whose limit changed; connector 0: the station's total, the connectors' own
        limits summed and capped by StationMax). Without any profile
        the limit is the configured hardware maximum."""

    async def set_enabled(self, connector_id: int, enabled: bool) -> None:
        """The connector became operative / inoperative (ChangeAvailability)."""

    async def unlock(self, connector_id: int) -> bool | None:
        """Unlock the cable: True unlocked, False failed, None not supported (the default)."""
        return None

    def is_reset_allowed(self, kind: v16.ResetType) -> bool:
        """May the charge point reset now? (default: yes)"""
        return True

    async def reset(self, kind: v16.ResetType) -> None:
        """Reboot (transactions are stopped and queued before this is called)."""

    async def update_firmware(self, request: v16.UpdateFirmwareRequest) -> None:
        """Download (``location``, ``retries`` × ``retry_interval``) and install firmware, now
        (the stack calls this at ``retrieve_date``); report progress with
        ``ChargePoint16.firmware_status``."""

    async def upload_diagnostics(self, request: v16.GetDiagnosticsRequest) -> str | None:
        """Start uploading diagnostics (``start_time``..``stop_time``) to ``location``; return
        the file name (None: nothing to upload). Report progress with
        ``ChargePoint16.diagnostics_status``."""
        return None

    async def update_signed_firmware(self, request: v16.SignedUpdateFirmwareRequest) -> None:
        """Download ``request.firmware.location`` now (the stack calls this at its
        ``retrieveDateTime``; its signing certificate is already checked), then call
        ``ChargePoint16.verify_firmware(data)`` and install only when it returns True; report
        progress with ``ChargePoint16.signed_firmware_status``."""

    async def upload_log(self, request: v16.GetLogRequest, security_log: str | None) -> str | None:
        """Start uploading a log to ``request.log.remote_location``: ``security_log`` is the
        stack's security log as text (None for a DiagnosticsLog: collect your own); return the
        file name (None: nothing to upload, Rejected). Report progress with
        ``ChargePoint16.log_status``."""
        return None

    async def set_system_time(self, now: datetime) -> None:
        """The CSMS's time (from BootNotification / Heartbeat answers)."""

    # -- notifications ---------------------------------------------------------------------------
    def configuration_changed(self, key: str, value: str) -> None:
        """A configuration key was changed by the CSMS."""

    def certificate_installed(self, chain_pem: str) -> None:
        """A new charge point certificate was installed (CertificateSigned); the stack uses it
        for TLS from the next connection (at once on security profile 3)."""

    def v2g_certificate_installed(self, chain_pem: str, key_pem: str) -> None:
        """A new ISO 15118 SECC (V2G) certificate arrived through Plug & Charge: hand the chain
        and its private key (PEM, unencrypted) to the ISO 15118 stack."""

    def connection_changed(self, connected: bool) -> None:
        """The websocket to the CSMS opened or closed."""

    def status_changed(
        self, connector_id: int, status: v16.ChargePointStatus, error_code: str
    ) -> None:
        """A connector's status or error changed (before the debounce of its report)."""

    def boot_answered(self, status: v16.RegistrationStatus, interval: int) -> None:
        """The CSMS answered a BootNotification."""

    def transaction_started(self, tx: TransactionInfo) -> None:
        """A transaction started (its StartTransaction is queued)."""

    def transaction_updated(self, tx: TransactionInfo) -> None:
        """The CSMS gave the transaction its id, or refused its idTag."""

    def transaction_stopped(self, tx: TransactionInfo) -> None:
        """A transaction stopped (its StopTransaction is queued)."""

    def reservation_started(self, reservation: ReservationInfo) -> None:
        """The CSMS reserved a connector (or, connector 0, the charge point) for an idTag."""

    def reservation_ended(self, reservation: ReservationInfo, reason: ReservationEndReason) -> None:
        """A reservation ended (and the connector is no longer held for its idTag)."""

    async def data_transfer(
        self, vendor_id: str, message_id: str | None, data: str | None
    ) -> tuple[v16.DataTransferStatus, str | None] | None:
        """A DataTransfer from the CSMS: ``(status, data)``, or None for UnknownVendorId."""
        return None
