"""Full charging sessions from mobilityhouse/ocpp 2.1.0 charge points against the reference CSMS.

A ``Csms(SqliteStore(file))`` serves on loopback (port 0); its HTTP API (``create_app``) is
queried in-process through ``httpx.ASGITransport``. For OCPP 1.6, 2.0.1 and 2.1 a mobilityhouse
``ChargePoint`` (``import ocpp``) over a real websocket boots, reports statuses, authorizes a
token added with ``PUT /api/idtokens/{token}``, runs a transaction (1.6 StartTransaction /
MeterValues / StopTransaction; 2.x TransactionEvent Started / Updated / Ended) and takes a Reset
sent with ``POST /api/stations/{id}/calls/Reset``, answered by its ``@on("Reset")`` handler.
``GET /api/transactions?station=`` and ``GET /api/stations/{id}`` show the session, and the
SQLite store holds its meter samples.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import ocpp.routing
import ocpp.v16
import ocpp.v21
import ocpp.v201
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocppkit.api import create_app
from ocppkit.csms import Csms, Station16, Station21, Station201
from ocppkit.protocol import OcppVersion
from ocppkit.store.sqlite import SqliteStore
from tests.mobilityhouse import Recording, on

TOKEN = "TAG-E2E-1"
ENERGY = "Energy.Active.Import.Register"
# the station's own times (RFC 3339 as mobilityhouse sends them; the API answers them as is)
AVAILABLE_AT = "2025-05-01T08:00:00Z"
PLUGGED_AT = "2025-05-01T08:01:00Z"
STARTED_AT = "2025-05-01T08:02:00Z"
SAMPLED_AT = ("2025-05-01T08:17:00Z", "2025-05-01T08:32:00Z")
STOPPED_AT = "2025-05-01T08:47:00Z"
FREED_AT = "2025-05-01T08:48:00Z"


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


# -- mobilityhouse charge points: they answer Reset and record what the CSMS sent ---------------


class ChargePoint16(Recording, ocpp.v16.ChargePoint):  # type: ignore[misc]
    @on("Reset")
    async def on_reset(self, **kwargs: Any) -> Any:
        self.received.append(("Reset", kwargs))
        return self._call_result.Reset(status="Accepted")


class _ChargePoint2x(Recording):
    @on("Reset")
    async def on_reset(self, **kwargs: Any) -> Any:
        self.received.append(("Reset", kwargs))
        return self._call_result.Reset(status="Accepted")


class ChargePoint201(_ChargePoint2x, ocpp.v201.ChargePoint):  # type: ignore[misc]
    pass


class ChargePoint21(_ChargePoint2x, ocpp.v21.ChargePoint):  # type: ignore[misc]
    pass


CHARGE_POINTS: dict[OcppVersion, tuple[Callable[[str, Any], Any], ModuleType]] = {
    OcppVersion.V16: (ChargePoint16, ocpp.v16),
    OcppVersion.V201: (ChargePoint201, ocpp.v201),
    OcppVersion.V21: (ChargePoint21, ocpp.v21),
}


# -- the harness --------------------------------------------------------------------------------


@dataclass
class Harness:
    csms: Csms
    http: httpx.AsyncClient
    disconnected: dict[str, asyncio.Event]

    def url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.csms.server.port}/{identity}"


@asynccontextmanager
async def serving(db: Path) -> AsyncIterator[Harness]:
    """A started ``Csms`` on a SQLite file and an HTTP client of its API app."""
    csms = Csms(SqliteStore(db))
    disconnected: dict[str, asyncio.Event] = {}

    @csms.on_disconnect
    async def gone(station: Station16 | Station201 | Station21) -> None:
        disconnected.setdefault(station.identity, asyncio.Event()).set()

    await csms.start("127.0.0.1", 0)
    try:
        transport = httpx.ASGITransport(app=create_app(csms))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield Harness(csms, http, disconnected)
    finally:
        await csms.close(grace=1)


@asynccontextmanager
async def mobilityhouse_station(
    harness: Harness, identity: str, version: OcppVersion
) -> AsyncIterator[Any]:
    """A mobilityhouse charge point connected to the CSMS, its reader loop running."""
    harness.disconnected.setdefault(identity, asyncio.Event())
    factory = CHARGE_POINTS[version][0]
    subprotocols = [Subprotocol(version.subprotocol)]
    async with connect(harness.url(identity), subprotocols=subprotocols) as ws:
        assert ws.subprotocol == version.subprotocol
        cp = factory(identity, ws)
        reader = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            await ws.close()
            with contextlib.suppress(ConnectionClosed):
                await reader  # start() only ends by the connection closing


async def put_token(http: httpx.AsyncClient) -> None:
    response = await http.put(f"/api/idtokens/{TOKEN}", json={"status": "Accepted"})
    assert response.status_code == 201, response.text
    assert (await http.get(f"/api/idtokens/{TOKEN}")).json() == {
        "token": TOKEN,
        "status": "Accepted",
        "expiry": None,
        "parent": None,
        "tokenType": None,
    }


async def check_station(
    http: httpx.AsyncClient,
    identity: str,
    version: OcppVersion,
    *,
    model: str,
    statuses: list[dict[str, Any]],
    connected: bool = True,
) -> dict[str, Any]:
    response = await http.get(f"/api/stations/{identity}")
    assert response.status_code == 200, response.text
    station: dict[str, Any] = response.json()
    assert {key: station[key] for key in station if key not in ("lastBoot", "lastSeen")} == {
        "id": identity,
        "ocppVersion": version.value,
        "vendor": "Acme",
        "model": model,
        "serialNumber": f"SN-{identity}",
        "firmwareVersion": "4.2.0",
        "bootStatus": "Accepted",
        "connected": connected,
        "accepted": True,
        "statuses": statuses,
    }
    assert station["lastBoot"] is not None
    assert station["lastSeen"] >= station["lastBoot"]
    return station


async def reset_through_the_api(
    harness: Harness, identity: str, cp: Any, payload: dict[str, Any], received: dict[str, Any]
) -> None:
    """``POST /api/stations/{id}/calls/Reset`` reaches the charge point's ``@on`` handler."""
    response = await harness.http.post(f"/api/stations/{identity}/calls/Reset", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "Accepted"}
    assert cp.received == [("Reset", received)]


async def close_and_check_disconnected(
    harness: Harness, identity: str, version: OcppVersion, model: str
) -> None:
    await harness.disconnected[identity].wait()  # the CSMS's on_disconnect hook ran
    station = await harness.http.get(f"/api/stations/{identity}")
    assert station.json()["connected"] is False
    assert station.json()["ocppVersion"] == version.value
    assert station.json()["model"] == model


def status16(connector: int, status: str, at: str) -> dict[str, Any]:
    return {
        "evseId": 0,
        "connectorId": connector,
        "status": status,
        "errorCode": "NoError",
        "info": None,
        "timestamp": at,
    }


def status2x(status: str, at: str) -> dict[str, Any]:
    return {
        "evseId": 1,
        "connectorId": 1,
        "status": status,
        "errorCode": None,
        "info": None,
        "timestamp": at,
    }


# -- 1.6 ------------------------------------------------------------------------------------------


def test_a_mobilityhouse_1_6_charge_point_charges_and_takes_a_reset(tmp_path: Path) -> None:
    identity, model = "MH-16", "MH-Wallbox-16"
    call, result = ocpp.v16.call, ocpp.v16.call_result

    async def main() -> None:
        async with serving(tmp_path / "csms.db") as harness:
            http = harness.http
            await put_token(http)
            async with mobilityhouse_station(harness, identity, OcppVersion.V16) as cp:
                boot = await cp.call(
                    call.BootNotification(
                        charge_point_vendor="Acme",
                        charge_point_model=model,
                        charge_point_serial_number=f"SN-{identity}",
                        firmware_version="4.2.0",
                    ),
                    suppress=False,
                )
                assert (boot.status, boot.interval) == ("Accepted", 300)
                assert harness.csms.is_accepted(identity)
                heartbeat = await cp.call(call.Heartbeat(), suppress=False)
                assert heartbeat.current_time.endswith("Z")

                async def status(connector: int, state: str, at: str) -> None:
                    request = call.StatusNotification(
                        connector_id=connector, error_code="NoError", status=state, timestamp=at
                    )
                    assert await cp.call(request, suppress=False) == result.StatusNotification()

                await status(0, "Available", AVAILABLE_AT)
                await status(1, "Available", AVAILABLE_AT)
                await status(1, "Preparing", PLUGGED_AT)
                await check_station(
                    http,
                    identity,
                    OcppVersion.V16,
                    model=model,
                    statuses=[
                        status16(0, "Available", AVAILABLE_AT),
                        status16(1, "Preparing", PLUGGED_AT),
                    ],
                )

                authorized = await cp.call(call.Authorize(id_tag=TOKEN), suppress=False)
                assert authorized == result.Authorize(id_tag_info={"status": "Accepted"})
                unknown = await cp.call(call.Authorize(id_tag="NOT-ADDED"), suppress=False)
                assert unknown == result.Authorize(id_tag_info={"status": "Invalid"})

                started = await cp.call(
                    call.StartTransaction(
                        connector_id=1, id_tag=TOKEN, meter_start=1000, timestamp=STARTED_AT
                    ),
                    suppress=False,
                )
                assert started.id_tag_info == {"status": "Accepted"}
                transaction_id = started.transaction_id
                assert isinstance(transaction_id, int)
                await status(1, "Charging", STARTED_AT)
                for at, wh in zip(SAMPLED_AT, ("2200", "3400"), strict=True):
                    meter_values = call.MeterValues(
                        connector_id=1,
                        transaction_id=transaction_id,
                        meter_value=[
                            {
                                "timestamp": at,
                                "sampled_value": [
                                    {"value": wh, "measurand": ENERGY, "unit": "Wh"},
                                    {
                                        "value": "7.4",
                                        "measurand": "Power.Active.Import",
                                        "unit": "kW",
                                    },
                                ],
                            }
                        ],
                    )
                    assert await cp.call(meter_values, suppress=False) == result.MeterValues()
                stopped = await cp.call(
                    call.StopTransaction(
                        meter_stop=5000,
                        timestamp=STOPPED_AT,
                        transaction_id=transaction_id,
                        id_tag=TOKEN,
                        reason="Local",
                    ),
                    suppress=False,
                )
                assert stopped == result.StopTransaction(id_tag_info={"status": "Accepted"})
                await status(1, "Finishing", STOPPED_AT)
                await status(1, "Available", FREED_AT)

                response = await http.get("/api/transactions", params={"station": identity})
                assert response.status_code == 200
                [tx] = response.json()
                assert {key: tx[key] for key in tx if key != "id"} == {
                    "station": identity,
                    "ocppId": str(transaction_id),
                    "evseId": 0,
                    "connectorId": 1,
                    "idToken": TOKEN,
                    "startTime": STARTED_AT,
                    "stopTime": STOPPED_AT,
                    "meterStart": 1000.0,
                    "meterStop": 5000.0,
                    "energyWh": 4000.0,
                    "stopReason": "Local",
                }
                samples = await harness.csms.store.meter_values(tx["id"])
                assert [
                    (s.timestamp.isoformat(), s.measurand, s.value, s.unit) for s in samples
                ] == [
                    ("2025-05-01T08:17:00+00:00", ENERGY, "2200", "Wh"),
                    ("2025-05-01T08:17:00+00:00", "Power.Active.Import", "7.4", "kW"),
                    ("2025-05-01T08:32:00+00:00", ENERGY, "3400", "Wh"),
                    ("2025-05-01T08:32:00+00:00", "Power.Active.Import", "7.4", "kW"),
                ]
                await check_station(
                    http,
                    identity,
                    OcppVersion.V16,
                    model=model,
                    statuses=[
                        status16(0, "Available", AVAILABLE_AT),
                        status16(1, "Available", FREED_AT),
                    ],
                )

                await reset_through_the_api(
                    harness, identity, cp, {"type": "Soft"}, {"type": "Soft"}
                )
            await close_and_check_disconnected(harness, identity, OcppVersion.V16, model)

    run(main)


# -- 2.0.1 and 2.1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21], ids=["2.0.1", "2.1"])
def test_a_mobilityhouse_2_x_charge_point_charges_and_takes_a_reset(
    tmp_path: Path, version: OcppVersion
) -> None:
    identity = f"MH-{version.value.replace('.', '')}"
    model = f"MH-Wallbox-{version.value}"
    theirs = CHARGE_POINTS[version][1]
    call, result = theirs.call, theirs.call_result
    id_token = {"id_token": TOKEN, "type": "ISO14443"}
    ocpp_id = f"TX-{identity}"

    def energy(at: str, value: float, unit: str = "Wh") -> dict[str, Any]:
        return {
            "timestamp": at,
            "sampled_value": [
                {"value": value, "measurand": ENERGY, "unit_of_measure": {"unit": unit}}
            ],
        }

    async def main() -> None:
        async with serving(tmp_path / "csms.db") as harness:
            http = harness.http
            await put_token(http)
            async with mobilityhouse_station(harness, identity, version) as cp:
                boot = await cp.call(
                    call.BootNotification(
                        charging_station={
                            "model": model,
                            "vendor_name": "Acme",
                            "serial_number": f"SN-{identity}",
                            "firmware_version": "4.2.0",
                        },
                        reason="PowerUp",
                    ),
                    suppress=False,
                )
                assert (boot.status, boot.interval) == ("Accepted", 300)
                assert harness.csms.is_accepted(identity)
                heartbeat = await cp.call(call.Heartbeat(), suppress=False)
                assert heartbeat.current_time.endswith("Z")

                async def status(state: str, at: str) -> None:
                    request = call.StatusNotification(
                        timestamp=at, connector_status=state, evse_id=1, connector_id=1
                    )
                    assert await cp.call(request, suppress=False) == result.StatusNotification()

                await status("Available", AVAILABLE_AT)
                await status("Occupied", PLUGGED_AT)
                await check_station(
                    http,
                    identity,
                    version,
                    model=model,
                    statuses=[status2x("Occupied", PLUGGED_AT)],
                )

                authorized = await cp.call(call.Authorize(id_token=id_token), suppress=False)
                assert authorized.id_token_info["status"] == "Accepted"
                unknown = await cp.call(
                    call.Authorize(id_token={"id_token": "NOT-ADDED", "type": "ISO14443"}),
                    suppress=False,
                )
                assert unknown.id_token_info["status"] == "Invalid"

                started = await cp.call(
                    call.TransactionEvent(
                        event_type="Started",
                        timestamp=STARTED_AT,
                        trigger_reason="Authorized",
                        seq_no=0,
                        transaction_info={"transaction_id": ocpp_id, "charging_state": "Charging"},
                        id_token=id_token,
                        evse={"id": 1, "connector_id": 1},
                        meter_value=[energy(STARTED_AT, 1000)],
                    ),
                    suppress=False,
                )
                assert started.id_token_info["status"] == "Accepted"
                # meter values in the transaction: one in Wh, one in kWh (stored as sent)
                for seq_no, sample in enumerate(
                    (energy(SAMPLED_AT[0], 2200), energy(SAMPLED_AT[1], 3.4, "kWh")), start=1
                ):
                    updated = await cp.call(
                        call.TransactionEvent(
                            event_type="Updated",
                            timestamp=sample["timestamp"],
                            trigger_reason="MeterValuePeriodic",
                            seq_no=seq_no,
                            transaction_info={"transaction_id": ocpp_id},
                            meter_value=[sample],
                        ),
                        suppress=False,
                    )
                    assert updated.id_token_info is None
                ended = await cp.call(
                    call.TransactionEvent(
                        event_type="Ended",
                        timestamp=STOPPED_AT,
                        trigger_reason="StopAuthorized",
                        seq_no=3,
                        transaction_info={"transaction_id": ocpp_id, "stopped_reason": "Local"},
                        id_token=id_token,
                        meter_value=[energy(STOPPED_AT, 5, "kWh")],
                    ),
                    suppress=False,
                )
                assert ended.id_token_info["status"] == "Accepted"
                await status("Available", FREED_AT)

                response = await http.get("/api/transactions", params={"station": identity})
                assert response.status_code == 200
                [tx] = response.json()
                assert {key: tx[key] for key in tx if key != "id"} == {
                    "station": identity,
                    "ocppId": ocpp_id,
                    "evseId": 1,
                    "connectorId": 1,
                    "idToken": TOKEN,
                    "startTime": STARTED_AT,
                    "stopTime": STOPPED_AT,
                    "meterStart": 1000.0,
                    "meterStop": 5000.0,  # 5 kWh
                    "energyWh": 4000.0,
                    "stopReason": "Local",
                }
                samples = await harness.csms.store.meter_values(tx["id"])
                assert [(s.timestamp.isoformat(), s.value, s.unit) for s in samples] == [
                    ("2025-05-01T08:02:00+00:00", "1000.0", "Wh"),  # a 2.x value is a number
                    ("2025-05-01T08:17:00+00:00", "2200.0", "Wh"),
                    ("2025-05-01T08:32:00+00:00", "3.4", "kWh"),
                    ("2025-05-01T08:47:00+00:00", "5.0", "kWh"),
                ]
                assert {s.measurand for s in samples} == {ENERGY}
                await check_station(
                    http,
                    identity,
                    version,
                    model=model,
                    statuses=[status2x("Available", FREED_AT)],
                )

                await reset_through_the_api(
                    harness, identity, cp, {"type": "Immediate"}, {"type": "Immediate"}
                )
            await close_and_check_disconnected(harness, identity, version, model)

    run(main)
