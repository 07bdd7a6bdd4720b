"""Meter readings as the integrator reports them, and the 1.6 MeterValue samples made of them.

The integrator reports ``Reading`` objects (any measurand, per phase, signed values allowed);
the stack keeps the latest per connector and turns them into samples selected by a measurand
list such as ``MeterValuesSampledData`` (items ``Measurand`` or ``Measurand.Phase``, e.g.
``Energy.Active.Import.Register,Current.Import.L1``): an item without a phase selects every
reading of that measurand, one with a phase only that phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from ocppkit.messages import v16

__all__ = ["ENERGY", "Reading", "energy_wh", "meter_value", "select"]

ENERGY: v16.Measurand = "Energy.Active.Import.Register"
_PHASES = frozenset(get_args(v16.Phase))
_DEFAULT_UNITS: dict[str, v16.UnitOfMeasure] = {
    "Energy": "Wh",
    "Power.Active": "W",
    "Power.Reactive": "var",
    "Power.Offered": "W",
    "Current": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Frequency": "Hertz",
    "Temperature": "Celsius",
}


@dataclass(frozen=True)
class Reading:
    """One meter reading of a connector (``unit`` None: the measurand's usual unit)."""

    value: float
    measurand: v16.Measurand = ENERGY
    phase: v16.Phase | None = None
    unit: v16.UnitOfMeasure | None = None
    location: v16.Location | None = None

    def key(self) -> tuple[str, str | None, str | None]:
        """What a newer reading replaces: same measurand, phase and location."""
        return (self.measurand, self.phase, self.location)

    def sampled(self, context: v16.ReadingContext) -> v16.SampledValue:
        """The reading as a ``sampledValue``."""
        return v16.SampledValue(
            value=f"{self.value:.3f}".rstrip("0").rstrip("."),
            context=context,
            measurand=self.measurand,
            phase=self.phase,
            location=self.location,
            unit=self.unit or _unit_of(self.measurand),
        )


def _unit_of(measurand: str) -> v16.UnitOfMeasure | None:
    for prefix, unit in _DEFAULT_UNITS.items():
        if measurand.startswith(prefix):
            return unit
    return None


def _split(item: str) -> tuple[str, str | None]:
    """``Current.Import.L1`` -> (``Current.Import``, ``L1``); a measurand alone -> (it, None)."""
    head, _, tail = item.rpartition(".")
    if head and tail in _PHASES:
        return head, tail
    for phase in _PHASES:  # phases with a dot or dash inside, e.g. "L1-N"
        if item.endswith("." + phase):
            return item[: -len(phase) - 1], phase
    return item, None


def select(readings: Iterable[Reading], items: Sequence[str]) -> list[Reading]:
    """The readings that the measurand list ``items`` asks for, in list order."""
    chosen: list[Reading] = []
    pool = list(readings)
    for item in items:
        measurand, phase = _split(item.strip())
        for reading in pool:
            wanted = reading.measurand == measurand and (phase is None or reading.phase == phase)
            if wanted and reading not in chosen:
                chosen.append(reading)
    return chosen


def meter_value(
    readings: Iterable[Reading], items: Sequence[str], context: v16.ReadingContext, at: datetime
) -> v16.MeterValue | None:
    """A ``meterValue`` of the selected readings at ``at`` (None when none is selected)."""
    samples = [r.sampled(context) for r in select(readings, items)]
    return v16.MeterValue(timestamp=at, sampled_value=samples) if samples else None


def energy_wh(readings: Iterable[Reading]) -> float | None:
    """The connector's energy register in Wh (the total, not a phase), if reported."""
    for reading in readings:
        if reading.measurand == ENERGY and reading.phase is None:
            factor = 1000.0 if reading.unit == "kWh" else 1.0
            return reading.value * factor
    return None
