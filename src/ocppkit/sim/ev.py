"""An electric vehicle's charging: power that tapers with state of charge.

The onboard charger takes up to ``max_kw`` (and never more than the station offers) until
``taper_soc``; above it the power falls linearly to 5 % of the maximum at 100 % — the shape of a
lithium-ion charge's constant-voltage phase, close enough for a CSMS's point of view.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Ev"]


@dataclass
class Ev:
    """One EV's battery during a session."""

    battery_kwh: float
    soc: float
    max_kw: float
    target_soc: float = 1.0
    taper_soc: float = 0.8

    def power_kw(self, offered_kw: float) -> float:
        """What the EV draws now, given what the station offers."""
        if self.soc >= self.target_soc:
            return 0.0
        taken = min(self.max_kw, max(offered_kw, 0.0))
        if self.soc <= self.taper_soc:
            return taken
        share = (1.0 - self.soc) / (1.0 - self.taper_soc)
        return min(taken, self.max_kw * max(0.05, share))

    def charge(self, offered_kw: float, seconds: float) -> float:
        """Charge for ``seconds``; returns the energy taken in Wh."""
        power = self.power_kw(offered_kw)
        wh = power * 1000.0 * seconds / 3600.0
        self.soc = min(1.0, self.soc + wh / 1000.0 / self.battery_kwh)
        return wh
