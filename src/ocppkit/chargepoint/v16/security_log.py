"""Security events and the security log (1.6 Security Whitepaper, edition 2): kept, sent, uploaded.

- Every event goes into a bounded security log (namespace ``"security_log"``, the newest
  ``capacity`` entries; for a critical event the oldest is dropped in the same atomic write that
  adds the new one, for others in deletes right after it).
- Critical events (the whitepaper's list, ``CRITICAL``) are also queued as
  SecurityEventNotification on the durable outbox, in the same atomic write as the log entry, so
  they reach the CSMS after any power loss or offline time.
- The stack raises: StartupOfTheDevice (``start``), ResetOrReboot (a Reset accepted),
  SettingSystemTime (the CSMS moved the clock by more than
  ``context.TIME_CHANGE_THRESHOLD``),
  ReconfigurationOfSecurityParameters (SecurityProfile, AuthorizationKey or CpoName changed — the
  event never carries the key), InvalidChargePointCertificate, InvalidFirmwareSigningCertificate,
  InvalidFirmwareSignature; the integrator raises its own (``ChargePoint16.security_event``:
  TamperDetectionActivated, FirmwareUpdated after the reboot …).
- GetLog: SecurityLog hands the log's text (entries within oldest/latestTimestamp) to
  ``ChargerCallbacks.upload_log``, DiagnosticsLog hands None (the integrator collects its own);
  the callback returns the file name (None: nothing to upload -> Rejected). A GetLog while an
  upload runs answers AcceptedCanceled. Progress comes from ``ChargePoint16.log_status`` as
  LogStatusNotification; ExtendedTriggerMessage(LogStatusNotification) repeats the last one
  (Idle when none runs).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ocppkit.chargepoint.state import dump_time, load_time
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.messages import v16
from ocppkit.runtime.router import Router

__all__ = ["CRITICAL", "SecurityLog"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "security_log"
CRITICAL = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
)
"""The events the whitepaper (edition 2) marks critical: sent to the CSMS, not only logged."""
_BUSY = ("Uploading",)


class SecurityLog:
    """The security log, security events and GetLog."""

    def __init__(self, ctx: StackContext, router: Router, *, capacity: int = 1000) -> None:
        self.ctx = ctx
        self.capacity = capacity
        self.entries: list[tuple[int, dict[str, Any]]] = []
        self.log_status: v16.UploadLogStatusEnumType = "Idle"
        self.log_request: int | None = None
        router.add(v16.GetLogRequest, self.get_log)

    async def load(self) -> None:
        """Restore the log."""
        stored = await self.ctx.store.load(_NS)
        self.entries = sorted((int(key), value) for key, value in stored.items())

    async def record(
        self, kind: str, tech_info: str | None = None, *, critical: bool | None = None
    ) -> None:
        """Log an event; a critical one (``CRITICAL`` unless ``critical`` says otherwise) is
        also queued for the CSMS, in the same write."""
        now = self.ctx.clock.now()
        number = self.entries[-1][0] + 1 if self.entries else 1
        entry = {"time": dump_time(now), "type": kind, "techInfo": tech_info}
        changes: dict[tuple[str, str], Any] = {(_NS, f"{number:012d}"): entry}
        dropped = self.entries[: max(0, len(self.entries) + 1 - self.capacity)]
        for old, _ in dropped:
            changes[(_NS, f"{old:012d}")] = None
        if kind in CRITICAL if critical is None else critical:
            request = v16.SecurityEventNotificationRequest(
                type=kind[:50], timestamp=now, tech_info=tech_info[:255] if tech_info else None
            )
            await self.ctx.outbox.put(request, tx=None, state=changes)
        else:
            await self.ctx.store.put_many(
                _NS, {key: value for (_, key), value in changes.items() if value is not None}
            )
            for old, _ in dropped:
                await self.ctx.store.delete(_NS, f"{old:012d}")
        self.entries = [*self.entries[len(dropped) :], (number, entry)]
        log.info("security event %s%s", kind, f" ({tech_info})" if tech_info else "")

    def text(self, oldest: datetime | None = None, latest: datetime | None = None) -> str:
        """The log as text, one event per line (``time type techInfo``), within the bounds."""
        lines = []
        for _, entry in self.entries:
            when = load_time(entry["time"])
            if (oldest is None or when >= oldest) and (latest is None or when <= latest):
                info = f" {entry['techInfo']}" if entry.get("techInfo") else ""
                lines.append(f"{entry['time']} {entry['type']}{info}")
        return "".join(line + "\n" for line in lines)

    async def get_log(self, req: v16.GetLogRequest, conn: Any) -> v16.GetLogResponse:
        """Hand the log to the integrator's ``upload_log`` and answer with its file name."""
        busy = self.log_status in _BUSY
        content = (
            self.text(req.log.oldest_timestamp, req.log.latest_timestamp)
            if req.log_type == "SecurityLog"
            else None
        )
        filename = await self.ctx.callbacks.upload_log(req, content)
        if filename is None:
            return v16.GetLogResponse(status="Rejected")
        self.log_request = req.request_id
        return v16.GetLogResponse(
            status="AcceptedCanceled" if busy else "Accepted", filename=filename[:255]
        )

    def status_changed(self, status: v16.UploadLogStatusEnumType, request_id: int | None) -> None:
        """The integrator's upload progressed: remember it and tell the CSMS."""
        self.log_status = status
        self.log_request = request_id if request_id is not None else self.log_request
        self.ctx.send(v16.LogStatusNotificationRequest(status=status, request_id=self.log_request))

    def status_request(self) -> v16.LogStatusNotificationRequest:
        """The LogStatusNotification for the current state (Idle when nothing runs)."""
        running = self.log_status in _BUSY
        return v16.LogStatusNotificationRequest(
            status=self.log_status if running else "Idle",
            request_id=self.log_request if running else None,
        )
