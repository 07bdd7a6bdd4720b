"""The ``Store`` contract: every implementation passes these tests.

Use: subclass ``StoreContract`` in a ``test_*.py`` module and override the ``store_factory``
fixture with one returning a function that makes a new, unopened store::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path: Path) -> StoreFactory:
            return lambda: MyStore(tmp_path / "db")

Each ``@contract`` test is an ``async def (self, store)``: it gets an opened store (closed after
it) and runs in its own event loop. The rules tested are those of ``ocppkit.store`` plus the
ones it leaves open, which every store shares (``ocppkit.store.memory`` lists them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import msgspec
import pytest

from ocppkit.store import (
    ConnectorStatus,
    EventRecord,
    FrameRecord,
    IdTokenRecord,
    MeterSample,
    StationRecord,
    Store,
    TransactionRecord,
)

__all__ = [
    "T0",
    "StoreContract",
    "StoreFactory",
    "at",
    "boot",
    "contract",
    "event",
    "frame",
    "run_with_store",
    "sample",
    "status",
]

StoreFactory = Callable[[], Store]
ContractTest = Callable[[Any, Store], Coroutine[Any, Any, None]]

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def run_with_store(
    factory: StoreFactory, body: Callable[[Store], Coroutine[Any, Any, None]]
) -> None:
    """Run ``body`` with a new opened store in a new event loop; close the store after."""

    async def main() -> None:
        store = factory()
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def contract(test: ContractTest) -> Callable[[Any, StoreFactory], None]:
    """Turn ``async def test_x(self, store)`` into a pytest test using ``store_factory``."""

    def run(self: Any, store_factory: StoreFactory) -> None:
        run_with_store(store_factory, lambda store: test(self, store))

    # no functools.wraps: pytest would follow __wrapped__ and ask for a ``store`` fixture
    run.__name__ = test.__name__
    run.__qualname__ = test.__qualname__
    run.__doc__ = test.__doc__
    return run


def boot(station_id: str, **fields: Any) -> StationRecord:
    """A boot record with every boot field set."""
    values: dict[str, Any] = {
        "ocpp_version": "1.6",
        "vendor": "ACME",
        "model": "X1",
        "serial_number": "SN-1",
        "firmware_version": "1.0",
        "boot_status": "Accepted",
        "last_boot": T0,
    }
    values.update(fields)
    return StationRecord(id=station_id, **values)


def status(
    station_id: str, connector_id: int, state: str, when: datetime, evse_id: int = 0
) -> ConnectorStatus:
    """A status report."""
    return ConnectorStatus(
        station_id=station_id,
        evse_id=evse_id,
        connector_id=connector_id,
        status=state,
        timestamp=when,
    )


def sample(when: datetime, value: str = "1", **fields: Any) -> MeterSample:
    """A meter sample."""
    return MeterSample(timestamp=when, value=value, **fields)


def frame(station_id: str, when: datetime, text: str, direction: str = "in") -> FrameRecord:
    """A message log frame."""
    assert direction in ("in", "out")
    return FrameRecord(
        station_id=station_id,
        direction="in" if direction == "in" else "out",
        timestamp=when,
        frame=text,
    )


def event(station_id: str, kind: str, when: datetime, **data: Any) -> EventRecord:
    """An event of the event log, with ``data`` as its payload."""
    return EventRecord(station_id=station_id, kind=kind, timestamp=when, data=data)


def assert_utc(*moments: datetime | None) -> None:
    """Every datetime given is timezone-aware UTC."""
    for moment in moments:
        if moment is not None:
            assert moment.utcoffset() == timedelta(0), moment


class StoreContract:
    """The contract tests; subclasses provide ``store_factory``."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """A function making a new, unopened store (override it)."""
        raise NotImplementedError

    # life cycle ---------------------------------------------------------------------------------
    def test_calls_outside_open_close_raise(self, store_factory: StoreFactory) -> None:
        async def main() -> None:
            store = store_factory()
            with pytest.raises(RuntimeError):
                await store.get_station("CP1")
            await store.open()
            await store.set_password("CP1", "h")
            await store.close()
            with pytest.raises(RuntimeError):
                await store.set_password("CP1", "h2")
            with pytest.raises(RuntimeError):
                await store.get_password("CP1")

        asyncio.run(asyncio.wait_for(main(), 30))

    @contract
    async def test_reopen_keeps_data(self, store: Store) -> None:
        await store.set_password("CP1", "h")
        tx = await store.start_transaction("CP1", 1, "TAG", 10, T0)
        await store.close()
        await store.open()
        assert await store.get_password("CP1") == "h"
        assert await store.get_transaction("CP1", tx.ocpp_id) == tx
        assert await store.start_transaction("CP1", 1, "TAG", 10, T0) == tx

    # stations ---------------------------------------------------------------------------------
    @contract
    async def test_record_boot_creates_station(self, store: Store) -> None:
        assert await store.get_station("CP1") is None
        record = boot("CP1", last_seen=at(1))
        await store.record_boot(record)
        assert await store.get_station("CP1") == record
        assert await store.list_stations() == [record]

    @contract
    async def test_record_boot_replaces_boot_fields_keeps_connection_state(
        self, store: Store
    ) -> None:
        await store.set_connected("CP1", True, at(1))
        await store.record_boot(boot("CP1", firmware_version="1.0"))
        station = await store.get_station("CP1")
        assert station == boot("CP1", connected=True, last_seen=at(1))
        # a second boot replaces every boot field (also with None); last_seen only when given
        second = boot("CP1", serial_number=None, firmware_version="2.0", last_boot=at(5))
        await store.record_boot(second)
        assert await store.get_station("CP1") == boot(
            "CP1",
            serial_number=None,
            firmware_version="2.0",
            last_boot=at(5),
            connected=True,
            last_seen=at(1),
        )
        await store.record_boot(_with(second, boot_status="Pending", last_seen=at(6)))
        station = await store.get_station("CP1")
        assert station is not None
        assert (station.boot_status, station.last_seen, station.connected) == (
            "Pending",
            at(6),
            True,
        )

    @contract
    async def test_set_connected_creates_station_and_sets_last_seen(self, store: Store) -> None:
        await store.set_connected("CP1", True, at(1))
        assert await store.get_station("CP1") == StationRecord(
            id="CP1", connected=True, last_seen=at(1)
        )
        await store.set_connected("CP1", False, at(2))
        assert await store.get_station("CP1") == StationRecord(
            id="CP1", connected=False, last_seen=at(2)
        )

    @contract
    async def test_touch_updates_last_seen_of_known_station_only(self, store: Store) -> None:
        await store.record_boot(boot("CP1"))
        store.touch("CP1", at(3))
        station = await store.get_station("CP1")
        assert station is not None
        assert station.last_seen == at(3)
        assert station.connected is False
        store.touch("CP2", at(3))
        assert await store.get_station("CP2") is None

    @contract
    async def test_list_stations_by_id(self, store: Store) -> None:
        for station_id in ["b", "C", "a", "B2", "ä"]:
            await store.set_connected(station_id, True, T0)
        assert [s.id for s in await store.list_stations()] == ["B2", "C", "a", "b", "ä"]

    @contract
    async def test_datetimes_come_back_aware_utc(self, store: Store) -> None:
        plus2 = timezone(timedelta(hours=2))
        local = datetime(2025, 1, 2, 5, 4, 5, 123456, tzinfo=plus2)
        await store.record_boot(boot("CP1", last_boot=local, last_seen=local))
        station = await store.get_station("CP1")
        assert station is not None
        assert station.last_boot is not None
        assert station.last_boot == local
        assert station.last_boot.tzinfo == UTC
        assert station.last_boot.microsecond == 123456
        # naive datetimes are taken as UTC
        await store.set_connected("CP2", True, datetime(2025, 1, 2, 3, 4, 5))
        station = await store.get_station("CP2")
        assert station is not None
        assert station.last_seen == T0
        tx = await store.start_transaction("CP1", 1, "TAG", 0, local)
        assert tx.start_time == local
        assert_utc(tx.start_time, station.last_seen)
        # the same instant in another zone is the same 1.6 start
        assert await store.start_transaction("CP1", 1, "TAG", 0, local.astimezone(UTC)) == tx
        before_epoch = datetime(1960, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
        await store.put_token(IdTokenRecord(token="T", expiry=before_epoch))
        assert await store.get_token("T") == IdTokenRecord(token="T", expiry=before_epoch)

    # statuses -----------------------------------------------------------------------------------
    @contract
    async def test_current_status_is_latest_per_connector(self, store: Store) -> None:
        await store.record_status(status("CP1", 1, "Available", at(1)))
        await store.record_status(status("CP1", 2, "Available", at(1)))
        await store.record_status(status("CP1", 1, "Charging", at(3)))
        await store.record_status(status("CP1", 0, "Available", at(2)))
        await store.record_status(status("CP2", 1, "Faulted", at(9)))
        # an older report arriving late is history, not the current status
        await store.record_status(status("CP1", 1, "Preparing", at(2)))
        # the same timestamp: the later report wins
        await store.record_status(status("CP1", 2, "Unavailable", at(1)))
        assert await store.current_statuses("CP1") == [
            status("CP1", 0, "Available", at(2)),
            status("CP1", 1, "Charging", at(3)),
            status("CP1", 2, "Unavailable", at(1)),
        ]
        assert await store.current_statuses("CP3") == []

    @contract
    async def test_current_status_per_evse_and_connector(self, store: Store) -> None:
        await store.record_status(status("CS", 1, "Available", at(1), evse_id=2))
        await store.record_status(status("CS", 1, "Occupied", at(2), evse_id=1))
        await store.record_status(status("CS", 2, "Available", at(1), evse_id=1))
        report = ConnectorStatus(
            station_id="CS",
            evse_id=2,
            connector_id=1,
            status="Faulted",
            error_code="GroundFailure",
            info="leak",
            timestamp=at(3),
        )
        await store.record_status(report)
        assert await store.current_statuses("CS") == [
            status("CS", 1, "Occupied", at(2), evse_id=1),
            status("CS", 2, "Available", at(1), evse_id=1),
            report,
        ]

    @contract
    async def test_status_history_newest_first_with_limit(self, store: Store) -> None:
        reports = [status("CP1", 1, f"S{i}", at(i)) for i in range(105)]
        for report in reversed(reports[50:]):  # arrival order is not timestamp order
            await store.record_status(report)
        for report in reports[:50]:
            await store.record_status(report)
        await store.record_status(status("CP2", 1, "Other", at(200)))
        newest_first = list(reversed(reports))
        assert await store.status_history("CP1") == newest_first[:100]
        assert await store.status_history("CP1", limit=3) == newest_first[:3]
        assert await store.status_history("CP1", limit=1000) == newest_first
        assert await store.status_history("CP1", limit=0) == []
        assert await store.status_history("CP3") == []
        with pytest.raises(ValueError, match="limit"):
            await store.status_history("CP1", limit=-1)

    @contract
    async def test_status_history_same_timestamp_newest_arrival_first(self, store: Store) -> None:
        await store.record_status(status("CP1", 1, "A", at(1)))
        await store.record_status(status("CP1", 2, "B", at(1)))
        await store.record_status(status("CP1", 1, "C", at(1)))
        assert [s.status for s in await store.status_history("CP1")] == ["C", "B", "A"]

    # id tokens ------------------------------------------------------------------------------------
    @contract
    async def test_tokens_crud(self, store: Store) -> None:
        assert await store.get_token("T1") is None
        assert await store.list_tokens() == []
        full = IdTokenRecord(
            token="T2", status="Blocked", expiry=at(60), parent="G", token_type="ISO14443"
        )
        await store.put_token(full)
        await store.put_token(IdTokenRecord(token="T1"))
        assert await store.get_token("T2") == full
        assert await store.get_token("T1") == IdTokenRecord(token="T1", status="Accepted")
        replaced = IdTokenRecord(token="T2", status="Accepted")
        await store.put_token(replaced)
        assert await store.get_token("T2") == replaced
        assert await store.list_tokens() == [IdTokenRecord(token="T1"), replaced]
        assert await store.delete_token("T1") is True
        assert await store.delete_token("T1") is False
        assert await store.get_token("T1") is None
        assert await store.list_tokens() == [replaced]

    @contract
    async def test_list_tokens_by_token(self, store: Store) -> None:
        for token in ["b", "A", "a", "B"]:
            await store.put_token(IdTokenRecord(token=token))
        assert [t.token for t in await store.list_tokens()] == ["A", "B", "a", "b"]

    # 1.6 transactions ---------------------------------------------------------------------------
    @contract
    async def test_start_transaction_creates_it(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 2, "TAG", 1000, at(1))
        assert tx == TransactionRecord(
            id=tx.id,
            station_id="CP1",
            ocpp_id=tx.ocpp_id,
            evse_id=0,
            connector_id=2,
            id_token="TAG",
            start_time=at(1),
            meter_start=1000.0,
        )
        assert isinstance(tx.meter_start, float)
        assert int(tx.ocpp_id) > 0
        assert str(int(tx.ocpp_id)) == tx.ocpp_id
        assert tx.energy_wh is None
        assert await store.get_transaction("CP1", tx.ocpp_id) == tx
        assert await store.get_transaction("CP2", tx.ocpp_id) is None
        assert await store.get_transaction("CP1", "nope") is None

    @contract
    async def test_start_transaction_retry_returns_same_transaction(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 1000, at(1))
        for _ in range(3):  # retried, even with another meter value: the same transaction
            assert await store.start_transaction("CP1", 1, "TAG", 1000, at(1)) == tx
        assert await store.start_transaction("CP1", 1, "TAG", 9999, at(1)) == tx
        others = [
            await store.start_transaction("CP1", 1, "TAG", 1000, at(2)),
            await store.start_transaction("CP1", 2, "TAG", 1000, at(1)),
            await store.start_transaction("CP1", 1, "TAG2", 1000, at(1)),
            await store.start_transaction("CP2", 1, "TAG", 1000, at(1)),
        ]
        ocpp_ids = {tx.ocpp_id, *(o.ocpp_id for o in others)}
        ids = {tx.id, *(o.id for o in others)}
        assert len(ocpp_ids) == len(ids) == 5
        assert len(await store.list_transactions()) == 5

    @contract
    async def test_v16_ids_are_unique_per_store_and_skip_ids_in_use(self, store: Store) -> None:
        # a 2.x transaction "1" of CP1: 1.6 ids handed out to CP1 must not be "1"
        await store.transaction_event("CP1", "1", 0, "Started", T0)
        seen = set()
        for i in range(5):
            for station in ("CP1", "CP2"):
                tx = await store.start_transaction(station, 1, "TAG", 0, at(i))
                seen.add(tx.ocpp_id)
                assert (await store.get_transaction(station, tx.ocpp_id)) == tx
        assert len(seen) == 10
        assert all(value.isdigit() for value in seen)
        v16 = [tx for tx in await store.list_transactions("CP1") if tx.id_token == "TAG"]
        assert "1" not in {tx.ocpp_id for tx in v16}

    @contract
    async def test_stop_transaction_is_idempotent(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 1000, at(1))
        stopped = await store.stop_transaction("CP1", tx.ocpp_id, 4500, at(60), "Local")
        assert stopped == TransactionRecord(
            id=tx.id,
            station_id="CP1",
            ocpp_id=tx.ocpp_id,
            evse_id=0,
            connector_id=1,
            id_token="TAG",
            start_time=at(1),
            meter_start=1000.0,
            stop_time=at(60),
            meter_stop=4500.0,
            stop_reason="Local",
        )
        assert stopped.energy_wh == 3500.0
        again = await store.stop_transaction("CP1", tx.ocpp_id, 9999, at(99), "Remote")
        assert again == stopped
        assert await store.get_transaction("CP1", tx.ocpp_id) == stopped
        assert await store.stop_transaction("CP1", "424242", 1, at(1), None) is None
        assert await store.stop_transaction("CP2", tx.ocpp_id, 1, at(1), None) is None
        tx2 = await store.start_transaction("CP1", 1, "TAG", 0, at(100))
        stopped2 = await store.stop_transaction("CP1", tx2.ocpp_id, 0, at(101), None)
        assert stopped2 is not None
        assert (stopped2.stop_reason, stopped2.energy_wh) == (None, 0.0)

    @contract
    async def test_list_transactions_newest_first(self, store: Store) -> None:
        a = await store.start_transaction("CP1", 1, "T", 0, at(10))
        b = await store.start_transaction("CP2", 1, "T", 0, at(30))
        c, _ = await store.transaction_event("CP1", "x", 0, "Started", at(20))
        d = await store.start_transaction("CP2", 2, "T", 0, at(30))  # same start: higher id first
        e, _ = await store.transaction_event("CP1", "y", 0, "Updated", at(5))
        assert await store.list_transactions() == [d, b, c, a, e]
        assert await store.list_transactions("CP1") == [c, a, e]
        assert await store.list_transactions("CP2") == [d, b]
        assert await store.list_transactions("CP3") == []

    # 2.x transactions ---------------------------------------------------------------------------
    @contract
    async def test_transaction_event_lifecycle(self, store: Store) -> None:
        started, new = await store.transaction_event(
            "CS",
            "tx-1",
            0,
            "Started",
            at(1),
            evse_id=1,
            connector_id=2,
            id_token="TAG",
            meter_wh=1000,
        )
        assert new is True
        assert started == TransactionRecord(
            id=started.id,
            station_id="CS",
            ocpp_id="tx-1",
            evse_id=1,
            connector_id=2,
            id_token="TAG",
            start_time=at(1),
            meter_start=1000.0,
            last_seq_no=0,
        )
        updated, new = await store.transaction_event(
            "CS", "tx-1", 1, "Updated", at(2), meter_wh=2000
        )
        assert new is True
        assert updated == _with(started, last_seq_no=1)  # meter_start stays the first reading
        ended, new = await store.transaction_event(
            "CS", "tx-1", 2, "Ended", at(3), meter_wh=4000, stop_reason="EVDisconnected"
        )
        assert new is True
        assert ended == _with(
            started, stop_time=at(3), meter_stop=4000.0, stop_reason="EVDisconnected", last_seq_no=2
        )
        assert ended.energy_wh == 3000.0
        assert await store.get_transaction("CS", "tx-1") == ended
        assert await store.list_transactions() == [ended]

    @contract
    async def test_transaction_event_retry_is_recorded_once(self, store: Store) -> None:
        first, new = await store.transaction_event("CS", "t", 0, "Started", at(1), meter_wh=10)
        assert new is True
        retry, new = await store.transaction_event(
            "CS", "t", 0, "Started", at(9), evse_id=3, id_token="X", meter_wh=99
        )
        assert (retry, new) == (first, False)
        await store.transaction_event("CS", "t", 1, "Updated", at(2))
        ended, new = await store.transaction_event("CS", "t", 2, "Ended", at(3), meter_wh=50)
        retries: list[tuple[int, Literal["Started", "Updated", "Ended"]]] = [
            (1, "Updated"),
            (2, "Ended"),
            (0, "Started"),
        ]
        for seq_no, event in retries:
            again, new = await store.transaction_event("CS", "t", seq_no, event, at(50))
            assert (again, new) == (ended, False)
        assert await store.list_transactions() == [ended]

    @contract
    async def test_transaction_event_creates_unknown_transaction(self, store: Store) -> None:
        # the Started was lost: an Updated creates the transaction from what it carries
        tx, new = await store.transaction_event(
            "CS", "t", 5, "Updated", at(10), evse_id=1, connector_id=1, meter_wh=1500
        )
        assert new is True
        assert tx == TransactionRecord(
            id=tx.id,
            station_id="CS",
            ocpp_id="t",
            evse_id=1,
            connector_id=1,
            id_token=None,
            start_time=at(10),
            meter_start=1500.0,
            last_seq_no=5,
        )
        # the Started arrives late: it corrects the start; last_seq_no stays the highest
        tx, new = await store.transaction_event(
            "CS", "t", 0, "Started", at(1), id_token="TAG", meter_wh=1000
        )
        assert new is True
        assert (tx.start_time, tx.meter_start, tx.id_token, tx.last_seq_no) == (
            at(1),
            1000.0,
            "TAG",
            5,
        )

    @contract
    async def test_transaction_event_ended_first(self, store: Store) -> None:
        tx, new = await store.transaction_event(
            "CS", "t", 7, "Ended", at(10), meter_wh=2000, stop_reason="Local"
        )
        assert new is True
        assert (tx.start_time, tx.stop_time, tx.meter_start, tx.meter_stop) == (
            at(10),
            at(10),
            2000.0,
            2000.0,
        )
        assert (tx.stop_reason, tx.energy_wh, tx.last_seq_no) == ("Local", 0.0, 7)
        # without a meter reading the energy is unknown
        tx, _ = await store.transaction_event("CS", "u", 0, "Ended", at(10))
        assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (None, None, None)

    @contract
    async def test_transaction_event_fills_unknown_fields_only(self, store: Store) -> None:
        tx, _ = await store.transaction_event("CS", "t", 0, "Started", at(1))
        assert (tx.evse_id, tx.connector_id, tx.id_token, tx.meter_start) == (0, 0, None, None)
        tx, _ = await store.transaction_event(
            "CS", "t", 1, "Updated", at(2), evse_id=2, connector_id=1, id_token="A", meter_wh=7
        )
        assert (tx.evse_id, tx.connector_id, tx.id_token, tx.meter_start) == (2, 1, "A", 7.0)
        tx, _ = await store.transaction_event(
            "CS", "t", 2, "Updated", at(3), evse_id=3, connector_id=2, id_token="B", meter_wh=9
        )
        assert (tx.evse_id, tx.connector_id, tx.id_token, tx.meter_start) == (2, 1, "A", 7.0)
        assert tx.start_time == at(1)

    @contract
    async def test_transaction_event_second_ended_changes_no_stop_field(self, store: Store) -> None:
        await store.transaction_event("CS", "t", 0, "Started", at(1), meter_wh=0)
        ended, _ = await store.transaction_event(
            "CS", "t", 1, "Ended", at(2), meter_wh=10, stop_reason="Local"
        )
        again, new = await store.transaction_event(
            "CS", "t", 2, "Ended", at(3), meter_wh=20, stop_reason="Remote"
        )
        assert new is True
        assert again == _with(ended, last_seq_no=2)
        # and 1.6 stop of a 2.x transaction that ended: nothing changes either
        assert await store.stop_transaction("CS", "t", 30, at(4), "Other") == again

    @contract
    async def test_transaction_event_ids_are_per_station(self, store: Store) -> None:
        a, _ = await store.transaction_event("CS1", "t", 0, "Started", at(1))
        b, new = await store.transaction_event("CS2", "t", 0, "Started", at(1))
        assert new is True
        assert a.id != b.id
        assert await store.get_transaction("CS1", "t") == a
        assert await store.get_transaction("CS2", "t") == b

    # meter values -------------------------------------------------------------------------------
    @contract
    async def test_meter_values_are_stored_once(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        batch = [
            sample(at(1), "100", unit="Wh"),
            sample(at(1), "7.2", measurand="Power.Active.Import", unit="kW"),
            sample(at(1), "16", measurand="Current.Import", phase="L1", unit="A"),
        ]
        assert await store.add_meter_values(tx.id, batch) == 3
        assert await store.add_meter_values(tx.id, batch) == 0  # a retry
        assert await store.add_meter_values(tx.id, [*batch, sample(at(2), "200")]) == 1
        # the same (timestamp, measurand, phase, location, context) is the same sample, even
        # with another value or unit; duplicates inside one call count once
        assert await store.add_meter_values(tx.id, [sample(at(1), "999", unit="kWh")]) == 0
        assert await store.add_meter_values(tx.id, [sample(at(3)), sample(at(3), "2")]) == 1
        assert await store.add_meter_values(tx.id, []) == 0
        assert await store.meter_values(tx.id) == [*batch, sample(at(2), "200"), sample(at(3))]

    @contract
    async def test_meter_value_identity_fields(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        base = sample(at(1))
        variants = [
            base,
            _with(base, measurand="Voltage"),
            _with(base, phase="L1"),
            _with(base, phase=""),  # "" is not None
            _with(base, location="Outlet"),
            _with(base, context="Transaction.Begin"),
            _with(base, timestamp=at(1) + timedelta(microseconds=1)),
        ]
        assert await store.add_meter_values(tx.id, variants) == len(variants)
        full = _with(base, phase="L2", location="Inlet", context="Sample.Clock", unit="Wh")
        assert await store.add_meter_values(tx.id, [full, _with(full, value="2")]) == 1
        assert await store.add_meter_values(tx.id, [*variants, full]) == 0
        # the same sample in another transaction is another sample
        other = await store.start_transaction("CP1", 2, "TAG", 0, T0)
        assert await store.add_meter_values(other.id, variants) == len(variants)

    @contract
    async def test_meter_values_in_timestamp_order(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        other = await store.start_transaction("CP1", 2, "TAG", 0, T0)
        await store.add_meter_values(tx.id, [sample(at(3), "c"), sample(at(1), "a")])
        await store.add_meter_values(other.id, [sample(at(2), "other")])
        await store.add_meter_values(
            tx.id, [sample(at(2), "b"), sample(at(1), "a2", measurand="Voltage")]
        )
        values = [s.value for s in await store.meter_values(tx.id)]
        assert values == ["a", "a2", "b", "c"]  # same timestamp: arrival order
        assert [s.value for s in await store.meter_values(other.id)] == ["other"]
        assert_utc(*(s.timestamp for s in await store.meter_values(tx.id)))

    @contract
    async def test_meter_values_of_unknown_transaction(self, store: Store) -> None:
        assert await store.meter_values(12345) == []
        with pytest.raises(KeyError):
            await store.add_meter_values(12345, [sample(at(1))])
        with pytest.raises(KeyError):
            await store.add_meter_values(12345, [])
        # the store still works after the failed call
        tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        assert await store.add_meter_values(tx.id, [sample(at(1))]) == 1

    @contract
    async def test_meter_values_by_wire_id(self, store: Store) -> None:
        tx = await store.start_transaction("CP1", 1, "TAG", 0, T0)
        unknown = event("CP1", "MeterValues", at(5), transactionId=999)
        add = store.add_transaction_meter_values
        assert await add("CP1", tx.ocpp_id, [sample(at(1))], unknown) == tx.id
        assert await add("CP1", tx.ocpp_id, [sample(at(1)), sample(at(2))]) == tx.id  # a retry
        assert await store.meter_values(tx.id) == [sample(at(1)), sample(at(2))]
        assert await store.events("CP1") == []  # known: nothing in the event log
        # unknown wire id, or another station's: the event log instead, samples nowhere
        assert await add("CP1", "999", [sample(at(3))], unknown) is None
        assert await add("CP2", tx.ocpp_id, [sample(at(4))]) is None
        assert await store.events("CP1") == [unknown]
        assert await store.events("CP2") == []
        assert await store.meter_values(tx.id) == [sample(at(1)), sample(at(2))]

    @contract
    async def test_meter_values_by_wire_id_of_a_2x_transaction(self, store: Store) -> None:
        tx, _ = await store.transaction_event("CS", "t-1", 0, "Started", T0)
        assert await store.add_transaction_meter_values("CS", "t-1", [sample(at(1))]) == tx.id
        assert await store.meter_values(tx.id) == [sample(at(1))]

    @contract
    async def test_meter_values_of_a_2x_transaction(self, store: Store) -> None:
        tx, _ = await store.transaction_event("CS", "t", 0, "Started", T0)
        assert await store.add_meter_values(tx.id, [sample(at(1))]) == 1
        assert await store.meter_values(tx.id) == [sample(at(1))]

    # message log ------------------------------------------------------------------------------
    @contract
    async def test_frames_in_order_with_limit_and_after(self, store: Store) -> None:
        a = [frame("CP1", at(i), f"a{i}", "in" if i % 2 else "out") for i in range(10)]
        await store.log_frames(a[5:])  # logged out of timestamp order
        await store.log_frames([frame("CP2", at(3), "b3")])
        await store.log_frames(a[:5])
        await store.log_frames([])
        assert await store.frames("CP1") == a
        assert await store.frames("CP1", limit=3) == a[:3]
        assert await store.frames("CP1", limit=0) == []
        assert await store.frames("CP1", after=at(4)) == a[5:]  # strictly after
        assert await store.frames("CP1", limit=2, after=at(4)) == a[5:7]
        assert await store.frames("CP1", after=at(4.5)) == a[5:]
        assert await store.frames("CP1", after=at(9)) == []
        assert await store.frames("CP2") == [frame("CP2", at(3), "b3")]
        assert await store.frames("CP3") == []
        with pytest.raises(ValueError, match="limit"):
            await store.frames("CP1", limit=-1)

    @contract
    async def test_frames_default_limit_and_same_timestamp(self, store: Store) -> None:
        many = [frame("CP1", at(0), f"f{i}") for i in range(150)]  # one timestamp: arrival order
        await store.log_frames(many)
        assert await store.frames("CP1") == many[:100]
        assert await store.frames("CP1", limit=500) == many

    @contract
    async def test_prune_frames_keeps_newest_per_station(self, store: Store) -> None:
        a = [frame("CP1", at(i), f"a{i}") for i in range(6)]
        b = [frame("CP2", at(i), f"b{i}") for i in range(2)]
        await store.log_frames([a[5], *b, *a[:5]])
        assert await store.prune_frames(3) == 3
        assert await store.frames("CP1") == a[3:]
        assert await store.frames("CP2") == b
        assert await store.prune_frames(3) == 0
        assert await store.prune_frames(1) == 3
        assert await store.frames("CP1") == a[5:]
        assert await store.frames("CP2") == b[1:]
        with pytest.raises(ValueError, match="keep"):
            await store.prune_frames(-1)
        assert await store.prune_frames(0) == 2
        assert await store.frames("CP1") == await store.frames("CP2") == []

    @contract
    async def test_prune_frames_of_chosen_stations_only(self, store: Store) -> None:
        a = [frame("CP1", at(i), f"a{i}") for i in range(4)]
        b = [frame("CP2", at(i), f"b{i}") for i in range(4)]
        await store.log_frames([*b, *a])
        assert await store.prune_frames(1, ["CP2", "CP9"]) == 3  # an unknown id is no error
        assert await store.frames("CP1") == a
        assert await store.frames("CP2") == b[3:]
        assert await store.prune_frames(2, []) == 0
        assert await store.frames("CP1") == a

    # history retention ---------------------------------------------------------------------
    @contract
    async def test_prune_history_drops_what_arrived_before_but_no_current_status(
        self, store: Store
    ) -> None:
        received = at(10**6)  # the store's clock; the reports' own times are far older
        store.clock = lambda: received
        charging = status("CP1", 1, "Charging", at(5))
        lone = status("CP1", 2, "Available", at(1))  # its connector's current status
        faulted = status("CP2", 1, "Faulted", at(3))
        for report in (
            status("CP1", 1, "Available", at(1)),
            charging,
            lone,
            status("CP1", 1, "Preparing", at(2)),  # late
            faulted,
            status("CP2", 1, "Available", at(1)),  # late
        ):
            await store.record_status(report)
        for record in (event("CP1", "DataTransfer", at(1), n=1), event("CP1", "Heartbeat", at(9))):
            await store.record_event(record)
        await store.record_event(event("CP2", "SecurityEventNotification", at(2)))
        current = {s: await store.current_statuses(s) for s in ("CP1", "CP2")}
        # the first call marks what has arrived; there is no mark before ``before`` yet
        assert await store.prune_history(received - timedelta(days=90)) == 0

        # received later, with a station clock decades behind: kept
        later = received + timedelta(hours=1)
        store.clock = lambda: later
        newer = status("CP1", 1, "Finishing", T0 - timedelta(days=20_000))
        await store.record_status(newer)
        await store.record_event(kept := event("CP2", "DataTransfer", T0 - timedelta(days=9)))
        assert await store.prune_history(received) == 0  # received at ``before``: kept
        assert await store.prune_history(received + timedelta(seconds=1)) == 6  # 3 + 3
        assert await store.status_history("CP1") == [charging, lone, newer]
        assert await store.status_history("CP2") == [faulted]
        assert await store.events("CP1") == []
        assert await store.events("CP2") == [kept]
        assert {s: await store.current_statuses(s) for s in ("CP1", "CP2")} == current
        assert await store.prune_history(received + timedelta(seconds=1)) == 0

        # everything received before the last mark: only the current statuses stay
        last = later + timedelta(hours=1)
        store.clock = lambda: last
        # (``newer`` is older than ``charging`` by its timestamp: not current, so it goes)
        assert await store.prune_history(later + timedelta(seconds=1)) == 2  # newer, kept
        assert await store.status_history("CP1") == [charging, lone]
        assert await store.events("CP2") == []
        # the newest rows went: a new row may take a freed id; a mark taken before it (``last``)
        # does not cover it, and it is read as before
        await store.record_event(fresh := event("CP2", "DataTransfer", at(8)))
        store.clock = lambda: last + timedelta(hours=1)
        assert await store.prune_history(last + timedelta(seconds=1)) == 0
        assert await store.events("CP2") == [fresh]

    # event log --------------------------------------------------------------------------------
    @contract
    async def test_events_newest_first_with_kind_and_limit(self, store: Store) -> None:
        kinds = ["SecurityEventNotification", "FirmwareStatusNotification", "DataTransfer"]
        a = [event("CP1", kinds[i % 3], at(i), n=i) for i in range(9)]
        await store.record_event(a[4])  # recorded out of timestamp order
        await store.record_event(event("CP2", kinds[0], at(3), n=99))
        for record in a[5:] + a[:4]:
            await store.record_event(record)
        newest_first = a[::-1]
        assert await store.events("CP1") == newest_first
        assert await store.events("CP1", limit=3) == newest_first[:3]
        assert await store.events("CP1", limit=0) == []
        assert await store.events("CP1", kinds[1]) == [a[7], a[4], a[1]]
        assert await store.events("CP1", kind=kinds[1], limit=2) == [a[7], a[4]]
        assert await store.events("CP1", "NotifyEvent") == []
        assert await store.events("CP2") == [event("CP2", kinds[0], at(3), n=99)]
        assert await store.events("CP3") == []
        assert await store.events("CP3", kinds[0]) == []
        with pytest.raises(ValueError, match="limit"):
            await store.events("CP1", limit=-1)

    @contract
    async def test_events_default_limit_and_same_timestamp(self, store: Store) -> None:
        many = [event("CP1", "DataTransfer", at(0), i=i) for i in range(150)]
        for record in many:  # one timestamp: the latest arrival first
            await store.record_event(record)
        assert await store.events("CP1") == many[::-1][:100]
        assert await store.events("CP1", limit=500) == many[::-1]

    @contract
    async def test_event_data_round_trips(self, store: Store) -> None:
        data: dict[str, Any] = {
            "generatedAt": "2025-01-02T03:04:05Z",
            "seqNo": 0,
            "tbc": False,
            "eventData": [
                {
                    "eventId": 1,
                    "actualValue": "On",
                    "component": {"name": "Door", "evse": {"id": 1, "connectorId": 2}},
                    "variable": {"name": "Open"},
                    "techCodes": [],
                    "cleared": None,
                }
            ],
            "value": 1.5,
            "big": 2**53,
            "text": 'ünïcode ✓ "quoted"\n',
            "nested": [[1, [2, {"three": [3.25, None, True]}]]],
            "empty": {},
        }
        when = datetime(2025, 1, 2, 4, 4, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
        await store.record_event(
            EventRecord(station_id="CS", kind="NotifyEvent", timestamp=when, data=data)
        )
        [got] = await store.events("CS")
        assert got == EventRecord(station_id="CS", kind="NotifyEvent", timestamp=when, data=data)
        assert got.timestamp == when
        assert_utc(got.timestamp)
        assert type(got.data["value"]) is float
        assert type(got.data["big"]) is int
        # what JSON cannot tell apart comes back as JSON has it: tuples as lists
        await store.record_event(event("CS", "DataTransfer", at(1), data=("a", 1)))
        assert (await store.events("CS", "DataTransfer"))[0].data == {"data": ["a", 1]}
        with pytest.raises(TypeError):
            await store.record_event(event("CS", "DataTransfer", at(2), data=object()))
        assert len(await store.events("CS")) == 2

    # station credentials --------------------------------------------------------------------------
    @contract
    async def test_passwords(self, store: Store) -> None:
        assert await store.get_password("CP1") is None
        await store.set_password("CP1", "hash1")
        assert await store.get_password("CP1") == "hash1"
        assert await store.get_station("CP1") == StationRecord(id="CP1")  # created
        await store.set_password("CP1", "hash2")
        assert await store.get_password("CP1") == "hash2"
        # boots and connection changes keep the password; the password keeps the boot fields
        await store.record_boot(boot("CP1"))
        await store.set_connected("CP1", True, at(1))
        store.touch("CP1", at(2))
        assert await store.get_password("CP1") == "hash2"
        await store.set_password("CP1", "hash3")
        assert await store.get_station("CP1") == boot("CP1", connected=True, last_seen=at(2))
        await store.record_boot(boot("CP2"))
        assert await store.get_password("CP2") is None

    @contract
    async def test_remove_station_keeps_history(self, store: Store) -> None:
        await store.record_boot(boot("CP1"))
        await store.set_password("CP1", "hash")
        await store.record_status(status("CP1", 1, "Charging", at(1)))
        tx = await store.start_transaction("CP1", 1, "TAG", 0, at(1))
        await store.add_meter_values(tx.id, [sample(at(2))])
        tx2, _ = await store.transaction_event("CP1", "t", 0, "Started", at(3))
        await store.log_frames([frame("CP1", at(1), "f")])
        await store.record_event(event("CP1", "DataTransfer", at(1), vendorId="v"))
        await store.record_boot(boot("CP2"))

        assert await store.remove_station("CP1") is True
        assert await store.get_station("CP1") is None
        assert await store.get_password("CP1") is None
        assert [s.id for s in await store.list_stations()] == ["CP2"]
        assert await store.status_history("CP1") == [status("CP1", 1, "Charging", at(1))]
        assert await store.current_statuses("CP1") == [status("CP1", 1, "Charging", at(1))]
        assert await store.list_transactions("CP1") == [tx2, tx]
        assert await store.get_transaction("CP1", tx.ocpp_id) == tx
        assert await store.meter_values(tx.id) == [sample(at(2))]
        assert await store.frames("CP1") == [frame("CP1", at(1), "f")]
        assert await store.events("CP1") == [event("CP1", "DataTransfer", at(1), vendorId="v")]
        stopped = await store.stop_transaction("CP1", tx.ocpp_id, 10, at(9), None)
        assert stopped is not None
        assert stopped.energy_wh == 10.0
        assert await store.remove_station("CP1") is False
        assert await store.remove_station("nobody") is False
        # it comes back as a new station, without its old password
        await store.set_connected("CP1", True, at(10))
        assert await store.get_station("CP1") == StationRecord(
            id="CP1", connected=True, last_seen=at(10)
        )
        assert await store.get_password("CP1") is None
        # 1.6 ids are never reused: a new start is a new transaction
        again = await store.start_transaction("CP1", 1, "TAG", 0, at(11))
        assert again.ocpp_id not in {tx.ocpp_id, tx2.ocpp_id}

    # concurrent callers -------------------------------------------------------------------------
    @contract
    async def test_concurrent_start_transactions(self, store: Store) -> None:
        """200 concurrent starts, 50 of them retries of others: exactly 150 transactions."""
        calls = [(f"CP{i % 7}", i % 3, f"TAG{i}", at(i)) for i in range(150)]
        calls += calls[:50]
        results = await asyncio.gather(
            *(store.start_transaction(s, c, tag, 0, when) for s, c, tag, when in calls)
        )
        assert len({tx.id for tx in results}) == 150
        assert len({tx.ocpp_id for tx in results}) == 150
        assert results[150:] == results[:50]
        assert len(await store.list_transactions()) == 150

    @contract
    async def test_concurrent_retries_of_events_stops_and_samples(self, store: Store) -> None:
        events = [("CS", f"t{i % 10}", i // 10, at(i)) for i in range(50)]
        results = await asyncio.gather(
            *(
                store.transaction_event(s, t, seq_no, "Updated", when, meter_wh=seq_no)
                for s, t, seq_no, when in events + events
            )
        )
        assert sum(new for _, new in results) == 50
        transactions = await store.list_transactions()
        assert len(transactions) == 10
        assert {tx.last_seq_no for tx in transactions} == {4}

        tx = transactions[0]
        stops = await asyncio.gather(
            *(
                store.stop_transaction("CS", tx.ocpp_id, 100 + i, at(100 + i), None)
                for i in range(20)
            )
        )
        assert {s.meter_stop for s in stops if s is not None} == {100.0}  # the first stop wins

        batch = [sample(at(i), str(i)) for i in range(5)]
        counts = await asyncio.gather(*(store.add_meter_values(tx.id, batch) for _ in range(20)))
        assert sorted(counts) == [0] * 19 + [5]
        assert await store.meter_values(tx.id) == batch

    @contract
    async def test_concurrent_mixed_writes_and_reads(self, store: Store) -> None:
        async def station(n: int) -> None:
            station_id = f"CP{n}"
            await store.set_connected(station_id, True, at(0))
            await store.record_status(status(station_id, 1, "Preparing", at(1)))
            tx = await store.start_transaction(station_id, 1, "TAG", 0, at(2))
            assert await store.get_transaction(station_id, tx.ocpp_id) == tx
            await store.add_meter_values(tx.id, [sample(at(3), "5")])
            await store.stop_transaction(station_id, tx.ocpp_id, 5, at(4), None)
            await store.log_frames([frame(station_id, at(4), "x")])
            await store.record_event(event(station_id, "DataTransfer", at(4), n=n))
            store.touch(station_id, at(5))

        await asyncio.gather(*(station(n) for n in range(40)))
        assert len(await store.list_stations()) == 40
        transactions = await store.list_transactions()
        assert len(transactions) == 40
        assert {tx.energy_wh for tx in transactions} == {5.0}
        for n in range(40):
            station_record = await store.get_station(f"CP{n}")
            assert station_record is not None
            assert station_record.last_seen == at(5)
            assert await store.events(f"CP{n}") == [event(f"CP{n}", "DataTransfer", at(4), n=n)]


def _with(record: Any, **changes: Any) -> Any:
    """A copy of a record with some fields changed."""
    return msgspec.structs.replace(record, **changes)
