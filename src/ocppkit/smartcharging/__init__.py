"""Smart charging for every OCPP version: validate and keep charging profiles, compute the
composite schedule (which limit applies when, and which profile set it).

Pure functions and plain data (no I/O, no event loop), shared by the charge point stacks and the
CSMS. ``model`` holds the version-neutral types, ``validation`` the acceptance rules,
``installed`` the replace / clear / purge rules, ``composite`` the schedule, ``sharing`` the
split of a station cap; ``v16`` converts the 1.6 messages.
"""

from ocppkit.smartcharging.composite import composite_schedule, limit_at, next_change
from ocppkit.smartcharging.installed import ClearFilter, ProfileSet
from ocppkit.smartcharging.model import (
    ChargingLimit,
    CompositePeriod,
    CompositeSchedule,
    Electrical,
    Period,
    Profile,
    Running,
    Schedule,
    Source,
)
from ocppkit.smartcharging.sharing import share_cap
from ocppkit.smartcharging.validation import ProfileRejected, Rules, check_profile

__all__ = [
    "ChargingLimit",
    "ClearFilter",
    "CompositePeriod",
    "CompositeSchedule",
    "Electrical",
    "Period",
    "Profile",
    "ProfileRejected",
    "ProfileSet",
    "Rules",
    "Running",
    "Schedule",
    "Source",
    "check_profile",
    "composite_schedule",
    "limit_at",
    "next_change",
    "share_cap",
]
