"""The profiles a station has installed: replace, clear by filter, purge — pure, no storage.

- **install**: a profile replaces the installed one with the same id and, in 1.6
  (``replace_same_level=True``), the one with the same stack level and purpose *on the same
  connector* (§3.13.2 says "on the charge point"; taken literally a connector-2 TxDefault would
  replace a connector-1 one, so we scope it per connector like most implementations). The count
  afterwards must stay within ``Rules.max_installed``. 2.x ExternalConstraints profiles are never
  replaced by id (K01.FR.05).
- **clear**: the profiles matching *every* given field (1.6 errata 3.25; none given: all);
  ExternalConstraints profiles are never cleared (K10.FR.08).
- **purge**: drop profiles whose ``validTo`` has passed and Tx profiles of transactions that
  ended (1.6 §3.13.1: SHOULD be deleted).

The caller persists what changed: each method returns the profiles it removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from ocppkit.smartcharging.model import Profile, Purpose, Running
from ocppkit.smartcharging.validation import ProfileRejected, Rules, check_profile

__all__ = ["ClearFilter", "ProfileSet"]


@dataclass(frozen=True, slots=True)
class ClearFilter:
    """Which profiles a ClearChargingProfile means (None: any)."""

    id: int | None = None
    connector: int | None = None
    purpose: Purpose | None = None
    stack_level: int | None = None

    def matches(self, profile: Profile) -> bool:
        """Does ``profile`` match every given field?"""
        return (
            (self.id is None or profile.id == self.id)
            and (self.connector is None or profile.connector == self.connector)
            and (self.purpose is None or profile.purpose == self.purpose)
            and (self.stack_level is None or profile.stack_level == self.stack_level)
        )


class ProfileSet:
    """Installed profiles by id."""

    def __init__(self, profiles: Mapping[int, Profile] | None = None) -> None:
        self.profiles: dict[int, Profile] = dict(profiles or {})

    def __iter__(self) -> Iterator[Profile]:
        return iter(list(self.profiles.values()))

    def __len__(self) -> int:
        return len(self.profiles)

    def install(
        self,
        profile: Profile,
        rules: Rules,
        *,
        running: Mapping[int, Running],
        replace_same_level: bool = True,
    ) -> list[Profile]:
        """Check and install ``profile``; returns the profiles it replaced
        (``ProfileRejected`` when it may not be installed)."""
        check_profile(profile, rules, running=running)
        replaced = [
            old
            for old in self.profiles.values()
            if old.purpose != "ExternalConstraints"
            and (
                old.id == profile.id
                or (
                    replace_same_level
                    and (old.stack_level, old.purpose, old.connector)
                    == (profile.stack_level, profile.purpose, profile.connector)
                )
            )
        ]
        if profile.id in self.profiles and not replaced:
            raise ProfileRejected("DuplicateProfile", f"profile {profile.id} cannot be replaced")
        if len(self.profiles) - len(replaced) + 1 > rules.max_installed:
            raise ProfileRejected(
                "TooManyProfiles", f"{rules.max_installed} profiles are installed already"
            )
        for old in replaced:
            del self.profiles[old.id]
        self.profiles[profile.id] = profile
        return replaced

    def clear(self, wanted: ClearFilter) -> list[Profile]:
        """Remove the profiles matching ``wanted``; returns them (empty: 1.6 / 2.x Unknown)."""
        gone = [
            p
            for p in self.profiles.values()
            if p.purpose != "ExternalConstraints" and wanted.matches(p)
        ]
        for profile in gone:
            del self.profiles[profile.id]
        return gone

    def purge(self, now: datetime, running: Mapping[int, Running]) -> list[Profile]:
        """Remove expired profiles and Tx profiles whose transaction is not running; returns
        them."""
        gone = [
            p
            for p in self.profiles.values()
            if (p.valid_to is not None and p.valid_to <= now)
            or (
                p.purpose == "Tx"
                and (
                    p.connector not in running or not running[p.connector].may_own(p.transaction_id)
                )
            )
        ]
        for profile in gone:
            del self.profiles[profile.id]
        return gone
