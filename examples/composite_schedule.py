"""The composite schedule as a pure function: three 1.6 profiles, the limit of each period and
the profile that set it. Run: ``python examples/composite_schedule.py``."""

from __future__ import annotations

from datetime import UTC, datetime

from ocppkit.messages import v16
from ocppkit.smartcharging import Electrical, Running, composite_schedule
from ocppkit.smartcharging.v16 import profile_from_v16

START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def periods(*steps: tuple[int, float]) -> list[v16.ChargingSchedulePeriod]:
    """``(startPeriod, limit)`` pairs as schedule periods."""
    return [v16.ChargingSchedulePeriod(start_period=s, limit=limit) for s, limit in steps]


SITE = v16.ChargingProfile(  # the whole station: 40 A, 20 A during the 18:00-20:00 peak
    charging_profile_id=1, stack_level=0, charging_profile_purpose="ChargePointMaxProfile",
    charging_profile_kind="Absolute",
    charging_schedule=v16.ChargingSchedule(
        charging_rate_unit="A", start_schedule=START,
        charging_schedule_period=periods((0, 40), (3600, 20), (10800, 40)),
    ),
)  # fmt: skip
DEFAULT = v16.ChargingProfile(  # every session: 22 kW (3 x 32 A at 230 V)
    charging_profile_id=2, stack_level=0, charging_profile_purpose="TxDefaultProfile",
    charging_profile_kind="Absolute",
    charging_schedule=v16.ChargingSchedule(
        charging_rate_unit="W", start_schedule=START, charging_schedule_period=periods((0, 22080)),
    ),
)  # fmt: skip
BOOST = v16.ChargingProfile(  # this session: 25 A for its first half hour
    charging_profile_id=3, stack_level=0, charging_profile_purpose="TxProfile",
    charging_profile_kind="Relative",
    charging_schedule=v16.ChargingSchedule(
        charging_rate_unit="A", duration=1800, charging_schedule_period=periods((0, 25)),
    ),
)  # fmt: skip


def main() -> list[tuple[int, float, int | None]]:
    """Print and return (offset s, limit A, profile id) per period of connector 1's next 2 h."""
    installed = [profile_from_v16(SITE, 0), profile_from_v16(DEFAULT, 0)]
    installed.append(profile_from_v16(BOOST, 1))
    running = {1: Running(start=START, transaction_id=77)}  # a transaction since 17:00
    schedule = composite_schedule(
        installed, 1, START, 7200, electrical=Electrical(voltage=230), running=running
    )
    rows = []
    for period in schedule.periods:
        source = period.source.profile_id if period.source else None
        print(f"+{period.start:5d} s  {period.limit:5.1f} A  set by profile {source}")
        rows.append((period.start, round(period.limit, 1), source))
    return rows


if __name__ == "__main__":
    main()
