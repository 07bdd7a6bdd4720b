"""A connected charge point, seen from the CSMS: one typed method per command of its version.

::

    station = csms.station("CP-1")               # a Station16 / Station201 / Station21
    await station.reset(type="Soft")              # -> v16.ResetResponse
    await station.call(v16.ResetRequest(type="Soft"))   # the same, with a request object

Calls go through the CSMS's ``GatedRouter`` when the connection has one, so what a request asks
a Pending station to send (TriggerMessage, GetBaseReport, …) passes the gate (see ``gate``).
"""

from __future__ import annotations

from typing import TypeVar

from ocppkit.csms.commands_v16 import Commands16
from ocppkit.csms.commands_v21 import Commands21
from ocppkit.csms.commands_v201 import Commands201
from ocppkit.csms.gate import GatedRouter
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection

__all__ = ["Station", "Station16", "Station21", "Station201", "station_for"]

R = TypeVar("R")


class Station:
    """A charge point's current connection, with ``call`` and the typed commands of its version."""

    def __init__(self, connection: OcppConnection) -> None:
        self.connection = connection

    @property
    def identity(self) -> str:
        """The charge point identity."""
        return self.connection.identity

    @property
    def version(self) -> OcppVersion:
        """The OCPP version the station speaks on this connection."""
        return self.connection.version

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        """Send any CALL of the station's version and return its typed response."""
        router = self.connection.router
        if isinstance(router, GatedRouter):  # a CSMS connection: keep the gate informed
            return await router.call(self.connection, request, timeout=timeout)
        return await self.connection.call(request, timeout=timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identity!r}>"


class Station16(Station, Commands16):
    """An OCPP 1.6 charge point."""


class Station201(Station, Commands201):
    """An OCPP 2.0.1 charging station."""


class Station21(Station, Commands21):
    """An OCPP 2.1 charging station."""


_CLASSES: dict[OcppVersion, type[Station]] = {
    OcppVersion.V16: Station16,
    OcppVersion.V201: Station201,
    OcppVersion.V21: Station21,
}


def station_for(connection: OcppConnection) -> Station16 | Station201 | Station21:
    """The ``Station`` class of the connection's version, wrapping it."""
    station = _CLASSES[connection.version](connection)
    assert isinstance(station, Station16 | Station201 | Station21)
    return station
