"""A brute-force reference for the composite schedule: the limit of one second, from the rules
as the specification states them, with none of ``composite``'s cutting into pieces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from ocppkit.smartcharging import Electrical, Profile, Running
from ocppkit.smartcharging.model import DAY, WEEK, RateUnit


def period_limit(
    profile: Profile, t: datetime, anchor: datetime
) -> tuple[float, int | None] | None:
    """(limit, phases) of ``profile`` at ``t``, or None when it does not cover ``t``."""
    if profile.valid_from is not None and t < profile.valid_from:
        return None
    if profile.valid_to is not None and t >= profile.valid_to:
        return None
    start = profile.schedule.start
    if profile.kind == "Relative":
        origin = anchor
    elif start is None:
        return None
    elif profile.kind == "Absolute":
        origin = start
    else:
        step = timedelta(seconds=WEEK if profile.recurrency == "Weekly" else DAY)
        origin = start
        while origin + step <= t:
            origin += step
    if t < origin:
        return None
    offset = (t - origin).total_seconds()
    if profile.schedule.duration is not None and offset >= profile.schedule.duration:
        return None
    chosen = [p for p in profile.schedule.periods if p.start <= offset]
    return (chosen[-1].limit, chosen[-1].phases) if chosen else None


def reference_limit(
    profiles: Sequence[Profile],
    connector: int,
    t: datetime,
    *,
    origin: datetime,
    unit: RateUnit,
    electrical: Electrical,
    running: Mapping[int, Running],
    connectors: Sequence[int],
) -> float:
    """The limit of ``connector`` (0: the station) at ``t``."""

    def best(candidates: list[Profile], anchor: datetime) -> float | None:
        found: list[tuple[int, float]] = []
        for profile in candidates:
            hit = period_limit(profile, t, anchor)
            if hit is not None:
                value = electrical.convert(hit[0], profile.schedule.unit, unit, hit[1])
                found.append((profile.stack_level, value))
        if not found:
            return None
        top = max(level for level, _ in found)
        return min(value for level, value in found if level == top)

    def own(n: int) -> float:
        tx = running.get(n)
        anchor = tx.start if tx else origin
        limit = None
        if tx is not None:
            mine = [
                p
                for p in profiles
                if p.purpose == "Tx"
                and p.connector == n
                and (p.transaction_id is None or p.transaction_id == tx.transaction_id)
            ]
            limit = best(mine, anchor)
        if limit is None:
            on_n = [p for p in profiles if p.purpose == "TxDefault" and p.connector == n]
            if not any(p.is_valid_at(t) for p in on_n):
                on_n = [p for p in profiles if p.purpose == "TxDefault" and p.connector == 0]
            limit = best(on_n, anchor)
        hardware = electrical.convert(electrical.max_current, "A", unit, None)
        return hardware if limit is None else limit

    station = [p for p in profiles if p.purpose == "StationMax"]
    cap = best(station, origin)
    value = sum(own(n) for n in connectors) if connector == 0 else own(connector)
    return value if cap is None else min(cap, value)
