"""The CSMS role end to end on loopback: defaults store what stations send, policies, the gate."""

from __future__ import annotations

import asyncio
import unittest.mock
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocppkit.csms.context import known_only, utc_now
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station201
from ocppkit.messages import v16, v201
from ocppkit.protocol import InternalError, OcppVersion, SecurityError
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.store import ConnectorStatus, EventRecord, IdTokenRecord, StationRecord
from ocppkit.store.memory import MemoryStore
from ocppkit.store.sqlite import SqliteStore

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


async def connect(
    csms: Csms, identity: str, version: OcppVersion, router: Router | None = None
) -> Any:
    client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/{identity}", router, versions=[version])
    conn = await client.connect()
    return client, conn, asyncio.create_task(conn.run())


def test_a_full_1_6_session_is_stored_and_idempotent_under_retries() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store, heartbeat_interval=120)
        await csms.start("127.0.0.1", 0)
        await store.put_token(IdTokenRecord(token="GOOD"))
        await store.put_token(IdTokenRecord(token="OLD", expiry=T0 - timedelta(days=1)))
        client, conn, runner = await connect(csms, "CP1", OcppVersion.V16)
        boot = await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="ACME", charge_point_model="X1")
        )
        assert (boot.status, boot.interval) == ("Accepted", 120)
        await conn.call(
            v16.StatusNotificationRequest(connector_id=1, error_code="NoError", status="Preparing")
        )
        assert (
            await conn.call(v16.AuthorizeRequest(id_tag="GOOD"))
        ).id_tag_info.status == "Accepted"
        assert (await conn.call(v16.AuthorizeRequest(id_tag="OLD"))).id_tag_info.status == "Expired"
        assert (await conn.call(v16.AuthorizeRequest(id_tag="WHO"))).id_tag_info.status == "Invalid"
        start = v16.StartTransactionRequest(
            connector_id=1, id_tag="GOOD", meter_start=1000, timestamp=T0
        )
        first = await conn.call(start)
        retry = await conn.call(start)  # a retry after a lost reply: the same transaction
        assert first.transaction_id == retry.transaction_id
        sample = v16.SampledValue(
            value="1500", measurand="Energy.Active.Import.Register", unit="Wh"
        )
        values = v16.MeterValuesRequest(
            connector_id=1,
            transaction_id=first.transaction_id,
            meter_value=[
                v16.MeterValue(timestamp=T0 + timedelta(minutes=1), sampled_value=[sample])
            ],
        )
        await conn.call(values)
        await conn.call(values)  # duplicate meter values are stored once
        stop = v16.StopTransactionRequest(
            transaction_id=first.transaction_id,
            meter_stop=9800,
            timestamp=T0 + timedelta(hours=1),
            id_tag="GOOD",
        )
        stopped = await conn.call(stop)
        assert stopped.id_tag_info is not None
        assert stopped.id_tag_info.status == "Accepted"
        await conn.call(stop)
        [tx] = await store.list_transactions("CP1")
        assert (tx.meter_start, tx.meter_stop, tx.energy_wh, tx.id_token) == (
            1000,
            9800,
            8800,
            "GOOD",
        )
        assert len(await store.meter_values(tx.id)) == 1
        station = await store.get_station("CP1")
        assert station is not None
        assert (station.vendor, station.model, station.boot_status, station.connected) == (
            "ACME",
            "X1",
            "Accepted",
            True,
        )
        [status] = await store.current_statuses("CP1")
        assert (status.connector_id, status.status) == (1, "Preparing")
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_v16_meter_values_go_to_their_transaction_or_the_event_log() -> None:
    """A transaction the store knows but the CSMS did not start in this process (e.g. before a
    restart) gets its samples; an unknown transaction id, or none, puts the message in the event
    log and attaches nothing."""

    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store)
        await csms.start("127.0.0.1", 0)
        earlier = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        client, conn, runner = await connect(csms, "CP1", OcppVersion.V16)
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="A", charge_point_model="B")
        )
        sampled = [v16.SampledValue(value="5")]

        def values(transaction_id: int | None, minute: int) -> v16.MeterValuesRequest:
            when = T0 + timedelta(minutes=minute)
            return v16.MeterValuesRequest(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[v16.MeterValue(timestamp=when, sampled_value=sampled)],
            )

        await conn.call(values(int(earlier.ocpp_id), 1))
        await conn.call(values(int(earlier.ocpp_id), 2))  # now from the in-memory index
        await conn.call(values(987654, 3))
        await conn.call(values(None, 4))
        stored = await store.meter_values(earlier.id)
        assert [s.timestamp for s in stored] == [T0 + timedelta(minutes=m) for m in (1, 2)]
        logged = await store.events("CP1", "MeterValues")
        assert [e.data.get("transactionId") for e in logged] == [None, 987654]  # newest first
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_calls_before_an_accepted_boot_get_security_error() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store, boot_policy=known_only)
        await csms.start("127.0.0.1", 0)
        await store.record_boot(StationRecord(id="KNOWN"))
        client, conn, runner = await connect(csms, "STRANGER", OcppVersion.V16)
        with pytest.raises(SecurityError):
            await conn.call(v16.HeartbeatRequest())
        boot = await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        assert (boot.status, boot.interval) == ("Rejected", 30)
        with pytest.raises(SecurityError):
            await conn.call(v16.HeartbeatRequest())
        await client.close()
        await runner
        client, conn, runner = await connect(csms, "KNOWN", OcppVersion.V16)
        boot = await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        assert boot.status == "Accepted"
        assert (await conn.call(v16.HeartbeatRequest())).current_time is not None
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_2_0_1_transaction_events_and_typed_commands() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store)
        booted: list[str] = []

        @csms.on_boot
        async def announce(record: StationRecord) -> None:
            booted.append(f"{record.id} {record.boot_status}")

        station_router = Router(OcppVersion.V201)
        station_router.add(v201.ResetRequest, lambda r, c: v201.ResetResponse(status="Scheduled"))
        await csms.start("127.0.0.1", 0)
        await store.put_token(IdTokenRecord(token="TAG"))
        client, conn, runner = await connect(csms, "CS1", OcppVersion.V201, station_router)
        boot = v201.BootNotificationRequest(
            reason="PowerUp", charging_station=v201.ChargingStationType(model="M", vendor_name="V")
        )
        assert (await conn.call(boot)).status == "Accepted"
        token = v201.IdTokenType(id_token="TAG", type="ISO14443")
        energy = v201.SampledValueType(
            value=1.5, unit_of_measure=v201.UnitOfMeasureType(unit="kWh")
        )
        events: list[tuple[int, Literal["Started", "Updated", "Ended"], Any]] = [
            (0, "Started", None),
            (1, "Updated", [energy]),
            (1, "Updated", [energy]),
            (2, "Ended", None),
        ]
        for seq, kind, meter in events:
            event = v201.TransactionEventRequest(
                event_type=kind,
                timestamp=T0 + timedelta(minutes=seq),
                trigger_reason="Authorized",
                seq_no=seq,
                transaction_info=v201.TransactionType(transaction_id="TX-1"),
                id_token=token if seq == 0 else None,
                evse=v201.EVSEType(id=1, connector_id=1),
                meter_value=[v201.MeterValueType(timestamp=T0, sampled_value=meter)]
                if meter
                else None,
            )
            reply = await conn.call(event)
            if seq == 0:
                assert reply.id_token_info is not None
                assert reply.id_token_info.status == "Accepted"
        [tx] = await store.list_transactions("CS1")
        assert (tx.ocpp_id, tx.id_token, tx.last_seq_no, tx.stop_time is not None) == (
            "TX-1",
            "TAG",
            2,
            True,
        )
        assert len(await store.meter_values(tx.id)) == 1
        station = csms.station("CS1")
        assert isinstance(station, Station201)
        assert (await station.reset(type="OnIdle")).status == "Scheduled"
        assert booted == ["CS1 Accepted"]
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_a_default_can_be_replaced_and_keeps_the_gate() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore())

        @csms.router(OcppVersion.V16).on(v16.DataTransferRequest)
        def vendor(req: v16.DataTransferRequest, conn: OcppConnection) -> v16.DataTransferResponse:
            return v16.DataTransferResponse(status="Accepted", data=req.data)

        await csms.start("127.0.0.1", 0)
        client, conn, runner = await connect(csms, "CP1", OcppVersion.V16)
        with pytest.raises(SecurityError):
            await conn.call(v16.DataTransferRequest(vendor_id="com.example", data="x"))
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        reply = await conn.call(v16.DataTransferRequest(vendor_id="com.example", data="x"))
        assert (reply.status, reply.data) == ("Accepted", "x")
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_1_6_reports_and_data_transfer_are_stored_as_events() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store)
        now = T0 + timedelta(hours=1)
        csms.context.clock = lambda: now  # one time: ties go to the newest arrival
        await csms.start("127.0.0.1", 0)
        client, conn, runner = await connect(csms, "CP1", OcppVersion.V16)
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        await conn.call(
            v16.SecurityEventNotificationRequest(
                type="FirmwareUpdated", timestamp=T0, tech_info="v2.0"
            )
        )
        await conn.call(v16.FirmwareStatusNotificationRequest(status="Installed"))
        reply = await conn.call(
            v16.DataTransferRequest(vendor_id="com.example", message_id="Hello", data='{"a": 1}')
        )
        assert reply.status == "UnknownVendorId"
        assert await store.events("CP1") == [
            EventRecord(
                station_id="CP1",
                kind="DataTransfer",
                timestamp=now,
                data={"vendorId": "com.example", "messageId": "Hello", "data": '{"a": 1}'},
            ),
            EventRecord(
                station_id="CP1",
                kind="FirmwareStatusNotification",
                timestamp=now,
                data={"status": "Installed"},
            ),
            EventRecord(
                station_id="CP1",
                kind="SecurityEventNotification",
                timestamp=T0,  # its own
                data={
                    "type": "FirmwareUpdated",
                    "timestamp": "2025-03-04T05:06:07Z",
                    "techInfo": "v2.0",
                },
            ),
        ]
        assert [e.kind for e in await store.events("CP1", "DataTransfer")] == ["DataTransfer"]
        await client.close()
        await runner
        await csms.close()

    run(main)


def test_2_0_1_reports_and_data_transfer_are_stored_as_events() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store)
        now = T0 + timedelta(hours=1)
        csms.context.clock = lambda: now
        await csms.start("127.0.0.1", 0)
        client, conn, runner = await connect(csms, "CS1", OcppVersion.V201)
        boot = v201.BootNotificationRequest(
            reason="PowerUp", charging_station=v201.ChargingStationType(model="M", vendor_name="V")
        )
        assert (await conn.call(boot)).status == "Accepted"
        await conn.call(
            v201.SecurityEventNotificationRequest(type="TamperDetectionActivated", timestamp=T0)
        )
        await conn.call(v201.FirmwareStatusNotificationRequest(status="Downloading", request_id=7))
        reply = await conn.call(
            v201.DataTransferRequest(
                vendor_id="com.example",
                data={"readings": [1.5, {"phase": "L1", "ok": True, "note": None}], "n": 2},
            )
        )
        assert reply.status == "UnknownVendorId"
        later = T0 + timedelta(hours=2)
        await conn.call(
            v201.NotifyEventRequest(
                generated_at=later,
                seq_no=0,
                event_data=[
                    v201.EventDataType(
                        event_id=1,
                        timestamp=later,
                        trigger="Delta",
                        actual_value="true",
                        component=v201.ComponentType(
                            name="Door", evse=v201.EVSEType(id=1, connector_id=1)
                        ),
                        variable=v201.VariableType(name="Problem"),
                        event_notification_type="HardWiredNotification",
                    )
                ],
            )
        )
        events = await store.events("CS1")
        assert [(e.station_id, e.kind, e.timestamp) for e in events] == [
            ("CS1", "NotifyEvent", later),  # its own generatedAt
            ("CS1", "DataTransfer", now),
            ("CS1", "FirmwareStatusNotification", now),
            ("CS1", "SecurityEventNotification", T0),
        ]
        assert [e.data for e in events[1:]] == [
            {
                "vendorId": "com.example",
                "data": {"readings": [1.5, {"phase": "L1", "ok": True, "note": None}], "n": 2},
            },
            {"status": "Downloading", "requestId": 7},
            {"type": "TamperDetectionActivated", "timestamp": "2025-03-04T05:06:07Z"},
        ]
        [notify] = events[0].data["eventData"]
        assert notify["component"] == {"name": "Door", "evse": {"id": 1, "connectorId": 1}}
        assert notify["eventNotificationType"] == "HardWiredNotification"
        assert await store.events("CS1", "NotifyEvent", limit=0) == []
        await client.close()
        await runner
        await csms.close()

    run(main)


class FailingWrites(MemoryStore):
    """A store whose status, event and meter value writes fail: as a future (as
    ``SqliteStore`` returns them) or as a coroutine (an ``async def`` store)."""

    def __init__(self, *, as_future: bool) -> None:
        super().__init__()
        self.as_future = as_future

    def _fail(self) -> Any:
        error = OSError("disk full")
        if self.as_future:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(error)
            return future

        async def failing() -> None:
            raise error

        return failing()

    def record_status(self, status: Any) -> Any:
        return self._fail()

    def record_event(self, event: Any) -> Any:
        return self._fail()

    def add_transaction_meter_values(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail()


@pytest.mark.parametrize("as_future", [True, False], ids=["future", "coroutine"])
def test_a_failed_store_write_is_never_acknowledged(as_future: bool) -> None:
    """Status, meter values and event-log messages whose store write fails get a CALLERROR
    (InternalError), never a CALLRESULT; the connection goes on."""

    async def main() -> None:
        csms = Csms(FailingWrites(as_future=as_future))
        await csms.start("127.0.0.1", 0)
        client, conn, runner = await connect(csms, "CP1", OcppVersion.V16)
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="A", charge_point_model="B")
        )
        for request in (
            v16.StatusNotificationRequest(connector_id=1, error_code="NoError", status="Charging"),
            v16.MeterValuesRequest(
                connector_id=1,
                transaction_id=7,
                meter_value=[
                    v16.MeterValue(timestamp=T0, sampled_value=[v16.SampledValue(value="1")])
                ],
            ),
            v16.DataTransferRequest(vendor_id="acme"),
            v16.FirmwareStatusNotificationRequest(status="Installed"),
        ):
            with pytest.raises(InternalError, match="failed: OSError"):
                await conn.call(request)
        assert (await conn.call(v16.HeartbeatRequest())).current_time is not None
        await client.close()
        await runner
        await csms.close()

    run(main)


class PruneSpy(MemoryStore):
    """A ``MemoryStore`` on a settable clock that tells each ``prune_history`` (with its cutoff)
    as it ends."""

    def __init__(self, now: datetime) -> None:
        super().__init__(clock=lambda: self.now)
        self.now = now
        self.pruned: asyncio.Queue[tuple[datetime, int]] = asyncio.Queue()

    async def prune_history(self, before: datetime) -> int:
        deleted = await super().prune_history(before)
        self.pruned.put_nowait((before, deleted))
        return deleted

    async def record(self, state: str, timestamp: datetime, connector_id: int = 1) -> None:
        """A status report and an event of CP1 with the station's ``timestamp``."""
        report = ConnectorStatus(
            station_id="CP1",
            evse_id=0,
            connector_id=connector_id,
            status=state,
            timestamp=timestamp,
        )
        await self.record_status(report)
        data = {"s": state}
        await self.record_event(
            EventRecord(station_id="CP1", kind="DataTransfer", timestamp=timestamp, data=data)
        )


def test_history_received_before_history_days_is_pruned_at_start_and_then_periodically() -> None:
    """What the CSMS received more than ``history_days`` ago goes, whatever the station's clock
    said: old reports stamped in the future go, recent ones stamped 1970 stay."""

    async def main() -> None:
        store = PruneSpy(T0 - timedelta(days=40))
        await store.open()
        await store.record("Available", T0 + timedelta(days=365))
        await store.record("Preparing", T0 + timedelta(days=366))
        # prune_interval=0: back to back, each round awaited through the queue
        csms = Csms(store, message_log=False, history_days=30, prune_interval=0)
        # the CSMS's own clock is not the store's: the cutoff must come from the store's
        csms.context.clock = lambda: T0 + timedelta(days=1000)
        await csms.start("127.0.0.1", 0)
        try:  # between two rounds, the test runs first (the pruner yields after each)
            assert await store.pruned.get() == (T0 - timedelta(days=70), 0)  # at start
            store.now = T0 - timedelta(days=10)
            await store.record("Charging", datetime(1970, 1, 1, tzinfo=UTC), connector_id=2)
            assert await store.pruned.get() == (T0 - timedelta(days=40), 0)
            store.now = T0
            # Available and the two old events; Preparing is connector 1's current status
            assert await store.pruned.get() == (T0 - timedelta(days=30), 3)
            assert [e.data for e in await store.events("CP1")] == [{"s": "Charging"}]
            statuses = await store.status_history("CP1")
            assert [s.status for s in statuses] == ["Preparing", "Charging"]
            assert await store.pruned.get() == (T0 - timedelta(days=30), 0)  # and again
        finally:
            await csms.close()
        assert csms._pruner is None  # stopped with the CSMS

    run(main)


def test_without_history_days_nothing_is_pruned() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.open()
        long_ago = T0 - timedelta(days=999)
        await store.record_event(
            EventRecord(station_id="CP1", kind="DataTransfer", timestamp=long_ago, data={})
        )
        csms = Csms(store, message_log=False)
        assert await csms.prune_history() == 0
        assert len(await store.events("CP1")) == 1
        with pytest.raises(ValueError, match="history_days"):
            Csms(store, message_log=False, history_days=0)
        with pytest.raises(ValueError, match="prune_interval"):
            Csms(store, message_log=False, history_days=1, prune_interval=-1)

    run(main)


@given(st.integers(0, 2**42), st.integers(0, 999_999))
def test_utc_now_is_the_current_millisecond_exactly(millis: int, nanos: int) -> None:
    with unittest.mock.patch("time.time_ns", return_value=millis * 1_000_000 + nanos):
        now = utc_now()
    assert now == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    assert now.tzinfo is UTC


def test_a_csms_that_cannot_serve_closes_what_it_opened(tmp_path: Any) -> None:
    async def main() -> None:
        taken = Csms(MemoryStore(), message_log=False)
        await taken.start("127.0.0.1", 0)
        store = SqliteStore(tmp_path / "csms.db")
        csms = Csms(store)
        try:
            with pytest.raises(OSError, match="in use"):
                await csms.start("127.0.0.1", taken.server.port)
            with pytest.raises(RuntimeError, match="not open"):
                await store.list_stations()  # the store's threads are gone too
        finally:
            await taken.close()

    run(main)
