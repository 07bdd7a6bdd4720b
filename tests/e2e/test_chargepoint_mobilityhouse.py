"""Our OCPP 1.6 charge point stack against a mobilityhouse/ocpp 2.1.0 central system.

``ChargePoint16`` (SQLite state in ``tmp_path``, ``AsyncioRuntime``: the real clock) runs through
``run_charge_point`` and ``OcppClient`` over a real websocket to a mobilityhouse
``ocpp.v16.ChargePoint`` served by ``websockets.serve`` on loopback (port 0, ``ocpp1.6``), which
validates every message against its 1.6 JSON schemas and records what its ``@on`` handlers
received. The session: boot, statuses, plug + token -> Authorize -> StartTransaction, meter
readings (a triggered MeterValues), ChangeConfiguration / GetConfiguration / TriggerMessage from
the central system, its RemoteStopTransaction -> StopTransaction (Remote), unplug.

Nothing waits on time: each step waits for what the central system records (an
``asyncio.Event`` set by its handlers) or for a callback of our stack; ``asyncio.wait_for(…, 10)``
only turns a hang into a failure. No timer matters: ``MeterValueSampleInterval`` is 0, the
heartbeat interval far longer than the test. The central system's clock starts at ``NOW`` (2025)
and runs on; the stack's timestamps follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ocpp.v16
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocppkit.chargepoint.asyncio_runtime import AsyncioRuntime, ClientLink, run_charge_point
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks, TransactionInfo
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from tests.mobilityhouse import Recording, on

IDENTITY = "CP-OURS"
TOKEN = "TAG-MH-1"
TRANSACTION_ID = 42
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)  # the central system's clock starts here
LIMIT = 60  # seconds: the whole test, a failure guard only
ENERGY = "Energy.Active.Import.Register"
call, result = ocpp.v16.call, ocpp.v16.call_result


async def guard(awaitable: Any) -> Any:
    """Wait for ``awaitable``; a hang fails after 10 s (never reached when things work)."""
    return await asyncio.wait_for(awaitable, 10)


# -- the mobilityhouse central system --------------------------------------------------------------


class CentralSystem(Recording, ocpp.v16.ChargePoint):  # type: ignore[misc]
    """Answers every charge point -> central system CALL of the session and records it."""

    def __init__(self, identity: str, connection: Any) -> None:
        super().__init__(identity, connection)
        self.changed = asyncio.Event()
        self.started = time.monotonic()

    def now(self) -> str:
        """Its clock: from ``NOW`` on, moving as real time does (the stack follows it)."""
        now = NOW + timedelta(seconds=time.monotonic() - self.started)
        return now.isoformat().replace("+00:00", "Z")

    def record(self, action: str, kwargs: dict[str, Any]) -> None:
        super().record(action, kwargs)
        self.changed.set()

    def requests(self, action: str) -> list[dict[str, Any]]:
        """What the handlers of ``action`` received, in order."""
        return [kwargs for name, kwargs in self.received if name == action]

    def statuses(self) -> dict[int, list[str]]:
        """The StatusNotifications received, per connector, in order."""
        found: dict[int, list[str]] = {}
        for request in self.requests("StatusNotification"):
            found.setdefault(request["connector_id"], []).append(request["status"])
        return found

    async def until(self, check: Callable[[], bool]) -> None:
        """Wait until ``check()`` holds, re-checked after every CALL received."""

        async def wait() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await guard(wait())

    async def ask(self, request: Any) -> Any:
        """A central system -> charge point CALL (a CALLERROR raises)."""
        return await guard(self.call(request, suppress=False))

    @on("BootNotification")
    def on_boot_notification(self, **kwargs: Any) -> Any:
        self.record("BootNotification", kwargs)
        return result.BootNotification(current_time=self.now(), interval=3600, status="Accepted")

    @on("StatusNotification")
    def on_status_notification(self, **kwargs: Any) -> Any:
        self.record("StatusNotification", kwargs)
        return result.StatusNotification()

    @on("Heartbeat")
    def on_heartbeat(self, **kwargs: Any) -> Any:
        self.record("Heartbeat", kwargs)
        return result.Heartbeat(current_time=self.now())

    @on("Authorize")
    def on_authorize(self, **kwargs: Any) -> Any:
        self.record("Authorize", kwargs)
        status = "Accepted" if kwargs["id_tag"] == TOKEN else "Invalid"
        return result.Authorize(id_tag_info={"status": status})

    @on("StartTransaction")
    def on_start_transaction(self, **kwargs: Any) -> Any:
        self.record("StartTransaction", kwargs)
        return result.StartTransaction(
            transaction_id=TRANSACTION_ID, id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")
    def on_meter_values(self, **kwargs: Any) -> Any:
        self.record("MeterValues", kwargs)
        return result.MeterValues()

    @on("StopTransaction")
    def on_stop_transaction(self, **kwargs: Any) -> Any:
        self.record("StopTransaction", kwargs)
        return result.StopTransaction(id_tag_info={"status": "Accepted"})


@asynccontextmanager
async def mobilityhouse_central_system() -> AsyncIterator[tuple[str, asyncio.Future[Any]]]:
    """Serving on loopback: ``(base url, future of the central system's first connection)``."""
    peer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        assert ws.subprotocol == "ocpp1.6"
        central = CentralSystem(ws.request.path.rsplit("/", 1)[-1], ws)
        peer.set_result(central)
        with contextlib.suppress(ConnectionClosed):
            await central.start()

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp", peer


# -- our side ----------------------------------------------------------------------------------


class Charger(ChargerCallbacks):
    """Records what the stack tells the charger; ``updated`` is set once the CSMS's transaction
    id is known."""

    def __init__(self) -> None:
        self.energy: list[tuple[int, bool]] = []
        self.changes: list[tuple[str, str]] = []
        self.stopped: list[TransactionInfo] = []
        self.updated = asyncio.Event()

    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        self.energy.append((connector_id, allowed))

    def configuration_changed(self, key: str, value: str) -> None:
        self.changes.append((key, value))

    def transaction_updated(self, tx: TransactionInfo) -> None:
        if tx.transaction_id is not None:
            self.updated.set()

    def transaction_stopped(self, tx: TransactionInfo) -> None:
        self.stopped.append(tx)


def wire_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the session ---------------------------------------------------------------------------------


def test_our_charge_point_against_a_mobilityhouse_central_system(tmp_path: Path) -> None:
    async def main() -> None:
        async with mobilityhouse_central_system() as (url, peer):
            runtime = AsyncioRuntime()
            client = OcppClient(f"{url}/{IDENTITY}", versions=[OcppVersion.V16])
            charger = Charger()
            cp = ChargePoint16(
                store=SqliteStateStore(tmp_path / "cp.db"),
                link=ClientLink(client),
                clock=runtime,
                scheduler=runtime,
                vendor="Acme",
                model="Ours-16",
                serial_number="SN-OURS",
                firmware_version="1.2.3",
                callbacks=charger,
                config_defaults={
                    "MeterValueSampleInterval": "0",  # no periodic samples: no timer matters
                    "StopTxnSampledData": ENERGY,  # Transaction.Begin / End in StopTransaction
                },
            )
            runner = asyncio.create_task(run_charge_point(cp, client))
            try:
                await session(await guard(peer), cp, charger, runtime)
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)

    asyncio.run(asyncio.wait_for(main(), LIMIT))


async def session(
    cs: CentralSystem, cp: ChargePoint16, charger: Charger, runtime: AsyncioRuntime
) -> None:
    assert cs.id == IDENTITY

    # boot, then the status of the charge point and of its connector
    await cs.until(lambda: cs.statuses() == {0: ["Available"], 1: ["Available"]})
    assert cs.requests("BootNotification") == [
        {
            "charge_point_vendor": "Acme",
            "charge_point_model": "Ours-16",
            "charge_point_serial_number": "SN-OURS",
            "firmware_version": "1.2.3",
        }
    ]
    assert cs.received[0][0] == "BootNotification"  # nothing before the boot
    for status in cs.requests("StatusNotification"):
        assert status["error_code"] == "NoError"
        assert NOW <= wire_time(status["timestamp"]) <= NOW + timedelta(seconds=LIMIT)

    # plug + token -> Authorize -> StartTransaction (the meter's register as meterStart)
    await cp.plug_in(1)
    cp.meter(1, [Reading(1000.0)])
    assert await cp.present_token(TOKEN) is True
    await guard(charger.updated.wait())  # the StartTransaction answer was taken in
    await cs.until(lambda: cs.statuses()[1][-1] == "Charging")
    assert cs.requests("Authorize") == [{"id_tag": TOKEN}]
    [start] = cs.requests("StartTransaction")
    assert {key: start[key] for key in start if key != "timestamp"} == {
        "connector_id": 1,
        "id_tag": TOKEN,
        "meter_start": 1000,
    }
    assert NOW <= wire_time(start["timestamp"]) <= NOW + timedelta(seconds=LIMIT)
    assert charger.energy == [(1, True)]

    # meter readings; the central system triggers a MeterValues and a Heartbeat
    cp.meter(1, [Reading(1800.0)])
    cp.meter(1, [Reading(2500.0), Reading(7.4, "Power.Active.Import", unit="kW")])
    answer = await cs.ask(call.TriggerMessage(requested_message="MeterValues", connector_id=1))
    assert answer == result.TriggerMessage(status="Accepted")
    await cs.until(lambda: len(cs.requests("MeterValues")) == 1)
    [meter_values] = cs.requests("MeterValues")
    assert meter_values["connector_id"] == 1
    assert meter_values["transaction_id"] == TRANSACTION_ID
    [sampled] = meter_values["meter_value"]
    assert sampled["sampled_value"] == [  # MeterValuesSampledData: the energy register only
        {"value": "2500", "context": "Trigger", "measurand": ENERGY, "unit": "Wh"}
    ]
    answer = await cs.ask(call.TriggerMessage(requested_message="Heartbeat"))
    assert answer == result.TriggerMessage(status="Accepted")
    await cs.until(lambda: len(cs.requests("Heartbeat")) == 1)
    assert cs.requests("Heartbeat") == [{}]

    # configuration from the central system
    changes = {
        ("HeartbeatInterval", "600"): "Accepted",
        ("heartbeatinterval", "+0900"): "Accepted",  # any case; stored as plain decimal
        ("HeartbeatInterval", "-1"): "Rejected",
        ("NumberOfConnectors", "2"): "Rejected",  # read-only
        ("MeterValueSampleInterval", "often"): "Rejected",
        ("NoSuchKey", "1"): "NotSupported",
    }
    for (key, value), expected in changes.items():
        answer = await cs.ask(call.ChangeConfiguration(key=key, value=value))
        assert answer == result.ChangeConfiguration(status=expected), (key, value)
    assert charger.changes == [("HeartbeatInterval", "600"), ("HeartbeatInterval", "900")]
    assert cp.config.get_int("HeartbeatInterval") == 900
    answer = await cs.ask(
        call.GetConfiguration(key=["HeartbeatInterval", "NumberOfConnectors", "NoSuchKey"])
    )
    assert answer == result.GetConfiguration(
        configuration_key=[
            {"key": "HeartbeatInterval", "readonly": False, "value": "900"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
        ],
        unknown_key=["NoSuchKey"],
    )
    everything = await cs.ask(call.GetConfiguration())
    assert everything.unknown_key is None
    known = {item["key"]: item.get("value") for item in everything.configuration_key}
    assert known["MeterValueSampleInterval"] == "0"
    assert known["StopTxnSampledData"] == ENERGY
    assert known["HeartbeatInterval"] == "900"
    assert "AuthorizationKey" not in known  # write-only: never read back

    # RemoteStopTransaction: Rejected for an unknown id, Accepted for ours -> StopTransaction
    answer = await cs.ask(call.RemoteStopTransaction(transaction_id=TRANSACTION_ID + 1))
    assert answer == result.RemoteStopTransaction(status="Rejected")
    assert cs.requests("StopTransaction") == []
    answer = await cs.ask(call.RemoteStopTransaction(transaction_id=TRANSACTION_ID))
    assert answer == result.RemoteStopTransaction(status="Accepted")
    await cs.until(lambda: len(cs.requests("StopTransaction")) == 1)
    await cs.until(lambda: cs.statuses()[1][-1] == "Finishing")  # still plugged
    [stop] = cs.requests("StopTransaction")
    assert {key: stop[key] for key in stop if key not in ("timestamp", "transaction_data")} == {
        "transaction_id": TRANSACTION_ID,
        "meter_stop": 2500,
        "reason": "Remote",
    }
    assert wire_time(start["timestamp"]) <= wire_time(stop["timestamp"])
    begin, end = stop["transaction_data"]
    assert begin["sampled_value"] == [
        {"value": "1000", "context": "Transaction.Begin", "measurand": ENERGY, "unit": "Wh"}
    ]
    assert end["sampled_value"] == [
        {"value": "2500", "context": "Transaction.End", "measurand": ENERGY, "unit": "Wh"}
    ]
    assert charger.energy == [(1, True), (1, False)]
    [stopped] = charger.stopped
    assert (stopped.transaction_id, stopped.meter_start_wh, stopped.meter_stop_wh) == (
        TRANSACTION_ID,
        1000,
        2500,
    )
    assert stopped.reason == "Remote"

    # unplugged: Available again; everything queued was delivered
    await cp.plug_out(1)
    await cs.until(lambda: cs.statuses()[1][-1] == "Available")
    await guard(runtime.drain())
    assert len(cp.outbox) == 0
    assert cs.statuses() == {
        0: ["Available"],
        1: ["Available", "Preparing", "Charging", "Finishing", "Available"],
    }
    assert [name for name, _ in cs.received if name != "StatusNotification"] == [
        "BootNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "Heartbeat",
        "StopTransaction",
    ]
