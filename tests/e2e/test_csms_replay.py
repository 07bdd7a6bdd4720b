"""Transaction messages replayed after a reconnect are stored once, as the HTTP API shows.

A charge point whose CALLRESULT got lost when its connection dropped reconnects (without a
reboot) and sends the message again: the same content, as a new CALL with a new message id.
Against a ``Csms(SqliteStore(file))`` on loopback (the harness of ``test_csms_sessions``), our
own ``OcppClient`` runs one charging session per OCPP version (1.6 StartTransaction /
MeterValues / StopTransaction; 2.x TransactionEvent Started / Updated / Ended with seqNo and
meterValue) and replays every transaction message once on a new connection: either each one
right after it was answered, or the whole session after it ended. Every replay gets the answer
the first sending got (1.6: the same transactionId), and through the HTTP API only: the message
log holds each message twice (two CALLs, two message ids), ``GET /api/transactions?station=``
holds one transaction with the session's meter start, stop and energy, and the event log holds
no stray meter values; ``GET /api/transactions/{id}/meter-values`` has each sample once.

Nothing sleeps: each step waits for a CALLRESULT, or for the CSMS's ``on_disconnect`` hook
before reconnecting.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest

from ocppkit.messages import OcppRequest, actions
from ocppkit.protocol import OcppVersion
from ocppkit.protocol.codec import decode_payload
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import OcppConnection
from tests.e2e.test_csms_sessions import (
    ENERGY,
    SAMPLED_AT,
    STARTED_AT,
    STOPPED_AT,
    TOKEN,
    Harness,
    put_token,
    run,
    serving,
)

Message = tuple[str, dict[str, Any]]
"""An OCPP request in wire form: its action and its payload (camelCase)."""

METER = (1000, 2200, 3400, 5000)
"""The energy register (Wh) at start, at each of SAMPLED_AT and at stop."""
EXPECTED_TX = {
    "idToken": TOKEN,
    "startTime": STARTED_AT,
    "stopTime": STOPPED_AT,
    "meterStart": 1000.0,
    "meterStop": 5000.0,
    "energyWh": 4000.0,
    "stopReason": "Local",
}
VERSIONS = pytest.mark.parametrize(
    "version", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21], ids=["1.6", "2.0.1", "2.1"]
)


# -- the session, per version --------------------------------------------------------------------


def boot(version: OcppVersion) -> Message:
    if version is OcppVersion.V16:
        return "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "Replay"}
    return "BootNotification", {
        "chargingStation": {"vendorName": "Acme", "model": "Replay"},
        "reason": "PowerUp",
    }


START_16: Message = (
    "StartTransaction",
    {"connectorId": 1, "idTag": TOKEN, "meterStart": METER[0], "timestamp": STARTED_AT},
)


def session_16(transaction_id: int) -> list[Message]:
    """1.6 MeterValues and StopTransaction of ``transaction_id`` (after its StartTransaction)."""
    meter_values: list[Message] = [
        (
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {
                        "timestamp": at,
                        "sampledValue": [{"value": str(wh), "measurand": ENERGY, "unit": "Wh"}],
                    }
                ],
            },
        )
        for at, wh in zip(SAMPLED_AT, METER[1:3], strict=True)
    ]
    stop = {
        "transactionId": transaction_id,
        "meterStop": METER[3],
        "timestamp": STOPPED_AT,
        "idTag": TOKEN,
        "reason": "Local",
    }
    return [*meter_values, ("StopTransaction", stop)]


def session_2x(ocpp_id: str) -> list[Message]:
    """2.x TransactionEvent Started, Updated (one per SAMPLED_AT) and Ended, seqNo 0..3."""
    id_token = {"idToken": TOKEN, "type": "ISO14443"}

    def event(
        seq_no: int,
        event_type: str,
        trigger: str,
        at: str,
        wh: int,
        info: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Message:
        sample = {"value": wh, "measurand": ENERGY, "unitOfMeasure": {"unit": "Wh"}}
        return "TransactionEvent", {
            "eventType": event_type,
            "timestamp": at,
            "triggerReason": trigger,
            "seqNo": seq_no,
            "transactionInfo": {"transactionId": ocpp_id, **(info or {})},
            "meterValue": [{"timestamp": at, "sampledValue": [sample]}],
            **fields,
        }

    return [
        event(
            0,
            "Started",
            "Authorized",
            STARTED_AT,
            METER[0],
            {"chargingState": "Charging"},
            idToken=id_token,
            evse={"id": 1, "connectorId": 1},
        ),
        event(1, "Updated", "MeterValuePeriodic", SAMPLED_AT[0], METER[1]),
        event(2, "Updated", "MeterValuePeriodic", SAMPLED_AT[1], METER[2]),
        event(
            3,
            "Ended",
            "StopAuthorized",
            STOPPED_AT,
            METER[3],
            {"stoppedReason": "Local"},
            idToken=id_token,
        ),
    ]


# -- our charge point: reconnects without rebooting and replays ------------------------------------


@dataclass
class ChargePoint:
    """An ``OcppClient`` station of ``harness``; ``answers``: each transaction message sent and
    its answers (the first sending's, then the replay's)."""

    harness: Harness
    identity: str
    version: OcppVersion
    client: OcppClient = field(init=False)
    conn: OcppConnection = field(init=False)
    runner: asyncio.Task[None] = field(init=False)
    answers: list[tuple[Message, list[Any]]] = field(default_factory=list)

    async def connect(self) -> None:
        self.client = OcppClient(
            self.harness.url(self.identity), versions=[self.version], ping_interval=None
        )
        self.conn = await self.client.connect()
        self.runner = asyncio.create_task(self.conn.run())

    async def disconnect(self) -> None:
        gone = self.harness.disconnected[self.identity] = asyncio.Event()
        await self.client.close()
        await self.runner
        await gone.wait()  # the CSMS saw the connection end

    async def reconnect(self) -> None:
        await self.disconnect()
        await self.connect()

    async def call(self, message: Message) -> Any:
        action, payload = message
        request_type = actions(self.version)[action].request
        request: OcppRequest[Any]
        request, _ = decode_payload(request_type, msgspec.json.encode(payload))
        return await self.conn.call(request)

    async def send(self, message: Message) -> Any:
        """A transaction message, sent for the first time."""
        answer = await self.call(message)
        self.answers.append((message, [answer]))
        return answer

    async def replay(self, index: int) -> None:
        """The ``index``-th transaction message again, as a new CALL on the current connection."""
        message, answers = self.answers[index]
        answers.append(await self.call(message))


async def charge(cp: ChargePoint, replay: Literal["each", "session"]) -> str:
    """Run the session with its replays; returns the transaction's OCPP id."""

    async def step(message: Message) -> Any:
        answer = await cp.send(message)
        if replay == "each":  # its answer "lost": reconnect and send it again
            await cp.reconnect()
            await cp.replay(len(cp.answers) - 1)
        return answer

    if cp.version is OcppVersion.V16:
        started = await step(START_16)
        ocpp_id = str(started.transaction_id)
        rest = session_16(started.transaction_id)
    else:
        ocpp_id = f"TX-{cp.identity}"
        first, *rest = session_2x(ocpp_id)
        await step(first)
    for message in rest:
        await step(message)
    if replay == "session":  # the whole session again, after it ended
        await cp.reconnect()
        for index in range(len(cp.answers)):
            await cp.replay(index)
    return ocpp_id


# -- the test ------------------------------------------------------------------------------------


@VERSIONS
@pytest.mark.parametrize("replay", ["each", "session"])
def test_replayed_transaction_messages_make_one_transaction(
    tmp_path: Path, version: OcppVersion, replay: Literal["each", "session"]
) -> None:
    identity = f"RP-{version.value.replace('.', '')}"

    async def main() -> None:
        async with serving(tmp_path / "csms.db") as harness:
            http = harness.http
            await put_token(http)
            cp = ChargePoint(harness, identity, version)
            await cp.connect()
            assert (await cp.call(boot(version))).status == "Accepted"
            ocpp_id = await charge(cp, replay)

            # every replay got the answer of the first sending (1.6: the same transactionId)
            assert len(cp.answers) == 4
            for (action, _), answers in cp.answers:
                first, again = answers
                assert again == first, action
                if action == "StartTransaction":
                    assert again.transaction_id == first.transaction_id == int(ocpp_id)

            # the message log: each transaction message came twice, as two CALLs
            response = await http.get(f"/api/stations/{identity}/messages")
            assert response.status_code == 200, response.text
            calls = [json.loads(f["frame"]) for f in response.json() if f["direction"] == "in"]
            assert len({unique_id for _, unique_id, _, _ in calls}) == len(calls)
            sent = Counter(
                json.dumps([action, payload], sort_keys=True)
                for _, _, action, payload in calls
                if action != "BootNotification"
            )
            assert list(sent.values()) == [2, 2, 2, 2]  # 4 messages, each with its replay

            # one transaction, with the session's meter readings
            response = await http.get("/api/transactions", params={"station": identity})
            assert response.status_code == 200, response.text
            [tx] = response.json()
            assert tx == {
                **EXPECTED_TX,
                "id": tx["id"],
                "station": identity,
                "ocppId": ocpp_id,
                "evseId": 0 if version is OcppVersion.V16 else 1,
                "connectorId": 1,
            }
            # each sample once, in time order, although every message carrying it came twice
            samples = await http.get(f"/api/transactions/{tx['id']}/meter-values")
            assert samples.status_code == 200, samples.text
            values = [float(v["value"]) for v in samples.json()]
            sampled = list(METER[1:3]) if version is OcppVersion.V16 else list(METER)
            assert values == sampled
            # no replayed meter value taken for one outside a transaction
            events = await http.get(f"/api/stations/{identity}/events")
            assert events.status_code == 200, events.text
            assert events.json() == []
            await cp.disconnect()

    run(main)
