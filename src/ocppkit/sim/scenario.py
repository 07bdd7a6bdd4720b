"""What the simulated fleet does: the knobs of a scenario, from a small TOML file or defaults.

::

    # scenario.toml — every key optional
    speed = 60                  # simulated seconds per real second
    sessions_per_day = 6        # arrivals per connector and day (at the daily peak's average)
    peak_hours = [8, 18]        # arrivals cluster around these hours (UTC)
    unknown_token_share = 0.05  # swipes of tokens the CSMS does not know
    plug_first_share = 0.6      # plug, then swipe (else swipe, then plug)
    dwell_minutes = [30, 240]   # how long an EV stays, uniform
    battery_kwh = [40, 100]
    arrival_soc = [0.1, 0.6]
    ev_max_kw = [7.4, 11, 22]   # the EV's onboard charger, one picked per session
    meter_interval = 60         # MeterValueSampleInterval, simulated seconds
    fault_rate_per_day = 0.2    # per station
    fault_minutes = [2, 20]
    drop_rate_per_day = 0.5     # network drops per station (the stack reconnects)
    tokens = ["SIM-0001", …]    # tokens the CSMS knows (default: SIM-0001 … SIM-0200)

Every random choice comes from one seeded ``random.Random`` per station (``seed`` and the
station's number), so a run with the same seed, fleet and speed makes the same decisions.
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["Scenario", "default_tokens", "load_scenario"]


def default_tokens(count: int = 200) -> list[str]:
    """The tokens a demo CSMS is given: ``SIM-0001`` …"""
    return [f"SIM-{i:04d}" for i in range(1, count + 1)]


@dataclass(frozen=True)
class Scenario:
    """The knobs (see the module docstring for their meaning and units)."""

    speed: float = 1.0
    sessions_per_day: float = 6.0
    peak_hours: tuple[float, ...] = (8.0, 18.0)
    unknown_token_share: float = 0.05
    plug_first_share: float = 0.6
    dwell_minutes: tuple[float, float] = (30.0, 240.0)
    battery_kwh: tuple[float, float] = (40.0, 100.0)
    arrival_soc: tuple[float, float] = (0.1, 0.6)
    ev_max_kw: tuple[float, ...] = (7.4, 11.0, 22.0)
    meter_interval: int = 60
    fault_rate_per_day: float = 0.2
    fault_minutes: tuple[float, float] = (2.0, 20.0)
    drop_rate_per_day: float = 0.5
    tokens: tuple[str, ...] = field(default_factory=lambda: tuple(default_tokens()))

    def arrival_rate(self, hour: float) -> float:
        """Arrivals per second per connector at ``hour`` (UTC): a base plus bumps at the peaks,
        averaging ``sessions_per_day`` over a day."""
        bumps = sum(
            math.exp(-(((hour - peak + 12) % 24 - 12) ** 2) / 8) for peak in self.peak_hours
        )
        norm = 0.3 + len(self.peak_hours) * math.sqrt(8 * math.pi) / 24
        return self.sessions_per_day / 86_400 * (0.3 + bumps) / norm

    def next_arrival(self, rng: random.Random, hour: float) -> float:
        """Seconds until the next arrival at a connector (exponential at the hour's rate)."""
        return rng.expovariate(max(self.arrival_rate(hour), 1e-9))

    def rate_per_second(self, per_day: float) -> float:
        """A per-day rate as per second."""
        return per_day / 86_400


def load_scenario(path: str | Path | None, **overrides: Any) -> Scenario:
    """The scenario in ``path`` (None: the defaults), then ``overrides`` that are not None
    (``ValueError`` names an unknown key or a bad value)."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name: f for f in fields(Scenario)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown scenario keys: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(Scenario(), name)
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not value:
                raise ValueError(f"{name}: a non-empty list")
            value = tuple(str(v) if name == "tokens" else float(v) for v in value)
        elif isinstance(default, int) and not isinstance(default, bool):
            value = int(value)
        else:
            value = float(value)
        values[name] = value
    scenario = Scenario(**values)
    if scenario.speed <= 0:
        raise ValueError("speed: greater than 0")
    if not 0 <= scenario.unknown_token_share <= 1 or not 0 <= scenario.plug_first_share <= 1:
        raise ValueError("shares are between 0 and 1")
    return scenario
