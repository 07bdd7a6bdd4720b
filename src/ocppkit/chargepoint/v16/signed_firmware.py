"""Signed firmware update (1.6 Security Whitepaper L01): certificate first, signature before
installing.

- SignedUpdateFirmware: the signing certificate must be issued directly by an installed
  ManufacturerRootCertificate and be valid now, else InvalidCertificate and an
  InvalidFirmwareSigningCertificate security event. Accepted (AcceptedCanceled when it replaces
  an update still pending): the request is stored (namespace ``"signed_firmware"``) and at
  ``retrieveDateTime`` (now when past; again after a restart) handed to
  ``ChargerCallbacks.update_signed_firmware``.
- The integrator downloads and calls ``ChargePoint16.verify_firmware(data)`` before installing:
  the stack checks the signature over the whole file, reports SignatureVerified or
  InvalidSignature (with an InvalidFirmwareSignature security event) and answers whether to
  install. Other progress comes from ``ChargePoint16.signed_firmware_status``; every status goes
  out as SignedFirmwareStatusNotification with the request's id.
- ExtendedTriggerMessage(FirmwareStatusNotification) repeats the last status (Idle after
  Installed or when none ran).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.messages import v16
from ocppkit.runtime.router import Router

__all__ = ["SignedFirmware"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "signed_firmware"


class SignedFirmware:
    """SignedUpdateFirmware and its status notifications."""

    def __init__(
        self,
        ctx: StackContext,
        router: Router,
        *,
        manufacturer_roots: Callable[[], list[Any]],
        raise_event: Callable[[str, str | None], Awaitable[None]],
    ) -> None:
        self.ctx = ctx
        self.manufacturer_roots = manufacturer_roots
        self.raise_event = raise_event
        self.request: v16.SignedUpdateFirmwareRequest | None = None
        self.status: v16.FirmwareStatusEnumType = "Idle"
        self._timer: Handle | None = None
        router.add(v16.SignedUpdateFirmwareRequest, self.update)

    async def load(self) -> None:
        """Re-arm an update accepted before a restart."""
        pending = (await self.ctx.store.load(_NS)).get("pending")
        if pending is not None:
            self._arm(msgspec.convert(pending, v16.SignedUpdateFirmwareRequest))

    def cancel_timers(self) -> None:
        """Stop waiting for the retrieve time."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def rearm(self) -> None:
        """The wall clock moved: wait for the retrieve time again."""
        if self.request is not None and self._timer is not None:
            self._arm(self.request)

    async def update(
        self, req: v16.SignedUpdateFirmwareRequest, conn: Any
    ) -> v16.SignedUpdateFirmwareResponse:
        """Check the signing certificate, then schedule the download."""
        from ocppkit.certificates import FirmwareCheckError
        from ocppkit.certificates.firmware import verify_signing_certificate

        try:
            verify_signing_certificate(
                req.firmware.signing_certificate, self.manufacturer_roots(), self.ctx.clock.now()
            )
        except FirmwareCheckError as exc:
            await self.raise_event("InvalidFirmwareSigningCertificate", str(exc)[:255])
            return v16.SignedUpdateFirmwareResponse(status="InvalidCertificate")
        replaced = self._timer is not None
        await self.ctx.store.put(_NS, "pending", msgspec.to_builtins(req))
        self._arm(req)
        return v16.SignedUpdateFirmwareResponse(
            status="AcceptedCanceled" if replaced else "Accepted"
        )

    def _arm(self, req: v16.SignedUpdateFirmwareRequest) -> None:
        self.cancel_timers()
        self.request = req
        delay = (req.firmware.retrieve_date_time - self.ctx.clock.now()).total_seconds()
        self._timer = self.ctx.scheduler.call_later(max(delay, 0.0), lambda: self._due(req))

    def _due(self, req: v16.SignedUpdateFirmwareRequest) -> None:
        self._timer = None
        self.ctx.scheduler.spawn(self._start(req), "ocppkit signed firmware update")

    async def _start(self, req: v16.SignedUpdateFirmwareRequest) -> None:
        await self.ctx.store.delete(_NS, "pending")
        await self.ctx.callbacks.update_signed_firmware(req)

    async def verify(self, data: bytes, now: datetime) -> bool:
        """Check ``data`` against the current request's signature; report the outcome."""
        req = self.request
        if req is None:
            raise RuntimeError("no signed firmware update is in progress")
        from ocppkit.certificates import FirmwareCheckError, verify_firmware

        try:
            verify_firmware(
                data,
                req.firmware.signature,
                req.firmware.signing_certificate,
                self.manufacturer_roots(),
                now,
            )
        except FirmwareCheckError as exc:
            event = (
                "InvalidFirmwareSignature"
                if exc.kind == "InvalidSignature"
                else "InvalidFirmwareSigningCertificate"
            )
            await self.raise_event(event, str(exc)[:255])
            self.report("InvalidSignature")
            return False
        self.report("SignatureVerified")
        return True

    def report(self, status: v16.FirmwareStatusEnumType) -> None:
        """Remember and send a status of the current update."""
        self.status = status
        self.ctx.send(self._notification(status))

    def status_request(self) -> v16.SignedFirmwareStatusNotificationRequest:
        """What ExtendedTriggerMessage(FirmwareStatusNotification) sends: the last status, Idle
        after Installed."""
        return self._notification("Idle" if self.status == "Installed" else self.status)

    def _notification(
        self, status: v16.FirmwareStatusEnumType
    ) -> v16.SignedFirmwareStatusNotificationRequest:
        request_id = self.request.request_id if self.request is not None else None
        return v16.SignedFirmwareStatusNotificationRequest(
            status=status, request_id=None if status == "Idle" else request_id
        )
