"""Charging profiles in one shape for every OCPP version, and the composite schedule's result.

The version adapters (``ocppkit.smartcharging.v16`` …) turn a version's ``ChargingProfile`` into
a ``Profile`` and a ``CompositeSchedule`` back into that version's reply; the rules in
``validation``, ``installed`` and ``composite`` only see these types. Times are aware datetimes
(UTC); limits are what the profile says: amperes *per phase* (``"A"``) or watts in total
(``"W"``), converted with ``Electrical``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias

__all__ = [
    "DAY",
    "WEEK",
    "ChargingLimit",
    "CompositePeriod",
    "CompositeSchedule",
    "Electrical",
    "Kind",
    "Period",
    "Profile",
    "Purpose",
    "RateUnit",
    "Recurrency",
    "Running",
    "Schedule",
    "Source",
]

Purpose: TypeAlias = Literal["StationMax", "TxDefault", "Tx", "ExternalConstraints"]
"""What a profile is for: ``StationMax`` (1.6 ChargePointMaxProfile, 2.x
ChargingStationMaxProfile: a cap for the whole station, set on connector/EVSE 0), ``TxDefault``,
``Tx`` (one transaction), ``ExternalConstraints`` (2.x: set by the station from an external
limit)."""
Kind: TypeAlias = Literal["Absolute", "Recurring", "Relative"]
Recurrency: TypeAlias = Literal["Daily", "Weekly"]
RateUnit: TypeAlias = Literal["A", "W"]

DAY = 86_400
"""Seconds of a Daily recurrence."""
WEEK = 7 * DAY
"""Seconds of a Weekly recurrence."""


@dataclass(frozen=True, slots=True)
class Period:
    """From ``start`` seconds after the schedule's start: at most ``limit`` (in the schedule's
    unit) on ``phases`` phases (None: the station's default, 3 on AC)."""

    start: int
    limit: float
    phases: int | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A charging schedule: periods in ``unit``, from ``start`` (Absolute / Recurring) or the
    transaction's start (Relative), lasting ``duration`` seconds (None: the last period goes on)."""

    unit: RateUnit
    periods: tuple[Period, ...]
    start: datetime | None = None
    duration: int | None = None
    min_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """A charging profile installed on ``connector`` (0: the whole station)."""

    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: Schedule
    connector: int = 0
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | str | None = None
    """The transaction a ``Tx`` profile belongs to (None: the one running on the connector)."""

    def is_valid_at(self, when: datetime) -> bool:
        """``valid_from <= when < valid_to`` (a missing bound is open)."""
        return (self.valid_from is None or self.valid_from <= when) and (
            self.valid_to is None or when < self.valid_to
        )


@dataclass(frozen=True, slots=True)
class Running:
    """The transaction running on a connector: when it started (Relative profiles count from
    there) and its id once known (a Tx profile with another ``transactionId`` does not apply;
    None: not known yet, so it is not checked)."""

    start: datetime
    transaction_id: int | str | None = None

    def may_own(self, transaction_id: int | str | None) -> bool:
        """May a Tx profile for ``transaction_id`` belong here (an unknown id on either side
        counts as yes)?"""
        known = self.transaction_id
        return transaction_id is None or known is None or transaction_id == known


@dataclass(frozen=True, slots=True)
class Electrical:
    """What converts amperes to watts and fills gaps: the nominal line-to-neutral ``voltage``
    (OCPP 2.0.1 K01.FR.50: the configured one, not the measured one), the phases a period means
    when it does not say (3 on AC: 1.6 §7.14, K01.FR.49), and the hardware's maximum current per
    phase of one connector, the limit where no profile applies."""

    voltage: float = 230.0
    phases: int = 3
    max_current: float = 32.0

    def watts(self, amps: float, phases: int | None) -> float:
        """A per-phase current as total power."""
        return amps * self.voltage * (phases or self.phases)

    def amps(self, watts: float, phases: int | None) -> float:
        """A total power as current per phase."""
        return watts / (self.voltage * (phases or self.phases))

    def convert(self, limit: float, unit: RateUnit, to: RateUnit, phases: int | None) -> float:
        """``limit`` in ``unit`` expressed in ``to``."""
        if unit == to:
            return limit
        return self.watts(limit, phases) if to == "W" else self.amps(limit, phases)


@dataclass(frozen=True, slots=True)
class Source:
    """The profile that set a composite period's limit (the "enhanced" output)."""

    profile_id: int
    purpose: Purpose
    stack_level: int
    connector: int


@dataclass(frozen=True, slots=True)
class CompositePeriod:
    """From ``start`` seconds after the composite's start: ``limit`` on ``phases`` phases, set
    by ``source`` (None: no profile applied, the hardware maximum)."""

    start: int
    limit: float
    phases: int
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    """The limits of ``connector`` (0: the station's total) from ``start`` for ``duration``
    seconds, in ``unit``; consecutive periods differ in limit, phases or source."""

    connector: int
    start: datetime
    duration: int
    unit: RateUnit
    periods: tuple[CompositePeriod, ...] = field(default=())

    def limit_at(self, offset: float) -> CompositePeriod:
        """The period in force ``offset`` seconds after ``start``."""
        current = self.periods[0]
        for period in self.periods:
            if period.start > offset:
                break
            current = period
        return current


@dataclass(frozen=True, slots=True)
class ChargingLimit:
    """The limit a connector must keep to now: ``amps`` per phase on ``phases`` phases, the same
    as ``watts`` in total, set by ``source`` (None: no profile, the hardware maximum)."""

    amps: float
    watts: float
    phases: int
    source: Source | None = None

    @classmethod
    def from_amps(
        cls, amps: float, phases: int, electrical: Electrical, source: Source | None = None
    ) -> ChargingLimit:
        """The limit of ``amps`` per phase on ``phases`` phases."""
        return cls(amps, electrical.watts(amps, phases), phases, source)
