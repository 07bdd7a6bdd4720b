"""Smart charging on the 1.6 charge point stack: profiles set, cleared, kept, reported as
composite schedules, and applied through ``apply_limit`` — on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ocppkit.chargepoint.v16.config_keys import FEATURE_PROFILES
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.messages import v16
from ocppkit.protocol.errors import NotSupportedError
from ocppkit.smartcharging import ChargingLimit
from tests.chargepoint.v16.harness import T0, FakeCsms, Harness, Recorder, make


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


class LimitRecorder(Recorder):
    """Also remembers the limits the stack applied."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[tuple[int, float, int | None]] = []
        self.order: list[str] = []

    def apply_limit(self, connector_id: int, limit: ChargingLimit) -> None:
        source = limit.source.profile_id if limit.source else None
        self.limits.append((connector_id, round(limit.amps, 2), source))
        self.order.append(f"limit {connector_id}")

    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        await super().set_energy(connector_id, allowed)
        self.order.append(f"energy {connector_id} {allowed}")

    def now(self) -> dict[int, float]:
        """The last limit applied per connector."""
        return {n: amps for n, amps, _ in self.limits}


def stack(**kwargs: Any) -> tuple[Harness, LimitRecorder]:
    """A stack whose CSMS asks for no heartbeat (its answers would set the clock back to T0)."""
    h = make(csms=FakeCsms(boot_interval=864_000), **kwargs)
    recorder = LimitRecorder()
    h.cp.callbacks = h.callbacks = recorder
    return h, recorder


def profile(
    pid: int,
    purpose: v16.ChargingProfilePurposeType,
    periods: list[tuple[int, float]],
    *,
    level: int = 0,
    kind: v16.ChargingProfileKindType = "Absolute",
    start: datetime | None = T0,
    unit: v16.ChargingRateUnitType = "A",
    duration: int | None = None,
    transaction_id: int | None = None,
) -> v16.ChargingProfile:
    return v16.ChargingProfile(
        charging_profile_id=pid,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        transaction_id=transaction_id,
        charging_schedule=v16.ChargingSchedule(
            charging_rate_unit=unit,
            start_schedule=start,
            duration=duration,
            charging_schedule_period=[
                v16.ChargingSchedulePeriod(start_period=s, limit=limit) for s, limit in periods
            ],
        ),
    )


async def set_profile(h: Harness, connector: int, p: v16.ChargingProfile) -> str:
    answer = await h.call(
        v16.SetChargingProfileRequest(connector_id=connector, cs_charging_profiles=p)
    )
    return str(answer.status)


async def composite(h: Harness, connector: int, duration: int, unit: Any = None) -> Any:
    return await h.call(
        v16.GetCompositeScheduleRequest(
            connector_id=connector, duration=duration, charging_rate_unit=unit
        )
    )


async def booted(h: Harness) -> None:
    """Wait for the accepted boot (transactions start only after it)."""
    await h.csms.next("BootNotification")
    await h.settle()


async def started(h: Harness, connector: int, tag: str = "TAG") -> None:
    await h.cp.plug_in(connector)
    assert await h.cp.present_token(tag, connector)
    await h.csms.next("StartTransaction")
    await h.settle()


def test_a_tx_default_profile_is_stored_applied_and_reported() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        assert rec.now() == {0: 64.0, 1: 32.0, 2: 32.0}  # nothing set: the hardware maximum
        async with h.online():
            await booted(h)
            steps = profile(1, "TxDefaultProfile", [(0, 16.0), (600, 10.0)])
            assert await set_profile(h, 0, steps) == "Accepted"
            stored = await h.store.load("charging_profiles")
            assert stored["1"]["connector"] == 0
            assert stored["1"]["profile"]["chargingSchedule"]["chargingSchedulePeriod"][1] == {
                "startPeriod": 600,
                "limit": 10.0,
            }
            assert rec.now() == {0: 32.0, 1: 16.0, 2: 16.0}
            answer = await composite(h, 1, 1200)
            assert answer.status == "Accepted"
            assert (answer.connector_id, answer.schedule_start) == (1, T0)
            periods = answer.charging_schedule.charging_schedule_period
            assert [(p.start_period, p.limit) for p in periods] == [(0, 16.0), (600, 10.0)]
            assert answer.charging_schedule.charging_rate_unit == "A"  # first allowed unit
            watts = await composite(h, 1, 1200, "W")
            limits = [p.limit for p in watts.charging_schedule.charging_schedule_period]
            assert limits == [11040.0, 6900.0]
            rec.limits.clear()
            h.clock.advance(599)
            await h.settle()
            assert rec.limits == []
            h.clock.advance(1)  # the period boundary
            await h.settle()
            assert sorted(rec.limits) == [(0, 20.0, None), (1, 10.0, 1), (2, 10.0, 1)]

    run(main)


def test_rejected_profiles_are_neither_stored_nor_applied() -> None:
    async def main() -> None:
        h, rec = stack(config={"ChargingScheduleAllowedChargingRateUnit": "Current"})
        await h.cp.start()
        async with h.online():
            await booted(h)
            before = list(rec.limits)
            no_tx = profile(1, "TxProfile", [(0, 6.0)])
            assert await set_profile(h, 1, no_tx) == "Rejected"  # no transaction runs there
            too_high = profile(2, "TxDefaultProfile", [(0, 6.0)], level=11)
            assert await set_profile(h, 1, too_high) == "Rejected"  # ChargeProfileMaxStackLevel 10
            watts = profile(3, "TxDefaultProfile", [(0, 6000.0)], unit="W")
            assert await set_profile(h, 1, watts) == "Rejected"  # only Current allowed
            station = profile(4, "ChargePointMaxProfile", [(0, 6.0)])
            assert await set_profile(h, 1, station) == "Rejected"  # goes on connector 0
            assert await set_profile(h, 3, profile(5, "TxDefaultProfile", [(0, 6.0)])) == "Rejected"
            assert await h.store.load("charging_profiles") == {}
            assert rec.limits == before
            assert (await composite(h, 3, 60)).status == "Rejected"
            assert (await composite(h, 1, 0)).status == "Rejected"  # an empty horizon

    run(main)


def test_clear_by_filter_and_unknown() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            assert (
                await set_profile(h, 0, profile(1, "TxDefaultProfile", [(0, 16.0)])) == "Accepted"
            )
            assert await set_profile(h, 2, profile(2, "TxDefaultProfile", [(0, 8.0)])) == "Accepted"
            assert rec.now() == {0: 24.0, 1: 16.0, 2: 8.0}
            unknown = await h.call(v16.ClearChargingProfileRequest(id=2, connector_id=1))
            assert unknown.status == "Unknown"  # every given field must match
            cleared = await h.call(v16.ClearChargingProfileRequest(connector_id=2))
            assert cleared.status == "Accepted"
            assert set(await h.store.load("charging_profiles")) == {"1"}
            assert rec.now() == {0: 32.0, 1: 16.0, 2: 16.0}
            everything = await h.call(v16.ClearChargingProfileRequest())
            assert everything.status == "Accepted"
            assert rec.now() == {0: 64.0, 1: 32.0, 2: 32.0}

    run(main)


def test_a_tx_profile_lives_and_dies_with_its_transaction() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            await set_profile(h, 0, profile(1, "TxDefaultProfile", [(0, 16.0)], level=5))
            await started(h, 1)
            other = profile(2, "TxProfile", [(0, 6.0)], transaction_id=999)
            assert await set_profile(h, 1, other) == "Rejected"  # not this transaction's id
            mine = profile(2, "TxProfile", [(0, 6.0)], transaction_id=101)
            assert await set_profile(h, 1, mine) == "Accepted"
            assert rec.now()[1] == 6.0  # overrides TxDefault, even of a higher stack level
            assert rec.now()[2] == 16.0
            await h.cp.plug_out(1)
            await h.csms.next("StopTransaction")
            await h.settle()
            assert set(await h.store.load("charging_profiles")) == {"1"}
            assert rec.now()[1] == 16.0

    run(main)


def test_remote_start_applies_its_profile_before_energy_is_offered() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            relative = profile(7, "TxProfile", [(0, 10.0), (60, 20.0)], kind="Relative", start=None)
            await h.cp.plug_in(2)
            rec.order.clear()
            answer = await h.call(
                v16.RemoteStartTransactionRequest(
                    id_tag="TAG", connector_id=2, charging_profile=relative
                )
            )
            assert answer.status == "Accepted"
            await h.csms.next("StartTransaction")
            await h.settle()
            mine = [o for o in rec.order if o in ("limit 2", "energy 2 True")]
            assert mine == ["limit 2", "energy 2 True"]
            assert rec.now()[2] == 10.0
            h.clock.advance(60)  # relative to the transaction's start
            await h.settle()
            assert rec.now()[2] == 20.0
            wrong = profile(8, "TxDefaultProfile", [(0, 10.0)])
            refused = await h.call(
                v16.RemoteStartTransactionRequest(
                    id_tag="TAG", connector_id=1, charging_profile=wrong
                )
            )
            assert refused.status == "Rejected"  # a remote start's profile is a TxProfile

    run(main)


def test_the_station_cap_is_shared_between_charging_connectors() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            await set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 40.0)]))
            await set_profile(h, 2, profile(2, "TxDefaultProfile", [(0, 12.0)]))
            assert rec.now() == {0: 40.0, 1: 32.0, 2: 12.0}  # nobody charges: each its own
            await started(h, 1)
            await started(h, 2)
            # connector 2 wants only 12 A; connector 1 gets the other 28 A of the 40 A cap
            assert rec.now() == {0: 40.0, 1: 28.0, 2: 12.0}
            total = await composite(h, 0, 60)
            assert [p.limit for p in total.charging_schedule.charging_schedule_period] == [40.0]

    run(main)


def test_profiles_survive_a_restart_and_expired_ones_are_dropped() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            keeps = profile(1, "TxDefaultProfile", [(0, 16.0)])
            expires = msgspec.structs.replace(
                profile(2, "TxDefaultProfile", [(0, 6.0)], level=1),
                valid_to=T0 + timedelta(hours=1),
            )
            assert await set_profile(h, 0, keeps) == "Accepted"
            assert await set_profile(h, 0, expires) == "Accepted"
        await h.cp.close()
        later, rec = stack(store=h.store, clock=h.clock)
        h.clock.advance(3600)
        await later.cp.start()
        assert rec.now() == {0: 32.0, 1: 16.0, 2: 16.0}
        assert set(await later.store.load("charging_profiles")) == {"1"}
        await later.cp.close()

    run(main)


def test_without_the_smart_charging_profile_the_messages_are_not_supported() -> None:
    async def main() -> None:
        h = make()
        without = tuple(p for p in FEATURE_PROFILES if p != "SmartCharging")
        h.cp = ChargePoint16(
            store=h.store, link=h.link, clock=h.clock, scheduler=h.scheduler, vendor="v",
            model="m", connectors=1, profiles=without,
        )  # fmt: skip
        await h.cp.start()
        async with h.online():
            await booted(h)
            try:
                await composite(h, 1, 60)
            except NotSupportedError:
                pass
            else:
                raise AssertionError("GetCompositeSchedule answered")

    run(main)
