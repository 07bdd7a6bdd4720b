"""Test your OCPP handlers without sockets: fake peers and an in-memory connected pair.

::

    from ocppkit.testing import connected_pair, fake_charge_point

    async def test_my_csms_boots_stations() -> None:
        async with connected_pair(OcppVersion.V16, csms=my_router) as pair:
            response = await pair.charge_point.call(BootNotificationRequest(...))
            assert response.status == "Accepted"

- ``fake_csms(version)`` / ``fake_charge_point(version)``: a ``FakePeer`` whose router answers
  every action the other side sends with a valid default response (``Accepted`` where the schema
  allows it, now for timestamps, minimal lists); override one action with ``peer.router.on(...)``
  or ``peer.respond(RequestClass, response)``; everything received is in ``peer.received``.
- ``connected_pair(version, csms=…, charge_point=…)``: two ``OcppConnection``s joined by the
  in-memory transport, both running, closed on exit.

With pytest, the ``ocppkit.testing.pytest_plugin`` (registered automatically when ocppkit is
installed) offers these as the fixtures ``ocpp_pair``, ``fake_csms`` and ``fake_charge_point``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec.inspect as mi

from ocppkit.messages import actions
from ocppkit.messages._base import OcppRequest, OcppResponse, OcppStruct
from ocppkit.protocol.codec import payload_type_info
from ocppkit.protocol.session import ValidationPolicy
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.transport.memory import memory_pair

__all__ = [
    "ConnectedPair",
    "FakePeer",
    "connected_pair",
    "default_instance",
    "default_response",
    "fake_charge_point",
    "fake_csms",
]


@dataclass
class FakePeer:
    """A router answering every action of one side with defaults, recording what it received."""

    version: OcppVersion
    router: Router
    received: list[OcppRequest[Any]] = field(default_factory=list)

    def respond(self, request_type: type[OcppRequest[Any]], response: OcppResponse) -> None:
        """Answer ``request_type``'s action with ``response`` from now on."""

        async def handler(request: Any, conn: OcppConnection) -> Any:
            self.received.append(request)
            return response

        self.router.add(request_type, handler)


def _fake(version: OcppVersion, senders: set[str]) -> FakePeer:
    peer = FakePeer(version, Router(version))
    for spec in actions(version).values():
        if spec.direction not in senders:
            continue

        async def handler(request: Any, conn: OcppConnection, response: Any = spec.response) -> Any:
            peer.received.append(request)
            return None if response is None else default_response(response)

        peer.router.add(spec.request, handler)
    return peer


def fake_csms(version: OcppVersion) -> FakePeer:
    """A CSMS that accepts everything a charge point sends (boot Accepted, tokens Accepted …)."""
    return _fake(version, {"cp_to_csms", "both"})


def fake_charge_point(version: OcppVersion) -> FakePeer:
    """A charge point that accepts every command of a CSMS with a valid default response."""
    return _fake(version, {"csms_to_cp", "both"})


S = TypeVar("S", bound=OcppStruct)


def default_instance(payload_type: type[S]) -> S:
    """A valid instance of any payload class (request, response or nested type): required fields
    only, ``Accepted`` where the enum allows it, now for timestamps, minimal lists."""
    value = _default(payload_type_info(payload_type))
    assert isinstance(value, payload_type)
    return value


def default_response(response_type: type[OcppResponse]) -> OcppResponse:
    """A valid instance of ``response_type`` (see ``default_instance``)."""
    return default_instance(response_type)


def _default(t: mi.Type) -> Any:
    if isinstance(t, mi.StructType):
        return t.cls(**{f.name: _default(f.type) for f in t.fields if f.required})
    if isinstance(t, mi.LiteralType):
        return "Accepted" if "Accepted" in t.values else t.values[0]
    if isinstance(t, mi.ListType):
        return [_default(t.item_type) for _ in range(t.min_length or 0)]
    if isinstance(t, mi.DateTimeType):
        return datetime.now(UTC).replace(microsecond=0)
    if isinstance(t, mi.IntType | mi.FloatType):
        low = t.ge if t.ge is not None else 0
        return low if isinstance(t, mi.IntType) else float(low)
    if isinstance(t, mi.BoolType):
        return False
    if isinstance(t, mi.UnionType):
        return _default(next(x for x in t.types if not isinstance(x, mi.NoneType)))
    return ""  # str and the rest


@dataclass
class ConnectedPair:
    """A charge point connection and a CSMS connection joined in memory."""

    charge_point: OcppConnection
    csms: OcppConnection


@asynccontextmanager
async def connected_pair(
    version: OcppVersion = OcppVersion.V16,
    *,
    csms: Router | None = None,
    charge_point: Router | None = None,
    identity: str = "CP-TEST",
    validation: ValidationPolicy | None = None,
    call_timeout: float = 5.0,
) -> AsyncIterator[ConnectedPair]:
    """Run two connections over the in-memory transport; defaults are the fake peers' routers."""
    cp_end, csms_end = memory_pair(version.subprotocol)
    options: dict[str, Any] = {
        "identity": identity,
        "validation": validation,
        "call_timeout": call_timeout,
    }
    cp = OcppConnection(
        cp_end, version, charge_point or fake_charge_point(version).router, **options
    )
    cs = OcppConnection(csms_end, version, csms or fake_csms(version).router, **options)
    runners = [asyncio.create_task(cp.run()), asyncio.create_task(cs.run())]
    try:
        yield ConnectedPair(cp, cs)
    finally:
        await cp.close()
        await asyncio.gather(*runners)
