"""OCPP 1.6 spellings of the smart charging types: ``ChargingProfile`` in, composite out.

1.6 purposes map as ChargePointMaxProfile -> ``StationMax``, TxDefaultProfile -> ``TxDefault``,
TxProfile -> ``Tx``. Limits on the wire have at most one decimal: composite limits are rounded
*down* to 0.1 so the reported limit is never above the computed one.
"""

from __future__ import annotations

import math
from datetime import datetime

from ocppkit.messages import v16
from ocppkit.smartcharging.installed import ClearFilter
from ocppkit.smartcharging.model import (
    CompositeSchedule,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Schedule,
)
from ocppkit.smartcharging.validation import Rules

__all__ = [
    "PURPOSES",
    "clear_filter",
    "composite_response",
    "profile_from_v16",
    "rate_units",
    "rules_v16",
]

PURPOSES: dict[v16.ChargingProfilePurposeType, Purpose] = {
    "ChargePointMaxProfile": "StationMax",
    "TxDefaultProfile": "TxDefault",
    "TxProfile": "Tx",
}
_UNITS: dict[str, RateUnit] = {"Current": "A", "Power": "W"}


def profile_from_v16(profile: v16.ChargingProfile, connector: int) -> Profile:
    """A 1.6 ``csChargingProfiles`` set on ``connector`` as a ``Profile``."""
    schedule = profile.charging_schedule
    return Profile(
        id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        purpose=PURPOSES[profile.charging_profile_purpose],
        kind=profile.charging_profile_kind,
        connector=connector,
        recurrency=profile.recurrency_kind,
        valid_from=profile.valid_from,
        valid_to=profile.valid_to,
        transaction_id=profile.transaction_id,
        schedule=Schedule(
            unit=schedule.charging_rate_unit,
            periods=tuple(
                Period(p.start_period, p.limit, p.number_phases)
                for p in schedule.charging_schedule_period
            ),
            start=None if profile.charging_profile_kind == "Relative" else schedule.start_schedule,
            duration=schedule.duration,
            min_rate=schedule.min_charging_rate,
        ),
    )


def rate_units(allowed: list[str] | None) -> tuple[RateUnit, ...]:
    """``ChargingScheduleAllowedChargingRateUnit`` (``Current`` / ``Power``) as units."""
    return tuple(_UNITS[name] for name in allowed or () if name in _UNITS)


def rules_v16(
    connectors: int,
    *,
    max_stack_level: int,
    max_periods: int,
    max_installed: int,
    allowed_units: list[str] | None,
) -> Rules:
    """The 1.6 rules from the SmartCharging configuration keys."""
    return Rules(
        connectors=connectors,
        max_stack_level=max_stack_level,
        max_periods=max_periods,
        max_installed=max_installed,
        units=rate_units(allowed_units),
        relative_start_schedule=True,
        relative_station_max=True,
    )


def clear_filter(request: v16.ClearChargingProfileRequest) -> ClearFilter:
    """What a ClearChargingProfile asks to remove."""
    purpose = request.charging_profile_purpose
    return ClearFilter(
        id=request.id,
        connector=request.connector_id,
        purpose=None if purpose is None else PURPOSES[purpose],
        stack_level=request.stack_level,
    )


def _down(limit: float) -> float:
    return math.floor(limit * 10 + 1e-9) / 10


def composite_response(
    schedule: CompositeSchedule, *, start: datetime | None = None
) -> v16.GetCompositeScheduleResponse:
    """An Accepted GetCompositeSchedule answer for ``schedule``."""
    return v16.GetCompositeScheduleResponse(
        status="Accepted",
        connector_id=schedule.connector,
        schedule_start=start or schedule.start,
        charging_schedule=v16.ChargingSchedule(
            duration=schedule.duration,
            start_schedule=schedule.start,
            charging_rate_unit=schedule.unit,
            charging_schedule_period=[
                v16.ChargingSchedulePeriod(
                    start_period=p.start, limit=_down(p.limit), number_phases=p.phases
                )
                for p in schedule.periods
            ],
        ),
    )
