"""The composite schedule: which limit applies to a connector, second by second, and why.

Per connector *e* and instant *t* (``../shared/ocpp-reference/smart-charging.md`` §5):

1. each profile is placed in time — Absolute from its ``startSchedule``, Recurring from the
   latest daily / weekly repetition of it that began at or before *t* (nothing before the first
   one: a start in the future takes effect from that moment), Relative from the start of the
   transaction on *e* (without one, from the start of the computation: "as if a transaction
   started now", 2.0.1 K08.FR.06); it *covers* *t* when it is valid then (``validFrom <= t <
   validTo``), *t* is not before its start nor at or after ``start + duration``;
2. within a purpose the covering profile with the highest stack level wins (equal levels: the
   lower limit);
3. a Tx winner (only for the transaction running on *e*, and only when its ``transactionId`` is
   that transaction's or unset) overrides the TxDefault winner; TxDefault profiles installed on
   *e* and valid at *t* hide those on connector 0 (1.6 §3.13.2);
4. the limit is the minimum of the Tx/TxDefault winner, the ExternalConstraints winners and the
   StationMax winner. Amperes are per phase and watts are a total, so they are compared as
   amperes per phase on the phases *in use*: the first winner's ``numberPhases`` (Tx/TxDefault,
   then external, then the caps; absent means the default, 3 on AC). Without a Tx/TxDefault
   winner the hardware maximum (``Electrical.max_current``, no source) fills the gap, still
   capped by the others.

Connector 0 is the whole station: the sum of every connector's own limit (1–4 without the
station's caps; in A the per-phase currents add up, in W the powers), capped by the StationMax /
ExternalConstraints winners on 0.

The schedule is computed by cutting the horizon at every instant where some candidate changes
(validity bounds, each repetition's start and end, each period's start) and evaluating each piece
once; times are whole seconds on the wire, so the start is truncated to the second and change
points are rounded up to the next whole second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ocppkit.smartcharging.model import (
    DAY,
    WEEK,
    CompositePeriod,
    CompositeSchedule,
    Electrical,
    Period,
    Profile,
    RateUnit,
    Running,
    Source,
)

__all__ = ["composite_schedule", "limit_at", "next_change"]


@dataclass(frozen=True, slots=True)
class _Hit:
    """A winning profile's period: its limit as written, and who set it."""

    limit: float
    unit: RateUnit
    phases: int | None
    source: Source


@dataclass(frozen=True, slots=True)
class _Amps:
    amps: float
    phases: int
    source: Source | None


@dataclass(frozen=True, slots=True)
class _Limit:
    value: float
    phases: int
    source: Source | None


def _origin(profile: Profile, when: datetime, anchor: datetime) -> datetime | None:
    """Where the profile's schedule starts for the occurrence covering ``when`` (None: none)."""
    schedule = profile.schedule
    if profile.kind == "Relative":
        return anchor
    if schedule.start is None:
        return None
    if profile.kind == "Absolute":
        return schedule.start
    every = WEEK if profile.recurrency == "Weekly" else DAY
    if when < schedule.start:
        return schedule.start
    elapsed = (when - schedule.start).total_seconds()
    return schedule.start + timedelta(seconds=every * math.floor(elapsed / every))


def _period(profile: Profile, when: datetime, anchor: datetime) -> Period | None:
    """The profile's period in force at ``when`` (None: the profile does not cover it)."""
    if not profile.is_valid_at(when):
        return None
    origin = _origin(profile, when, anchor)
    if origin is None or when < origin:
        return None
    offset = (when - origin).total_seconds()
    duration = profile.schedule.duration
    if duration is not None and offset >= duration:
        return None
    current = None
    for period in profile.schedule.periods:
        if period.start > offset:
            break
        current = period
    return current


class _Evaluator:
    """Evaluates limits for one set of profiles, transactions and settings."""

    def __init__(
        self,
        profiles: Iterable[Profile],
        *,
        unit: RateUnit,
        electrical: Electrical | None,
        running: Mapping[int, Running] | None,
        connectors: Sequence[int],
        origin: datetime,
    ) -> None:
        self.profiles = list(profiles)
        self.unit = unit
        self.electrical = electrical or Electrical()
        self.running = running or {}
        self.connectors = connectors
        self.origin = origin  # Relative profiles without a transaction start here

    def _anchor(self, connector: int) -> datetime:
        running = self.running.get(connector)
        return running.start if running is not None else self.origin

    def _applies(self, profile: Profile, connector: int) -> bool:
        """Is the profile a candidate for ``connector`` at all (step 3's Tx rule)?"""
        if profile.purpose == "Tx":
            running = self.running.get(connector)
            return (
                profile.connector == connector
                and running is not None
                and running.may_own(profile.transaction_id)
            )
        if profile.purpose == "TxDefault":
            return profile.connector in (0, connector)
        return profile.connector == connector  # StationMax / ExternalConstraints

    def candidates(self, connector: int) -> list[Profile]:
        """The profiles that may set ``connector``'s own limit (on 0: the station cap too)."""
        return [p for p in self.profiles if self._applies(p, connector)]

    def _winner(self, profiles: list[Profile], when: datetime, anchor: datetime) -> _Hit | None:
        """The covering profile of the highest stack level (equal levels: the lower limit)."""
        best: tuple[int, float] | None = None
        chosen: _Hit | None = None
        for profile in profiles:
            period = _period(profile, when, anchor)
            if period is None:
                continue
            hit = _Hit(
                period.limit,
                profile.schedule.unit,
                period.phases,
                Source(profile.id, profile.purpose, profile.stack_level, profile.connector),
            )
            key = (-profile.stack_level, self._amps(hit, period.phases))
            if best is None or key < best:
                best, chosen = key, hit
        return chosen

    def _amps(self, hit: _Hit, phases: int | None) -> float:
        """A limit as amperes per phase when ``phases`` are in use."""
        return self.electrical.convert(hit.limit, hit.unit, "A", phases)

    def _own(self, connector: int, when: datetime) -> tuple[_Hit | None, _Hit | None]:
        """The connector's Tx/TxDefault winner and its ExternalConstraints winner."""
        anchor = self._anchor(connector)
        mine = self.candidates(connector)
        tx = self._winner([p for p in mine if p.purpose == "Tx"], when, anchor)
        if tx is None:
            defaults = [p for p in mine if p.purpose == "TxDefault"]
            if any(p.connector == connector and p.is_valid_at(when) for p in defaults):
                defaults = [p for p in defaults if p.connector == connector]
            tx = self._winner(defaults, when, anchor)
        external = self._winner(
            [p for p in mine if p.purpose == "ExternalConstraints"], when, anchor
        )
        return tx, external

    def _caps(self, when: datetime) -> list[_Hit]:
        """The StationMax and ExternalConstraints winners on connector 0."""
        station = [p for p in self.profiles if p.connector == 0]
        found = [
            self._winner([p for p in station if p.purpose == purpose], when, self.origin)
            for purpose in ("StationMax", "ExternalConstraints")
        ]
        return [hit for hit in found if hit is not None]

    def _connector(self, connector: int, when: datetime, caps: list[_Hit]) -> _Amps:
        """One connector's limit under ``caps``: the phases in use are the first winner's
        (Tx/TxDefault, then external, then the caps; a period without numberPhases means the
        default); the hardware maximum fills a gap in the Tx/TxDefault layer."""
        tx, external = self._own(connector, when)
        hits = [hit for hit in (tx, external, *caps) if hit is not None]
        phases = (hits[0].phases if hits else None) or self.electrical.phases
        options: list[tuple[float, Source | None]] = [
            (self._amps(hit, phases), hit.source) for hit in hits
        ]
        if tx is None:
            options.append((self.electrical.max_current, None))
        amps, source = min(options, key=lambda option: option[0])
        return _Amps(amps, phases, source)

    def _value(self, amps: float, phases: int) -> float:
        return amps if self.unit == "A" else self.electrical.watts(amps, phases)

    def limit(self, connector: int, when: datetime) -> _Limit:
        """The limit of ``connector`` (0: the station's total) at ``when``, in ``unit``."""
        caps = self._caps(when)
        if connector != 0:
            own = self._connector(connector, when, caps)
            return _Limit(self._value(own.amps, own.phases), own.phases, own.source)
        parts = [self._connector(n, when, []) for n in self.connectors]
        if not parts:
            parts = [_Amps(self.electrical.max_current, self.electrical.phases, None)]
        total = _Limit(
            sum(self._value(p.amps, p.phases) for p in parts),
            max(p.phases for p in parts),
            parts[0].source if len(parts) == 1 else None,
        )
        if not caps:
            return total
        phases = caps[0].phases or self.electrical.phases
        cap = min(caps, key=lambda hit: self._amps(hit, phases))
        capped = _Limit(self._value(self._amps(cap, phases), phases), phases, cap.source)
        return capped if capped.value < total.value else total

    def change_points(self, connector: int, start: datetime, end: datetime) -> list[datetime]:
        """Every instant in (``start``, ``end``) where a candidate may change."""
        ids = list(self.connectors) if connector == 0 else [connector]
        profiles = {id(p): p for n in [*ids, 0] for p in self.candidates(n)}
        points: set[datetime] = set()
        anchors = {self._anchor(n) for n in ids} | {self.origin}
        for profile in profiles.values():
            points.update(_profile_points(profile, start, end, anchors))
        return sorted(t for t in points if start < t < end)


def _profile_points(
    profile: Profile, start: datetime, end: datetime, anchors: set[datetime]
) -> Iterable[datetime]:
    """The instants where ``profile`` starts or stops covering, or changes period."""
    for bound in (profile.valid_from, profile.valid_to):
        if bound is not None:
            yield bound
    schedule = profile.schedule
    origins: list[datetime] = []
    if profile.kind == "Relative":
        origins = sorted(anchors)
    elif schedule.start is not None and profile.kind == "Absolute":
        origins = [schedule.start]
    elif schedule.start is not None:
        every = timedelta(seconds=WEEK if profile.recurrency == "Weekly" else DAY)
        origin = _origin(profile, start, start) or schedule.start
        while origin < end:
            origins.append(origin)
            origin += every
    for origin in origins:
        yield origin
        for period in schedule.periods:
            yield origin + timedelta(seconds=period.start)
        if schedule.duration is not None:
            yield origin + timedelta(seconds=schedule.duration)


def _whole_second(when: datetime) -> datetime:
    """``when`` rounded up to a whole second."""
    if when.microsecond == 0:
        return when
    return when.replace(microsecond=0) + timedelta(seconds=1)


def composite_schedule(
    profiles: Iterable[Profile],
    connector: int,
    start: datetime,
    duration: int,
    *,
    unit: RateUnit = "A",
    electrical: Electrical | None = None,
    running: Mapping[int, Running] | None = None,
    connectors: Sequence[int] = (),
) -> CompositeSchedule:
    """The limits of ``connector`` (0: the station; ``connectors`` lists the ids to sum) from
    ``start`` (truncated to the second) for ``duration`` seconds, in ``unit``, given the
    installed ``profiles`` and the transactions ``running`` per connector."""
    start = start.replace(microsecond=0)
    end = start + timedelta(seconds=duration)
    ev = _Evaluator(
        profiles,
        unit=unit,
        electrical=electrical,
        running=running,
        connectors=connectors,
        origin=start,
    )
    cuts = sorted({start, *(_whole_second(t) for t in ev.change_points(connector, start, end))})
    periods: list[CompositePeriod] = []
    for cut in cuts:
        if cut >= end:
            break
        limit = ev.limit(connector, cut)
        if periods and (periods[-1].limit, periods[-1].phases, periods[-1].source) == (
            limit.value,
            limit.phases,
            limit.source,
        ):
            continue
        offset = int((cut - start).total_seconds())
        periods.append(CompositePeriod(offset, limit.value, limit.phases, limit.source))
    return CompositeSchedule(connector, start, duration, unit, tuple(periods))


def limit_at(
    profiles: Iterable[Profile],
    connector: int,
    when: datetime,
    *,
    unit: RateUnit = "A",
    electrical: Electrical | None = None,
    running: Mapping[int, Running] | None = None,
    connectors: Sequence[int] = (),
) -> CompositePeriod:
    """The limit of ``connector`` at the instant ``when`` (its ``start`` is 0)."""
    ev = _Evaluator(
        profiles,
        unit=unit,
        electrical=electrical,
        running=running,
        connectors=connectors,
        origin=when,
    )
    limit = ev.limit(connector, when)
    return CompositePeriod(0, limit.value, limit.phases, limit.source)


def next_change(
    profiles: Iterable[Profile],
    connectors: Sequence[int],
    after: datetime,
    horizon: timedelta,
    *,
    running: Mapping[int, Running] | None = None,
) -> datetime | None:
    """The first instant after ``after`` (within ``horizon``) where any connector's limit may
    change; None when nothing changes within the horizon."""
    ev = _Evaluator(
        profiles, unit="A", electrical=None, running=running, connectors=connectors, origin=after
    )
    points = ev.change_points(0, after, after + horizon)
    return points[0] if points else None
