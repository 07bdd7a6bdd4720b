"""Is a charging profile acceptable? Every rejection says exactly why.

``check_profile`` raises ``ProfileRejected`` with a ``code`` (a short name, usable as a 2.x
``reasonCode``) and a sentence naming the field; 1.6 only answers ``Rejected``, so the stack logs
the sentence. Rules (``../shared/ocpp-reference/smart-charging.md`` §1–§4, §6):

- the connector exists; StationMax only on 0; Tx only on a connector > 0 with a transaction
  running, and with its ``transactionId`` when one is given;
- ``stackLevel`` from 0 to the configured maximum (1.6 ``ChargeProfileMaxStackLevel``);
- Absolute and Recurring need ``startSchedule`` (2.0.1 K01.FR.40; 1.6 leaves it open — without it
  the schedule has no time zero, so we reject it); Recurring needs ``recurrencyKind`` and nothing
  else may carry one; Relative must not have ``startSchedule`` where ``Rules`` says so (2.x,
  K01.FR.41; 1.6: ignored); StationMax not Relative where ``Rules`` says so (2.0.1 K01.FR.38);
- periods: at least one, the first at 0 (K01.FR.31), strictly ascending (K01.FR.35), at most the
  configured number (1.6 ``ChargingScheduleMaxPeriods``), limits >= 0, numberPhases 1–3;
- the rate unit is allowed (1.6 ``ChargingScheduleAllowedChargingRateUnit``; 2.x
  ``SmartChargingCtrlr.RateUnit``, K01.FR.26); ``duration`` >= 0; ``validFrom`` before
  ``validTo``;
- the number of installed profiles after this one stays within the maximum
  (1.6 ``MaxChargingProfilesInstalled``) — checked by ``ProfileSet.install``.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ocppkit.smartcharging.model import Profile, RateUnit, Running

__all__ = ["ProfileRejected", "Rules", "check_profile"]


class ProfileRejected(Exception):
    """A profile is not acceptable: ``code`` names the rule, the message the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Rules:
    """The station's limits and the version's rules for profiles."""

    connectors: int
    """Connector / EVSE ids 1..connectors exist (0 is the station)."""
    max_stack_level: int = 10
    max_periods: int = 48
    max_installed: int = 30
    units: Collection[RateUnit] = ("A", "W")
    relative_start_schedule: bool = True
    """May a Relative profile carry ``startSchedule`` (1.6: yes, ignored; 2.x: no)?"""
    relative_station_max: bool = True
    """May a StationMax profile be Relative (1.6: yes; 2.0.1: no, K01.FR.38)?"""


def check_profile(
    profile: Profile,
    rules: Rules,
    *,
    running: Mapping[int, Running],
) -> None:
    """Raise ``ProfileRejected`` unless ``profile`` may be installed on its connector, with the
    transactions ``running`` per connector."""
    n = profile.connector
    if not 0 <= n <= rules.connectors:
        raise ProfileRejected("UnknownConnector", f"connector {n} does not exist")
    if profile.purpose == "StationMax" and n != 0:
        raise ProfileRejected("InvalidConnector", "a station maximum profile goes on connector 0")
    if profile.purpose == "Tx":
        _check_tx(profile, running)
    if not 0 <= profile.stack_level <= rules.max_stack_level:
        raise ProfileRejected(
            "InvalidStackLevel",
            f"stackLevel {profile.stack_level} is outside 0..{rules.max_stack_level}",
        )
    _check_kind(profile, rules)
    _check_schedule(profile, rules)
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_from >= profile.valid_to
    ):
        raise ProfileRejected("InvalidValidity", "validFrom is not before validTo")


def _check_tx(profile: Profile, running: Mapping[int, Running]) -> None:
    if profile.connector == 0:
        raise ProfileRejected("InvalidConnector", "a Tx profile needs a connector > 0")
    tx = running.get(profile.connector)
    if tx is None:
        raise ProfileRejected("TxNotFound", f"no transaction runs on connector {profile.connector}")
    if not tx.may_own(profile.transaction_id):
        raise ProfileRejected(
            "TxNotFound",
            f"transactionId {profile.transaction_id} is not the transaction on connector"
            f" {profile.connector}",
        )


def _check_kind(profile: Profile, rules: Rules) -> None:
    start = profile.schedule.start
    if profile.kind in ("Absolute", "Recurring") and start is None:
        raise ProfileRejected(
            "MissingStartSchedule",
            f"an {profile.kind} profile needs chargingSchedule.startSchedule",
        )
    if profile.kind == "Recurring" and profile.recurrency is None:
        raise ProfileRejected("MissingRecurrency", "a Recurring profile needs recurrencyKind")
    if profile.kind != "Recurring" and profile.recurrency is not None:
        raise ProfileRejected(
            "UnexpectedRecurrency", "recurrencyKind is only for Recurring profiles"
        )
    if profile.kind == "Relative":
        if start is not None and not rules.relative_start_schedule:
            raise ProfileRejected(
                "UnexpectedStartSchedule",
                "a Relative profile has no chargingSchedule.startSchedule",
            )
        if profile.purpose == "StationMax" and not rules.relative_station_max:
            raise ProfileRejected("InvalidKind", "a station maximum profile cannot be Relative")


def _check_schedule(profile: Profile, rules: Rules) -> None:
    schedule = profile.schedule
    if schedule.unit not in rules.units:
        raise ProfileRejected(
            "UnsupportedRateUnit", f"chargingRateUnit {schedule.unit} is not supported"
        )
    if schedule.duration is not None and schedule.duration < 0:
        raise ProfileRejected("InvalidSchedule", "chargingSchedule.duration is negative")
    periods = schedule.periods
    if not periods:
        raise ProfileRejected("InvalidSchedule", "chargingSchedulePeriod is empty")
    if len(periods) > rules.max_periods:
        raise ProfileRejected(
            "TooManyPeriods",
            f"chargingSchedulePeriod has {len(periods)} periods, at most {rules.max_periods}",
        )
    if periods[0].start != 0:
        raise ProfileRejected("InvalidSchedule", "chargingSchedulePeriod[0].startPeriod is not 0")
    for i, (before, period) in enumerate(itertools.pairwise(periods), start=1):
        if period.start <= before.start:
            raise ProfileRejected(
                "InvalidSchedule",
                f"chargingSchedulePeriod[{i}].startPeriod {period.start} is not after"
                f" {before.start}",
            )
    for i, period in enumerate(periods):
        if period.limit < 0:
            raise ProfileRejected(
                "InvalidSchedule", f"chargingSchedulePeriod[{i}].limit is negative"
            )
        if period.phases is not None and not 1 <= period.phases <= 3:
            raise ProfileRejected(
                "InvalidSchedule", f"chargingSchedulePeriod[{i}].numberPhases is not 1..3"
            )
