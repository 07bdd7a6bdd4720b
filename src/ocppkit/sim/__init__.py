"""``ocppkit sim``: thousands of simulated charge points, each the real 1.6 stack, driven by a
seeded scenario (``Scenario``) in accelerated time, with a live view and machine-readable
figures. ``Fleet`` runs them; ``SimStation`` is one."""

from ocppkit.sim.fleet import Fleet
from ocppkit.sim.scenario import Scenario, default_tokens, load_scenario
from ocppkit.sim.station import SimStation
from ocppkit.sim.stats import FleetStats, TransactionRecord

__all__ = [
    "Fleet",
    "FleetStats",
    "Scenario",
    "SimStation",
    "TransactionRecord",
    "default_tokens",
    "load_scenario",
]
