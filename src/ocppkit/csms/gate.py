"""A router that refuses CALLs from stations that are not (yet) Accepted.

OCPP 1.6 errata 3.10 recommends, and 2.0.1 B02/B03 require, answering ``SecurityError`` to
anything but BootNotification from a station whose boot was not Accepted. The check wraps each
handler at registration, keeping plain handlers plain (inline) and async ones async.

**Pending stations send what the CSMS asked for.** While its boot is Pending, the CSMS may
configure and query a station, and the station sends only the messages the CSMS requested
(2.0.1/2.1 B02.FR.02; 1.6 BootNotification Pending: the Central System may retrieve
information and change configuration). So a station whose last BootNotification was answered
Pending gets through the gate with the actions the CSMS asked it for on this connection:

- ``TriggerMessage`` (1.6 also ``ExtendedTriggerMessage``): the ``requestedMessage``'s action;
  every certificate trigger (1.6 ``SignChargePointCertificate``, 2.x
  ``SignChargingStationCertificate`` / ``SignV2GCertificate`` / ``SignCombinedCertificate``,
  2.1 ``SignV2G20Certificate``) is ``SignCertificate``. 2.1 ``CustomTrigger`` names no action:
  open what it triggers with ``allow``.
- the requests a station answers with later messages (``FOLLOW_UPS``): GetBaseReport /
  GetReport -> NotifyReport, GetMonitoringReport -> NotifyMonitoringReport, GetLog ->
  LogStatusNotification, UpdateFirmware -> FirmwareStatusNotification, CustomerInformation ->
  NotifyCustomerInformation, GetDisplayMessages -> NotifyDisplayMessages, GetChargingProfiles
  -> ReportChargingProfiles, PublishFirmware -> PublishFirmwareStatusNotification, 2.1
  GetDERControl -> ReportDERControl, 1.6 GetDiagnostics -> DiagnosticsStatusNotification and
  SignedUpdateFirmware -> SignedFirmwareStatusNotification.

An action opens once the station's response does not refuse the request: its ``status`` is
``Accepted`` or ``AcceptedCanceled`` (responses without a status, e.g. 1.6 UpdateFirmware, always
do); a refusal (``Rejected``, ``NotImplemented``, ``EmptyResultSet``, …), a CALLERROR or a timeout
opens nothing. While the request awaits its response the action is open provisionally: the
station answers a TriggerMessage before it sends what was asked (1.6 TriggerMessage, 2.0.1 F06),
and both frames may be read at once, before the CSMS task awaiting the response has run.

**Bound:** what was opened stays open until the station's next BootNotification (whatever its
outcome: a new boot starts from nothing, including requests still awaiting their response) or
the end of the connection. Once the station is Accepted the gate no longer applies. Stations that
were Rejected, or have not booted since this CSMS started (Pending is known from the boots this
router answered, not from the store), stay refused whatever the CSMS sent them.

``Station.call`` (so every typed command of ``csms.station(...)`` / ``station_for(conn)``) sends
through ``GatedRouter.call``; a plain ``conn.call(...)`` does not: pass its request and response
to ``allow_after`` yourself, or use ``station_for(conn)``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from ocppkit.messages import actions, v16, v21, v201
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import SecurityError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import AnswerAfter, Resp, Router, TypedHandler

__all__ = ["FOLLOW_UPS", "TRIGGERED_ACTIONS", "GatedRouter"]

R = TypeVar("R")

_UNGATED = frozenset({"BootNotification"})

TRIGGERED_ACTIONS: Mapping[str, str | None] = {
    # the certificate triggers are answered with SignCertificate
    "SignChargePointCertificate": "SignCertificate",  # 1.6 ExtendedTriggerMessage
    "SignChargingStationCertificate": "SignCertificate",  # 2.x
    "SignV2GCertificate": "SignCertificate",  # 2.x
    "SignCombinedCertificate": "SignCertificate",  # 2.x
    "SignV2G20Certificate": "SignCertificate",  # 2.1
    "CustomTrigger": None,  # 2.1: vendor-defined by customTrigger, no action to open
}
"""``requestedMessage`` values whose action is not the value itself (None: no action)."""

FOLLOW_UPS: Mapping[str, tuple[str, ...]] = {
    "GetBaseReport": ("NotifyReport",),
    "GetReport": ("NotifyReport",),
    "GetMonitoringReport": ("NotifyMonitoringReport",),
    "GetLog": ("LogStatusNotification",),
    "UpdateFirmware": ("FirmwareStatusNotification",),
    "CustomerInformation": ("NotifyCustomerInformation",),
    "GetDisplayMessages": ("NotifyDisplayMessages",),
    "GetChargingProfiles": ("ReportChargingProfiles",),
    "PublishFirmware": ("PublishFirmwareStatusNotification",),
    "GetDERControl": ("ReportDERControl",),  # 2.1
    "GetDiagnostics": ("DiagnosticsStatusNotification",),  # 1.6
    "SignedUpdateFirmware": ("SignedFirmwareStatusNotification",),  # 1.6 security
}
"""CSMS request action -> the station actions that report its outcome later."""

_TRIGGERS = (
    v16.TriggerMessageRequest,
    v16.ExtendedTriggerMessageRequest,
    v201.TriggerMessageRequest,
    v21.TriggerMessageRequest,
)
_OPENING_STATUSES = frozenset({"Accepted", "AcceptedCanceled"})


def _opens(response: Any) -> bool:
    """True unless the response refuses the request (a status other than Accepted*)."""
    status = getattr(response, "status", None)
    return status is None or status in _OPENING_STATUSES


@dataclass(slots=True, eq=False)
class _Grants:
    """What a station may send on one connection while Pending."""

    opened: set[str] = field(default_factory=set)
    asked: Counter[str] = field(default_factory=Counter)  # requests awaiting their response

    def allows(self, action: str) -> bool:
        return action in self.opened or self.asked[action] > 0


class GatedRouter(Router):
    """A ``Router`` whose handlers (except BootNotification) run only for accepted stations, or
    for Pending stations sending what the CSMS asked them for (see the module docstring)."""

    def __init__(
        self,
        version: OcppVersion,
        accepted: set[str] | None = None,
    ) -> None:
        """``accepted``: the identities whose last boot was answered Accepted (shared with the
        owner, who may fill it, e.g. from the store at start-up), kept up to date from every
        BootNotification answer — whichever handler (a default or the user's) gave it."""
        super().__init__(version)
        self.accepted: set[str] = set() if accepted is None else accepted
        self._station_actions = frozenset(
            name
            for name, spec in actions(version).items()
            if spec.direction in ("cp_to_csms", "both")
        )
        self._pending: set[str] = set()  # identities whose last boot was answered Pending
        self._grants: WeakKeyDictionary[OcppConnection, _Grants] = WeakKeyDictionary()

    # -- what the CSMS asked for -------------------------------------------------------------
    def requested_actions(self, request: OcppRequest[Any]) -> frozenset[str]:
        """The station actions ``request`` asks the station to send (empty for most requests)."""
        action = self._by_type.get(type(request))
        if action is None:
            return frozenset()
        if isinstance(request, _TRIGGERS):
            value: str = request.requested_message
            triggered = TRIGGERED_ACTIONS.get(value, value)
            if triggered is None or triggered not in self._station_actions:
                return frozenset()
            return frozenset({triggered})
        return frozenset(a for a in FOLLOW_UPS.get(action, ()) if a in self._station_actions)

    def allow(self, conn: OcppConnection, *station_actions: str) -> None:
        """Let a Pending station send ``station_actions`` on ``conn`` until its next boot."""
        self._grants_of(conn).opened.update(station_actions)

    def allow_after(self, conn: OcppConnection, request: OcppRequest[Any], response: Any) -> None:
        """After the CSMS sent ``request`` on ``conn`` and got ``response``: open what the
        request asked for, unless the response refuses it (for a ``conn.call`` made directly)."""
        asked = self.requested_actions(request)
        if asked and _opens(response):
            self.allow(conn, *asked)

    async def call(
        self, conn: OcppConnection, request: OcppRequest[R], *, timeout: float | None = None
    ) -> R:
        """``conn.call(request)``, opening the gate for what the request asks the station to
        send: provisionally while it awaits its response, then unless the response refuses it."""
        if conn.identity in self.accepted:
            return await conn.call(request, timeout=timeout)
        asked = self.requested_actions(request)
        if not asked:
            return await conn.call(request, timeout=timeout)
        grants = self._grants_of(conn)  # a boot meanwhile drops it: nothing opens then
        grants.asked.update(asked)
        try:
            response = await conn.call(request, timeout=timeout)
        finally:
            grants.asked.subtract(asked)
        if _opens(response):
            grants.opened.update(asked)
        return response

    def allows(self, conn: OcppConnection, action: str) -> bool:
        """True if the station, not accepted, may send ``action`` on ``conn`` nonetheless."""
        if conn.identity not in self._pending:
            return False
        grants = self._grants.get(conn)
        return grants is not None and grants.allows(action)

    def _grants_of(self, conn: OcppConnection) -> _Grants:
        grants = self._grants.get(conn)
        if grants is None:
            grants = self._grants[conn] = _Grants()
        return grants

    # -- boots ---------------------------------------------------------------------------------
    def _booting(self, conn: OcppConnection) -> None:
        """A BootNotification arrived: what was opened before is closed."""
        self._grants.pop(conn, None)
        self._pending.discard(conn.identity)

    def _booted(self, conn: OcppConnection, response: Any) -> None:
        status = getattr(response, "status", None)
        if status == "Pending":
            self._pending.add(conn.identity)
        if status == "Accepted":
            self.accepted.add(conn.identity)
        else:
            self.accepted.discard(conn.identity)

    def _boot_register(
        self, register: Callable[[TypedHandler[Resp]], TypedHandler[Resp]]
    ) -> Callable[[TypedHandler[Resp]], TypedHandler[Resp]]:
        booting, booted = self._booting, self._booted

        def boot_register(handler: TypedHandler[Resp]) -> TypedHandler[Resp]:
            if inspect.iscoroutinefunction(handler):

                async def boot_async(request: Any, conn: OcppConnection) -> Any:
                    booting(conn)
                    response = await handler(request, conn)
                    booted(conn, response)
                    return response

                register(boot_async)
            else:

                def boot(request: Any, conn: OcppConnection) -> Any:
                    booting(conn)
                    response = handler(request, conn)
                    if type(response) is AnswerAfter:
                        # the answer waits for its future; it runs this callback before the
                        # connection's (registered later), so the gate is set when it goes out
                        answer: AnswerAfter[Any] = response

                        def settled(future: asyncio.Future[Any]) -> None:
                            ok = not future.cancelled() and future.exception() is None
                            booted(conn, answer.response if ok else None)  # failed: CALLERROR

                        answer.future.add_done_callback(settled)
                    else:
                        booted(conn, response)
                    return response

                register(boot)
            return handler

        return boot_register

    # -- registration ----------------------------------------------------------------------------
    def on(
        self, request_type: type[OcppRequest[Resp]]
    ) -> Callable[[TypedHandler[Resp]], TypedHandler[Resp]]:
        """As ``Router.on``; the registered handler is wrapped with the acceptance check."""
        action = self._action(request_type)
        if action in _UNGATED:
            return self._boot_register(super().on(request_type))
        accepted = self.accepted
        allows = self.allows

        def refuse(conn: OcppConnection) -> SecurityError:
            return SecurityError(
                f"{conn.identity} is not accepted: send an accepted BootNotification first"
            )

        def gated_register(handler: TypedHandler[Resp]) -> TypedHandler[Resp]:
            # one plain wrapper for both kinds: for a coroutine function it returns the
            # handler's coroutine itself (no extra coroutine frame per CALL), routed as async
            def gated(request: Any, conn: OcppConnection) -> Any:
                if conn.identity not in accepted and not allows(conn, action):
                    raise refuse(conn)
                return handler(request, conn)

            self._set_handler(action, gated, inspect.iscoroutinefunction(handler))
            return handler

        return gated_register
