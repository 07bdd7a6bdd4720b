"""Reservations of the 1.6 charge point stack (ReserveNow / CancelReservation) on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ocppkit.chargepoint.runtime import ManualClock
from ocppkit.chargepoint.v16.callbacks import ReservationEndReason, ReservationInfo
from ocppkit.chargepoint.v16.connectors import ConnectorError
from ocppkit.messages import v16
from tests.chargepoint.v16.harness import T0, Harness, Recorder, make

HOUR = T0 + timedelta(hours=1)


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


class ReservationRecorder(Recorder):
    """Also remembers the reservation notifications."""

    def __init__(self) -> None:
        super().__init__()
        self.reservations: list[tuple[str, int, str | None]] = []

    def reservation_started(self, reservation: ReservationInfo) -> None:
        self.reservations.append(("started", reservation.reservation_id, None))

    def reservation_ended(self, reservation: ReservationInfo, reason: ReservationEndReason) -> None:
        self.reservations.append(("ended", reservation.reservation_id, reason))


def stack(**kwargs: Any) -> tuple[Harness, ReservationRecorder]:
    h = make(**kwargs)
    recorder = ReservationRecorder()
    h.cp.callbacks = h.callbacks = recorder
    return h, recorder


async def booted(h: Harness, statuses: dict[int, str] | None = None) -> None:
    """Take the boot and the first status of every connector (Available unless given)."""
    await h.csms.next("BootNotification")
    for n in range(h.cp.connector_count + 1):
        status = await h.csms.next("StatusNotification")
        assert (status.connector_id, status.status) == (n, (statuses or {}).get(n, "Available"))


async def reserve(
    h: Harness,
    connector_id: int,
    id_tag: str = "OWNER",
    reservation_id: int = 7,
    parent: str | None = None,
    expiry: Any = HOUR,
) -> str:
    answer = await h.call(
        v16.ReserveNowRequest(
            connector_id=connector_id,
            expiry_date=expiry,
            id_tag=id_tag,
            parent_id_tag=parent,
            reservation_id=reservation_id,
        )
    )
    return str(answer.status)


async def status_of(h: Harness, connector_id: int) -> str:
    status = await h.csms.next("StatusNotification")
    assert status.connector_id == connector_id
    return str(status.status)


# -- reserve and use -------------------------------------------------------------------------------


def test_only_the_reserved_token_starts_and_the_start_carries_the_reservation_id() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            assert rec.reservations == [("started", 7, None)]
            assert not await h.cp.present_token("STRANGER", 1)
            await h.cp.plug_in(1)  # still Reserved: no StatusNotification
            await h.settle()
            assert h.csms.pending("Authorize") == 0  # refused without asking the CSMS (TC_046_1)
            assert h.csms.pending("StatusNotification") == 0
            assert await h.cp.present_token("owner", 1)  # CiString: case ignored
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.id_tag, start.reservation_id) == (1, "owner", 7)
            assert await status_of(h, 1) == "Charging"
            await h.settle()
            assert rec.reservations[-1] == ("ended", 7, "Used")
            assert await h.store.load("reservations") == {}
            answer = await h.call(v16.CancelReservationRequest(reservation_id=7))
            assert answer.status == "Rejected"  # used up

    run(main)


def test_a_token_for_the_charge_point_goes_to_its_reserved_connector() -> None:
    async def main() -> None:
        h, _ = stack(config={"ConnectionTimeOut": "60"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 2) == "Accepted"
            assert await status_of(h, 2) == "Reserved"
            await h.cp.plug_in(1)
            assert await status_of(h, 1) == "Preparing"
            assert await h.cp.present_token("OWNER")  # not the plugged 1: the reserved 2
            assert await status_of(h, 2) == "Preparing"  # §4.9 Reserved -> Preparing
            h.clock.advance(60)  # ConnectionTimeOut: the reservation holds on
            assert await status_of(h, 2) == "Reserved"
            await h.cp.present_token("OWNER")
            assert await status_of(h, 2) == "Preparing"
            await h.cp.plug_in(2)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (2, 7)

    run(main)


def test_a_group_member_may_use_a_reservation_with_a_parent_id_tag() -> None:
    async def main() -> None:
        h, _ = stack(config={"LocalPreAuthorize": "true"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            entries = [
                v16.AuthorizationData(
                    id_tag=tag,
                    id_tag_info=v16.IdTagInfo(status="Accepted", parent_id_tag=group),
                )
                for tag, group in (("MEMBER", "FLEET"), ("STRANGER", "OTHERS"))
            ]
            listed = await h.call(
                v16.SendLocalListRequest(
                    list_version=1, update_type="Full", local_authorization_list=entries
                )
            )
            assert listed.status == "Accepted"
            assert await reserve(h, 1, parent="FLEET") == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            await h.cp.plug_in(1)
            assert not await h.cp.present_token("STRANGER", 1)
            assert await h.cp.present_token("MEMBER", 1)
            start = await h.csms.next("StartTransaction")
            assert (start.id_tag, start.reservation_id) == ("MEMBER", 7)

    run(main)


def test_remote_start_on_a_reserved_connector_only_for_the_reserved_id_tag() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            other = await h.call(v16.RemoteStartTransactionRequest(id_tag="X", connector_id=1))
            assert other.status == "Rejected"
            mine = await h.call(v16.RemoteStartTransactionRequest(id_tag="OWNER"))
            assert mine.status == "Accepted"
            assert await status_of(h, 1) == "Preparing"  # chose the reserved connector
            await h.cp.plug_in(1)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (1, 7)

    run(main)


# -- end of a reservation --------------------------------------------------------------------------


def test_expiry_returns_the_connector_to_available() -> None:
    async def main() -> None:
        h, rec = stack()
        h.csms.boot_interval = 86400  # no Heartbeat (its currentTime would set the clock back)
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1, expiry=T0 + timedelta(minutes=10)) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            h.clock.advance(599)
            await h.settle()
            assert h.csms.pending("StatusNotification") == 0
            h.clock.advance(1)
            assert await status_of(h, 1) == "Available"
            await h.settle()
            assert rec.reservations[-1] == ("ended", 7, "Expired")
            assert await h.store.load("reservations") == {}
            assert await h.cp.present_token("STRANGER", 1)  # free for anyone again

    run(main)


def test_cancel_and_replace() -> None:
    async def main() -> None:
        h, rec = stack()
        h.csms.boot_interval = 86400
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1, expiry=T0 + timedelta(minutes=10)) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            # the same reservationId replaces it: here on another connector, later expiry
            assert await reserve(h, 2, id_tag="NEW") == "Accepted"
            assert await status_of(h, 1) == "Available"
            assert await status_of(h, 2) == "Reserved"
            assert rec.reservations[1:] == [("ended", 7, "Replaced"), ("started", 7, None)]
            h.clock.advance(600)  # the old expiry is gone with the old reservation
            await h.settle()
            assert h.csms.pending("StatusNotification") == 0
            unknown = await h.call(v16.CancelReservationRequest(reservation_id=8))
            assert unknown.status == "Rejected"
            cancelled = await h.call(v16.CancelReservationRequest(reservation_id=7))
            assert cancelled.status == "Accepted"
            assert await status_of(h, 2) == "Available"
            assert rec.reservations[-1] == ("ended", 7, "Cancelled")
            assert await h.store.load("reservations") == {}

    run(main)


def test_a_fault_or_unavailability_ends_the_reservation() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1, reservation_id=1) == "Accepted"
            assert await reserve(h, 2, reservation_id=2) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            assert await status_of(h, 2) == "Reserved"
            h.cp.raise_error(1, ConnectorError("GroundFailure"))
            assert await status_of(h, 1) == "Faulted"
            h.cp.clear_error(1)
            assert await status_of(h, 1) == "Available"  # not Reserved: the reservation ended
            answer = await h.call(v16.ChangeAvailabilityRequest(connector_id=2, type="Inoperative"))
            assert answer.status == "Accepted"
            assert await status_of(h, 2) == "Unavailable"
            await h.settle()
            ends = [(rid, reason) for kind, rid, reason in rec.reservations if kind == "ended"]
            assert ends == [(1, "Faulted"), (2, "Unavailable")]
            assert await h.store.load("reservations") == {}

    run(main)


# -- answers ---------------------------------------------------------------------------------------


def test_occupied_faulted_unavailable_and_rejected_answers() -> None:
    async def main() -> None:
        h, _ = stack(connectors=3)
        await h.cp.start()
        async with h.online():
            await booted(h)
            await h.cp.plug_in(1)  # Preparing
            assert await reserve(h, 1) == "Occupied"
            await h.cp.present_token("TAG1", 1)
            await h.csms.next("StartTransaction")  # Charging
            assert await reserve(h, 1) == "Occupied"
            assert await reserve(h, 2, reservation_id=20) == "Accepted"
            assert await reserve(h, 2, reservation_id=21) == "Occupied"  # reserved by another
            assert await reserve(h, 2, id_tag="OTHER", reservation_id=20) == "Accepted"  # replace
            h.cp.raise_error(3, ConnectorError("GroundFailure"))
            assert await reserve(h, 3) == "Faulted"
            h.cp.clear_error(3)
            await h.call(v16.ChangeAvailabilityRequest(connector_id=3, type="Inoperative"))
            assert await reserve(h, 3) == "Unavailable"
            assert await reserve(h, 4) == "Rejected"  # no such connector
            assert await reserve(h, 0) == "Rejected"  # ReserveConnectorZeroSupported not set
            assert await reserve(h, 2, reservation_id=30, expiry=T0) == "Rejected"  # expired
            h.cp.raise_error(0, ConnectorError("OtherError"))  # the charge point itself
            assert await reserve(h, 2, reservation_id=31) == "Faulted"

    run(main)


def test_rejected_when_the_reservation_profile_is_not_enabled() -> None:
    async def main() -> None:
        h, _ = stack()
        h.cp.profiles = ("Core", "LocalAuthListManagement", "RemoteTrigger")
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1) == "Rejected"

    run(main)


# -- connector 0 -----------------------------------------------------------------------------------


def test_connector_zero_holds_one_free_connector_for_its_id_tag() -> None:
    async def main() -> None:
        h, rec = stack(config={"ReserveConnectorZeroSupported": "true"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 0) == "Accepted"
            await h.settle()
            assert h.csms.pending("StatusNotification") == 0  # two free: none is held yet
            assert rec.reservations == [("started", 7, None)]
            await h.cp.plug_in(1)
            statuses = [await h.csms.next("StatusNotification") for _ in range(2)]
            assert {s.connector_id: s.status for s in statuses} == {
                1: "Preparing",
                2: "Reserved",  # the last free connector is held
            }
            assert await reserve(h, 0, reservation_id=8) == "Occupied"  # none left to hold
            assert await reserve(h, 2, reservation_id=9) == "Occupied"
            assert await h.cp.present_token("STRANGER", 1)  # connector 2 stays free for OWNER
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (1, None)
            assert await status_of(h, 1) == "Charging"
            assert not await h.cp.present_token("STRANGER2", 2)
            await h.cp.plug_in(2)
            assert await h.cp.present_token("OWNER", 2)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (2, 7)
            assert await status_of(h, 2) == "Charging"
            await h.settle()
            assert rec.reservations[-1] == ("ended", 7, "Used")

    run(main)


def test_connector_zero_on_a_one_connector_charge_point_and_its_failures() -> None:
    async def main() -> None:
        h, rec = stack(connectors=1, config={"ReserveConnectorZeroSupported": "true"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 0) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            assert not await h.cp.present_token("STRANGER")
            await h.settle()
            assert h.csms.pending("Authorize") == 0
            cancelled = await h.call(v16.CancelReservationRequest(reservation_id=7))
            assert cancelled.status == "Accepted"
            assert await status_of(h, 1) == "Available"
            h.cp.raise_error(1, ConnectorError("GroundFailure"))
            assert await status_of(h, 1) == "Faulted"
            assert await reserve(h, 0) == "Faulted"
            h.cp.clear_error(1)
            assert await status_of(h, 1) == "Available"
            await h.call(v16.ChangeAvailabilityRequest(connector_id=0, type="Inoperative"))
            assert await reserve(h, 0) == "Unavailable"
            await h.call(v16.ChangeAvailabilityRequest(connector_id=0, type="Operative"))
            assert await reserve(h, 0, reservation_id=8) == "Accepted"
            await h.settle()
            await h.call(v16.ChangeAvailabilityRequest(connector_id=0, type="Inoperative"))
            await h.settle()
            assert rec.reservations[-1] == ("ended", 8, "Unavailable")

    run(main)


def test_connector_zero_holder_on_a_one_connector_charge_point() -> None:
    async def main() -> None:
        h, _ = stack(connectors=1, config={"ReserveConnectorZeroSupported": "true"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 0) == "Accepted"
            assert await status_of(h, 1) == "Reserved"
            assert await h.cp.present_token("OWNER")
            assert await status_of(h, 1) == "Preparing"
            await h.cp.plug_in(1)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (1, 7)
            assert await status_of(h, 1) == "Charging"

    run(main)


def test_a_token_waiting_for_any_plug_leaves_the_held_connector_free() -> None:
    async def main() -> None:
        h, _ = stack(config={"ReserveConnectorZeroSupported": "true"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 0) == "Accepted"
            assert await h.cp.present_token("STRANGER")  # no plug yet: waits for any
            assert [await status_of(h, n) for n in (1, 2)] == ["Preparing", "Preparing"]
            await h.cp.plug_in(1)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.reservation_id) == (1, None)
            statuses = [await h.csms.next("StatusNotification") for _ in range(2)]
            assert {s.connector_id: s.status for s in statuses} == {1: "Charging", 2: "Reserved"}

    run(main)


# -- persistence -----------------------------------------------------------------------------------


def test_reservations_survive_a_restart_and_expired_ones_are_dropped() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1, reservation_id=1) == "Accepted"
            assert await reserve(h, 2, reservation_id=2, expiry=T0 + timedelta(minutes=10)) == (
                "Accepted"
            )
            assert await status_of(h, 1) == "Reserved"
            assert await status_of(h, 2) == "Reserved"
        h.clock.set_time(T0 + timedelta(minutes=15))  # power off for 15 minutes
        again, rec = stack(store=h.store, csms=h.csms, clock=h.clock)
        await again.cp.start()
        assert set(await again.store.load("reservations")) == {"1"}
        async with again.online():
            await booted(again, {1: "Reserved"})
            assert not await again.cp.present_token("STRANGER", 1)
            await again.cp.plug_in(1)
            assert await again.cp.present_token("OWNER", 1)
            start = await again.csms.next("StartTransaction")
            assert start.reservation_id == 1
        assert rec.reservations == [("ended", 1, "Used")]

    run(main)


def test_a_restored_reservation_expires_by_the_csms_time_on_a_charger_without_a_clock() -> None:
    async def main() -> None:
        h, _ = stack()
        h.csms.boot_interval = 86_400
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert await reserve(h, 1) == "Accepted"
        await h.cp.close()
        # power back on a charger whose clock restarts in 2000: the expiry looks 25 years away
        clock = ManualClock(T0.replace(year=2000))
        again = make(store=h.store, csms=h.csms, clock=clock)
        await again.cp.start()
        assert again.cp.connectors.status(1) == "Reserved"
        async with again.online():
            await again.csms.next("BootNotification")  # sets the clock to the CSMS's T0
            again.clock.advance(3600)
            await again.settle()
            assert again.cp.connectors.status(1) == "Available"

    run(main)
