"""The CSMS HTTP API end to end: a real Csms on loopback, real stations, the app over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route

from ocppkit.api import create_app, openapi_document
from ocppkit.csms.message_log import MessageLog
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station16, Station21, Station201
from ocppkit.iso15118 import wrap_response
from ocppkit.messages import OcppRequest, actions, v16, v201
from ocppkit.protocol import OcppVersion
from ocppkit.protocol.codec import decode_payload, encode_payload
from ocppkit.protocol.errors import NotSupportedError, SecurityError
from ocppkit.protocol.session import ValidationPolicy
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.store import IdTokenRecord, Store
from ocppkit.store.memory import MemoryStore
from ocppkit.testing import default_instance, fake_charge_point

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


# -- harness --------------------------------------------------------------------------------------


@dataclass
class Station:
    client: OcppClient
    conn: OcppConnection
    runner: asyncio.Task[None]

    async def close(self) -> None:
        await self.client.close()
        await self.runner


@dataclass
class Harness:
    csms: Csms
    app: Starlette
    http: httpx.AsyncClient
    stations: list[Station] = field(default_factory=list)
    _disconnected: dict[str, asyncio.Event] = field(default_factory=dict)

    async def connect(
        self,
        identity: str,
        version: OcppVersion,
        router: Router | None = None,
        *,
        validation: ValidationPolicy | None = None,
        boot: bool = True,
    ) -> Station:
        """Connect a station; once ``boot`` is answered the CSMS has registered it."""
        client = OcppClient(
            f"ws://127.0.0.1:{self.csms.server.port}/{identity}",
            router,
            versions=[version],
            validation=validation,
            ping_interval=None,
        )
        self._disconnected[identity] = asyncio.Event()
        conn = await client.connect()
        station = Station(client, conn, asyncio.create_task(conn.run()))
        self.stations.append(station)
        if boot:
            response = await conn.call(minimal_request(version, "BootNotification"))
            assert response.status == "Accepted"
        return station

    async def disconnected(self, identity: str) -> None:
        await self._disconnected[identity].wait()

    def mark_disconnected(self, identity: str) -> None:
        event = self._disconnected.get(identity)
        if event is not None:
            event.set()


@asynccontextmanager
async def serving(store: Store | None = None, **csms_options: Any) -> AsyncIterator[Harness]:
    """A started ``Csms(store, **csms_options)`` (a ``MemoryStore`` unless given) and its app."""
    csms = Csms(store or MemoryStore(), **csms_options)
    await csms.start("127.0.0.1", 0)
    app = create_app(csms)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://csms") as http:
        harness = Harness(csms, app, http)

        @csms.on_disconnect
        async def gone(station: Station16 | Station201 | Station21) -> None:
            harness.mark_disconnected(station.identity)

        try:
            yield harness
        finally:
            await csms.close(grace=1)
            await asyncio.gather(*(s.runner for s in harness.stations), return_exceptions=True)


def minimal_payload(version: OcppVersion, action: str) -> bytes:
    """The JSON of a valid request of ``action`` with its required fields only."""
    return encode_payload(minimal_request(version, action))


def minimal_request(version: OcppVersion, action: str) -> OcppRequest[Any]:
    """A valid request of ``action`` with its required fields only."""
    return default_instance(actions(version)[action].request)


def csms_actions(version: OcppVersion) -> list[str]:
    return sorted(
        spec.action
        for spec in actions(version).values()
        if spec.direction in ("csms_to_cp", "both") and not spec.send_only
    )


async def lifespan_cycle(app: Starlette) -> list[str]:
    """Run the app's ASGI lifespan (startup, then shutdown); the messages it sent."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# -- tests ----------------------------------------------------------------------------------------


def test_a_full_1_6_session_shows_in_stations_and_transactions() -> None:
    async def main() -> None:
        async with serving() as h:
            await h.csms.store.put_token(IdTokenRecord(token="GOOD"))
            station = await h.connect("CP16", OcppVersion.V16, boot=False)
            conn = station.conn
            boot = await conn.call(
                v16.BootNotificationRequest(
                    charge_point_vendor="ACME",
                    charge_point_model="X1",
                    charge_point_serial_number="SN-1",
                    firmware_version="1.2.3",
                )
            )
            assert boot.status == "Accepted"
            await conn.call(
                v16.StatusNotificationRequest(
                    connector_id=1, error_code="NoError", status="Preparing"
                )
            )
            started = await conn.call(
                v16.StartTransactionRequest(
                    connector_id=1, id_tag="GOOD", meter_start=1000, timestamp=T0
                )
            )
            await conn.call(
                v16.StatusNotificationRequest(
                    connector_id=1, error_code="NoError", status="Charging"
                )
            )
            sample = v16.SampledValue(value="5000", unit="Wh")
            await conn.call(
                v16.MeterValuesRequest(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        v16.MeterValue(timestamp=T0 + timedelta(minutes=30), sampled_value=[sample])
                    ],
                )
            )
            await conn.call(
                v16.StopTransactionRequest(
                    transaction_id=started.transaction_id,
                    meter_stop=9800,
                    timestamp=T0 + timedelta(hours=1),
                    reason="EVDisconnected",
                )
            )

            response = await h.http.get("/api/transactions", params={"station": "CP16"})
            assert response.status_code == 200
            [tx] = response.json()
            assert tx == {
                "id": tx["id"],
                "station": "CP16",
                "ocppId": str(started.transaction_id),
                "evseId": 0,
                "connectorId": 1,
                "idToken": "GOOD",
                "startTime": "2025-03-04T05:06:07Z",
                "stopTime": "2025-03-04T06:06:07Z",
                "meterStart": 1000.0,
                "meterStop": 9800.0,
                "energyWh": 8800.0,
                "stopReason": "EVDisconnected",
            }
            assert (await h.http.get("/api/transactions")).json() == [tx]
            assert (await h.http.get("/api/transactions?station=OTHER")).json() == []
            samples = await h.http.get(f"/api/transactions/{tx['id']}/meter-values")
            assert samples.json() == [
                {
                    "timestamp": "2025-03-04T05:36:07Z",
                    "value": "5000",
                    "measurand": "Energy.Active.Import.Register",
                    "phase": None,
                    "unit": "Wh",
                    "context": None,
                    "location": None,
                }
            ]
            assert (await h.http.get("/api/transactions/999/meter-values")).json() == []
            bad = await h.http.get("/api/transactions/x1/meter-values")
            assert (bad.status_code, bad.json()["error"]) == (400, "invalid transaction id")

            response = await h.http.get("/api/stations/CP16")
            assert response.status_code == 200
            detail = response.json()
            assert detail["lastBoot"] is not None
            assert detail["lastSeen"] is not None
            assert {k: v for k, v in detail.items() if k not in ("lastBoot", "lastSeen")} == {
                "id": "CP16",
                "ocppVersion": "1.6",
                "vendor": "ACME",
                "model": "X1",
                "serialNumber": "SN-1",
                "firmwareVersion": "1.2.3",
                "bootStatus": "Accepted",
                "connected": True,
                "accepted": True,
                "statuses": [
                    {
                        "evseId": 0,
                        "connectorId": 1,
                        "status": "Charging",
                        "errorCode": "NoError",
                        "info": None,
                        "timestamp": detail["statuses"][0]["timestamp"],
                    }
                ],
            }
            [listed] = (await h.http.get("/api/stations")).json()
            assert listed == {k: v for k, v in detail.items() if k != "statuses"}

            await station.close()
            await h.disconnected("CP16")
            [listed] = (await h.http.get("/api/stations")).json()
            assert (listed["id"], listed["connected"]) == ("CP16", False)
            detail = (await h.http.get("/api/stations/CP16")).json()
            assert (detail["connected"], detail["statuses"][0]["status"]) == (False, "Charging")

            response = await h.http.get("/api/stations/NOPE")
            assert (response.status_code, response.json()["error"]) == (404, "unknown station")
            response = await h.http.get("/no/such/route")
            assert (response.status_code, response.json()) == (404, {"error": "Not Found"})

    run(main)


@pytest.mark.parametrize("version", list(OcppVersion), ids=lambda v: v.value)
def test_every_csms_to_charger_action_is_reachable(version: OcppVersion) -> None:
    async def main() -> None:
        async with serving() as h:
            peer = fake_charge_point(version)
            await h.connect("CP", version, peer.router)
            names = csms_actions(version)
            assert len(names) == {"1.6": 26, "2.0.1": 40, "2.1": 55}[version.value]
            for name in names:
                spec = actions(version)[name]
                response = await h.http.post(
                    f"/api/stations/CP/calls/{name}", content=minimal_payload(version, name)
                )
                assert response.status_code == 200, (name, response.text)
                assert spec.response is not None
                decode_payload(spec.response, response.content, "strict")  # wire format, valid
                assert type(peer.received[-1]) is spec.request
            assert len(peer.received) == len(names)

            # actions a charge point sends: 400; actions of no version or another version: 404
            response = await h.http.post("/api/stations/CP/calls/BootNotification", json={})
            assert response.status_code == 400
            assert response.json()["error"] == "wrong direction"
            assert "sent by a charge point" in response.json()["reason"]
            response = await h.http.post("/api/stations/CP/calls/Bogus", json={})
            assert (response.status_code, response.json()["error"]) == (404, "unknown action")
            only_elsewhere = "GetVariables" if version is OcppVersion.V16 else "GetConfiguration"
            response = await h.http.post(f"/api/stations/CP/calls/{only_elsewhere}", json={})
            assert response.status_code == 404
            assert response.json()["ocppVersion"] == version.value

            # an invalid payload: the OCPP code as this version spells it, and the field
            response = await h.http.post("/api/stations/CP/calls/Reset", json={})
            assert response.status_code == 400
            occurrence = (
                "OccurenceConstraintViolation"
                if version is OcppVersion.V16
                else "OccurrenceConstraintViolation"
            )
            assert response.json() == {
                "error": "invalid payload",
                "code": occurrence,
                "path": "type",
                "reason": "Object missing required field `type`",
            }
            assert len(peer.received) == len(names)  # nothing was sent

    run(main)


def test_call_failures_map_to_http_statuses() -> None:
    async def main() -> None:
        async with serving() as h:
            router = fake_charge_point(OcppVersion.V16).router
            release = asyncio.Event()

            async def refuse(request: Any, conn: OcppConnection) -> Any:
                raise NotSupportedError("not here", {"hint": "try later"})

            async def stall(request: Any, conn: OcppConnection) -> Any:
                await release.wait()
                return v16.UnlockConnectorResponse(status="Unlocked")

            async def wrong(request: Any, conn: OcppConnection) -> Any:
                return v16.ChangeAvailabilityResponse(status="Bogus")  # type: ignore[arg-type]

            async def hang_up(request: Any, conn: OcppConnection) -> Any:
                await conn.close(1000, "bye")
                return v16.ClearCacheResponse(status="Accepted")

            router.add(v16.ResetRequest, refuse)
            router.add(v16.UnlockConnectorRequest, stall)
            router.add(v16.ChangeAvailabilityRequest, wrong)
            router.add(v16.ClearCacheRequest, hang_up)
            # the station sends what it is told, even invalid responses
            await h.connect(
                "CP", OcppVersion.V16, router, validation=ValidationPolicy(outgoing="off")
            )
            base = "/api/stations/CP/calls"

            response = await h.http.post(f"{base}/Reset", json={"type": "Hard"})
            assert response.status_code == 502
            assert response.json() == {
                "error": "station answered CALLERROR",
                "errorCode": "NotSupported",
                "errorDescription": "not here",
                "errorDetails": {"hint": "try later"},
            }

            response = await h.http.post(f"{base}/Reset", json={"type": "Bogus"})
            assert response.status_code == 400
            assert response.json()["code"] == "PropertyConstraintViolation"
            assert response.json()["path"] == "type"
            response = await h.http.post(f"{base}/Reset", content=b"{not json")
            assert (response.status_code, response.json()["code"]) == (400, "FormationViolation")
            response = await h.http.post(f"{base}/GetLocalListVersion")  # empty body: {}
            assert (response.status_code, response.json()) == (200, {"listVersion": 0})

            response = await h.http.post(
                f"{base}/ChangeAvailability", json={"connectorId": 0, "type": "Operative"}
            )
            assert response.status_code == 502
            assert response.json()["error"] == "invalid response"
            assert (response.json()["code"], response.json()["path"]) == (
                "PropertyConstraintViolation",
                "status",
            )

            for bad in ("abc", "0", "-1", "1e9"):
                response = await h.http.post(f"{base}/UnlockConnector?timeout={bad}", json={})
                assert (response.status_code, response.json()["error"]) == (400, "invalid timeout")
            response = await h.http.post(
                f"{base}/UnlockConnector", params={"timeout": "0.05"}, json={"connectorId": 1}
            )
            assert response.status_code == 504
            assert response.json()["error"] == "timeout"
            release.set()

            response = await h.http.post(f"{base}/GetConfiguration", json={})
            assert response.status_code == 200  # the connection still works after a timeout

            response = await h.http.post(f"{base}/ClearCache", json={})
            assert (response.status_code, response.json()["error"]) == (409, "connection closed")

            await h.disconnected("CP")
            response = await h.http.post(f"{base}/Reset", json={"type": "Hard"})
            assert response.status_code == 409
            assert response.json() == {"error": "not connected", "station": "CP"}
            response = await h.http.post("/api/stations/NEVER/calls/Reset", json={"type": "Hard"})
            assert response.status_code == 409

    run(main)


def test_id_tokens_crud_and_their_use_by_the_csms() -> None:
    async def main() -> None:
        async with serving() as h:
            response = await h.http.put("/api/idtokens/TAG1", json={"status": "Blocked"})
            assert response.status_code == 201
            assert response.json() == {
                "token": "TAG1",
                "status": "Blocked",
                "expiry": None,
                "parent": None,
                "tokenType": None,
            }
            response = await h.http.put(
                "/api/idtokens/TAG1",
                json={
                    "status": "Accepted",
                    "expiry": "2099-01-01T00:00:00+02:00",
                    "parent": "GROUP",
                    "tokenType": "ISO14443",
                },
            )
            assert response.status_code == 200
            assert response.json()["expiry"] == "2098-12-31T22:00:00Z"
            assert (await h.http.put("/api/idtokens/TAG2", content=b"")).status_code == 201
            response = await h.http.put("/api/idtokens/TAG3", json={"status": "NoCredit"})
            assert response.status_code == 201  # a 2.x status

            for body, error in [
                (b'{"status": "Maybe"}', "invalid status"),
                (b'{"status": 1}', "invalid body"),
                (b'{"colour": "red"}', "invalid body"),
                (b'{"expiry": "2099-01-01T00:00:00"}', "invalid body"),  # no timezone
                (b"{nope", "invalid JSON"),
            ]:
                response = await h.http.put("/api/idtokens/TAG9", content=body)
                assert (response.status_code, response.json()["error"]) == (400, error), body
            response = await h.http.put("/api/idtokens/" + "x" * 256, json={})
            assert response.status_code == 400

            response = await h.http.get("/api/idtokens/TAG1")
            assert response.status_code == 200
            assert response.json()["parent"] == "GROUP"
            tokens = (await h.http.get("/api/idtokens")).json()
            assert [(t["token"], t["status"]) for t in tokens] == [
                ("TAG1", "Accepted"),
                ("TAG2", "Accepted"),
                ("TAG3", "NoCredit"),
            ]

            station = await h.connect("CP", OcppVersion.V16)
            await h.http.put("/api/idtokens/TAG2", json={"status": "Blocked"})
            info = (await station.conn.call(v16.AuthorizeRequest(id_tag="TAG2"))).id_tag_info
            assert info.status == "Blocked"
            info = (await station.conn.call(v16.AuthorizeRequest(id_tag="TAG1"))).id_tag_info
            assert (info.status, info.parent_id_tag) == ("Accepted", "GROUP")

            assert (await h.http.delete("/api/idtokens/TAG2")).status_code == 204
            response = await h.http.delete("/api/idtokens/TAG2")
            assert (response.status_code, response.json()["error"]) == (404, "unknown id token")
            response = await h.http.get("/api/idtokens/TAG2")
            assert (response.status_code, response.json()["error"]) == (404, "unknown id token")
            info = (await station.conn.call(v16.AuthorizeRequest(id_tag="TAG2"))).id_tag_info
            assert info.status == "Invalid"

    run(main)


def test_message_log_pages_and_statuses() -> None:
    async def main() -> None:
        store = MemoryStore()
        # the writer's own schedule never comes: only the route's flush writes the frames
        async with serving(store, message_log=MessageLog(store, flush_interval=3600)) as h:
            station = await h.connect("CP", OcppVersion.V201)
            await station.conn.call(minimal_request(OcppVersion.V201, "Heartbeat"))
            assert await h.csms.store.frames("CP") == []
            assert h.csms.message_log is not None
            assert h.csms.message_log.pending == 4
            # the app has no lifespan work of its own, but serves the ASGI lifespan protocol
            assert await lifespan_cycle(h.app) == [
                "lifespan.startup.complete",
                "lifespan.shutdown.complete",
            ]
            response = await h.http.get("/api/stations/CP/messages")  # flushes first
            assert h.csms.message_log.pending == 0
            assert len(await h.csms.store.frames("CP")) == 4
            assert response.status_code == 200
            frames = response.json()
            assert [f["direction"] for f in frames] == ["in", "out", "in", "out"]
            calls = [msgspec.json.decode(f["frame"]) for f in frames]
            assert [c[0] for c in calls] == [2, 3, 2, 3]
            assert (calls[0][2], calls[2][2]) == ("BootNotification", "Heartbeat")
            assert calls[1][1] == calls[0][1]  # the reply to the boot
            assert [
                f["frame"] for f in (await h.http.get("/api/stations/CP/messages?limit=2")).json()
            ] == [f["frame"] for f in frames[:2]]
            response = await h.http.get(
                "/api/stations/CP/messages", params={"after": frames[1]["timestamp"]}
            )
            assert response.json() == frames[2:]
            offset = datetime.fromisoformat(frames[1]["timestamp"]).astimezone(
                timezone(timedelta(hours=2))
            )
            # "+" unencoded in a query string arrives as a space: still understood
            response = await h.http.get("/api/stations/CP/messages?after=" + offset.isoformat())
            assert response.json() == frames[2:]

            for query, error in [
                ("limit=0", "invalid limit"),
                ("limit=1001", "invalid limit"),
                ("limit=x", "invalid limit"),
                ("after=yesterday", "invalid after"),
            ]:
                response = await h.http.get(f"/api/stations/CP/messages?{query}")
                assert (response.status_code, response.json()["error"]) == (400, error), query
            response = await h.http.get("/api/stations/NOPE/messages")
            assert (response.status_code, response.json()["error"]) == (404, "unknown station")

    run(main)


def test_event_log_of_a_station() -> None:
    async def main() -> None:
        async with serving() as h:
            station = await h.connect("CP", OcppVersion.V16)
            assert (await h.http.get("/api/stations/CP/events")).json() == []
            await station.conn.call(
                v16.SecurityEventNotificationRequest(type="ResetOrReboot", timestamp=T0)
            )
            await station.conn.call(v16.FirmwareStatusNotificationRequest(status="Installing"))
            await station.conn.call(v16.DataTransferRequest(vendor_id="com.example", data="x"))
            response = await h.http.get("/api/stations/CP/events")
            assert response.status_code == 200
            events = response.json()
            assert [e["kind"] for e in events] == [
                "DataTransfer",
                "FirmwareStatusNotification",
                "SecurityEventNotification",
            ]
            assert events[0]["data"] == {"vendorId": "com.example", "data": "x"}
            assert events[2] == {
                "kind": "SecurityEventNotification",
                "timestamp": "2025-03-04T05:06:07Z",
                "data": {"type": "ResetOrReboot", "timestamp": "2025-03-04T05:06:07Z"},
            }
            response = await h.http.get("/api/stations/CP/events?kind=FirmwareStatusNotification")
            assert response.json() == [events[1]]
            assert (await h.http.get("/api/stations/CP/events?limit=2")).json() == events[:2]
            assert (await h.http.get("/api/stations/CP/events?kind=NotifyEvent")).json() == []
            for query in ("limit=0", "limit=1001", "limit=x"):
                response = await h.http.get(f"/api/stations/CP/events?{query}")
                assert (response.status_code, response.json()["error"]) == (
                    400,
                    "invalid limit",
                ), query
            response = await h.http.get("/api/stations/NOPE/events")
            assert (response.status_code, response.json()["error"]) == (404, "unknown station")

    run(main)


def test_message_log_is_pruned_and_can_be_off() -> None:
    async def main() -> None:
        store = MemoryStore()
        log = MessageLog(store, keep=3, flush_interval=3600)
        async with serving(store, message_log=log) as h:
            station = await h.connect("CP", OcppVersion.V16)
            await h.http.get("/api/stations/CP/messages")  # boot and reply: 2 written, < keep
            assert len(await store.frames("CP")) == 2
            for _ in range(3):
                await station.conn.call(v16.HeartbeatRequest())
            # 6 more written: 8 since the last prune >= keep, so the station is cut to 3
            frames = (await h.http.get("/api/stations/CP/messages")).json()
            assert [f["direction"] for f in frames] == ["out", "in", "out"]
            last = msgspec.json.decode(frames[-1]["frame"])
            assert last[0] == 3
            assert "currentTime" in last[2]
        for off in (MessageLog(store := MemoryStore(), keep=0), False):
            async with serving(store, message_log=off) as h:
                assert h.csms.server.on_frame is not None  # the app's call counters only
                station = await h.connect("CP", OcppVersion.V16)
                response = await h.http.get("/api/stations/CP/messages")
                assert (response.status_code, response.json()) == (200, [])
                assert await h.csms.store.frames("CP") == []
                text = (await h.http.get("/metrics")).text
                assert metric(text, "ocppkit_message_log_queue_depth") == 0
                assert metric(text, "ocppkit_message_log_dropped_total") == 0
                boots = {"direction": "from_station", "action": "BootNotification"}
                assert metric(text, "ocppkit_ocpp_calls_total", outcome="result", **boots) == 1

    run(main)


def test_metrics_read_the_csms_message_log_queue_and_drops() -> None:
    async def main() -> None:
        store = MemoryStore()
        # at most 2 frames wait; the writer's schedule never comes: the newest 2 wait, 4 dropped
        log = MessageLog(store, max_pending=2, flush_interval=3600)
        async with serving(store, message_log=log) as h:
            station = await h.connect("CP", OcppVersion.V16)
            for _ in range(2):
                await station.conn.call(v16.HeartbeatRequest())
            text = (await h.http.get("/metrics")).text
            assert metric(text, "ocppkit_message_log_queue_depth") == 2
            assert metric(text, "ocppkit_message_log_dropped_total") == 4
            frames = (await h.http.get("/api/stations/CP/messages")).json()
            assert [f["direction"] for f in frames] == ["in", "out"]  # the last heartbeat
            text = (await h.http.get("/metrics")).text
            assert metric(text, "ocppkit_message_log_queue_depth") == 0
            assert metric(text, "ocppkit_message_log_dropped_total") == 4

    run(main)


def test_a_station_connected_before_the_app_and_never_booted() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore())
        await csms.start("127.0.0.1", 0)
        connected = asyncio.Event()

        @csms.on_connect
        async def hello(station: Station16 | Station201 | Station21) -> None:
            connected.set()

        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/EARLY", versions=[OcppVersion.V21])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        await connected.wait()
        app = create_app(csms)  # taps the connection already open
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://csms") as http:
            [listed] = (await http.get("/api/stations")).json()
            assert listed == {
                "id": "EARLY",
                "ocppVersion": "2.1",
                "vendor": None,
                "model": None,
                "serialNumber": None,
                "firmwareVersion": None,
                "bootStatus": None,
                "lastBoot": None,
                "lastSeen": None,
                "connected": True,
                "accepted": False,
            }
            detail = (await http.get("/api/stations/EARLY")).json()
            assert (detail["connected"], detail["statuses"]) == (True, [])
            # not accepted: the CSMS answers SecurityError, and the frames are logged
            with pytest.raises(SecurityError):
                await conn.call(minimal_request(OcppVersion.V21, "Heartbeat"))
            frames = (await http.get("/api/stations/EARLY/messages")).json()
            assert [f["direction"] for f in frames] == ["in", "out"]
            metrics = (await http.get("/metrics")).text
            assert (
                metric(
                    metrics,
                    "ocppkit_ocpp_calls_total",
                    version="2.1",
                    direction="from_station",
                    action="Heartbeat",
                    outcome="error",
                )
                == 1
            )
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_plug_and_charge_calls_time_out_map_failures_and_are_counted() -> None:
    """``POST …/pnc/{action}`` takes ``?timeout=`` and answers as ``…/calls`` does (504, 502,
    400), and its calls show in the metrics as ``PnC.<action>``."""

    async def main() -> None:
        async with serving() as h:
            router = fake_charge_point(OcppVersion.V16).router
            release = asyncio.Event()

            async def data_transfer(req: v16.DataTransferRequest, conn: OcppConnection) -> Any:
                if req.message_id == "InstallCertificate":
                    await release.wait()
                if req.message_id == "DeleteCertificate":
                    return v16.DataTransferResponse(status="Rejected")
                return wrap_response(v201.GetInstalledCertificateIdsResponse(status="NotFound"))

            router.add(v16.DataTransferRequest, data_transfer)
            await h.connect("CP", OcppVersion.V16, router)
            base = "/api/stations/CP/pnc"
            listed = await h.http.post(f"{base}/GetInstalledCertificateIds", json={})
            assert (listed.status_code, listed.json()) == (200, {"status": "NotFound"})
            install = {"certificateType": "V2GRootCertificate", "certificate": "PEM"}
            response = await h.http.post(f"{base}/InstallCertificate?timeout=abc", json=install)
            assert (response.status_code, response.json()["error"]) == (400, "invalid timeout")
            response = await h.http.post(f"{base}/InstallCertificate?timeout=0.05", json=install)
            assert (response.status_code, response.json()["error"]) == (504, "timeout")
            release.set()
            hash_data = {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "a",
                "issuerKeyHash": "b",
                "serialNumber": "1",
            }
            response = await h.http.post(
                f"{base}/DeleteCertificate", json={"certificateHashData": hash_data}
            )
            assert (response.status_code, response.json()["error"]) == (
                502,
                "station did not take it",
            )
            assert "Rejected" in response.json()["reason"]

            text = (await h.http.get("/metrics")).text
            api = "ocppkit_api_calls_total"
            assert metric(text, api, action="PnC.GetInstalledCertificateIds", outcome="result") == 1
            assert metric(text, api, action="PnC.InstallCertificate", outcome="timeout") == 1
            assert (
                metric(text, api, action="PnC.DeleteCertificate", outcome="invalid_response") == 1
            )

    run(main)


def test_metrics_count_connections_and_calls() -> None:
    async def main() -> None:
        async with serving() as h:
            await h.connect("A", OcppVersion.V16, fake_charge_point(OcppVersion.V16).router)
            await h.connect("B", OcppVersion.V16)
            await h.connect("C", OcppVersion.V201, fake_charge_point(OcppVersion.V201).router)
            for _ in range(2):
                response = await h.http.post("/api/stations/A/calls/Reset", json={"type": "Soft"})
                assert response.status_code == 200
            await h.http.post("/api/stations/B/calls/Reset", json={"type": "Soft"})  # NotSupported
            await h.http.post("/api/stations/C/calls/Reset", json={"type": "Bogus"})  # never sent
            assert h.csms.message_log is not None
            await h.csms.message_log.flush()  # the default log: nothing left waiting

            response = await h.http.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            text = response.text
            connected = "ocppkit_connected_stations"
            assert metric(text, connected, version="1.6") == 2
            assert metric(text, connected, version="2.0.1") == 1
            assert metric(text, connected, version="2.1") == 0
            calls = "ocppkit_ocpp_calls_total"
            boots = {"direction": "from_station", "action": "BootNotification", "outcome": "result"}
            assert metric(text, calls, version="1.6", **boots) == 2
            assert metric(text, calls, version="2.0.1", **boots) == 1
            resets = {"version": "1.6", "direction": "to_station", "action": "Reset"}
            assert metric(text, calls, outcome="result", **resets) == 2
            assert metric(text, calls, outcome="error", **resets) == 1
            api = "ocppkit_api_calls_total"
            assert metric(text, api, action="Reset", outcome="result") == 2
            assert metric(text, api, action="Reset", outcome="call_error") == 1
            latency = "ocppkit_api_call_duration_seconds_count"
            assert metric(text, latency, action="Reset") == 3
            assert metric(text, "ocppkit_message_log_queue_depth") == 0
            assert "ocppkit_message_log_dropped_total" in text
            assert metric(text, "ocppkit_message_log_dropped_total") == 0

            # one registry per app: a second app over the same CSMS starts from zero
            other = create_app(h.csms)
            transport = httpx.ASGITransport(app=other)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
                text = (await http.get("/metrics")).text
            assert metric(text, api, action="Reset", outcome="result") == 0
            assert metric(text, connected, version="1.6") == 2

    run(main)


def test_openapi_document_describes_every_route_and_validates() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore())
        app = create_app(csms)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://csms") as http:
            response = await http.get("/openapi.json")
        assert response.status_code == 200
        document = response.json()
        assert document == openapi_document()
        assert document["openapi"].startswith("3.1")
        served = {
            (method.lower(), route.path)
            for route in app.routes
            if isinstance(route, Route)
            for method in route.methods or ()
            if method != "HEAD"
        }
        described = {(method, path) for path, ops in document["paths"].items() for method in ops}
        assert served == described
        assert len(served) == 14
        events = document["paths"]["/api/stations/{id}/events"]["get"]
        assert [p["name"] for p in events["parameters"]] == ["id", "kind", "limit"]
        assert events["responses"]["200"]["content"]["application/json"]["schema"] == {
            "type": "array",
            "items": {"$ref": "#/components/schemas/EventView"},
        }
        assert set(document["components"]["schemas"]["EventView"]["required"]) == {
            "kind",
            "timestamp",
            "data",
        }
        call = document["paths"]["/api/stations/{id}/calls/{action}"]["post"]
        [action] = [p for p in call["parameters"] if p["name"] == "action"]
        every = set().union(*(csms_actions(v) for v in OcppVersion))
        assert set(action["schema"]["enum"]) == every
        assert set(call["responses"]) == {"200", "400", "404", "409", "502", "504"}
        pnc = document["paths"]["/api/stations/{id}/pnc/{action}"]["post"]
        assert [p["name"] for p in pnc["parameters"]] == ["id", "action", "timeout"]
        assert set(pnc["responses"]) == set(call["responses"])
        status = document["components"]["schemas"]["IdTokenInput"]["properties"]["status"]
        assert {"Accepted", "Blocked", "ConcurrentTx", "NoCredit"} <= set(status["enum"])
        validator = pytest.importorskip("openapi_spec_validator")
        validator.validate(document)

    run(main)
