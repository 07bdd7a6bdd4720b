"""A brute-force reference for the composite schedule: the limit of one second, from the rules
as the specification states them, with none of ``composite``'s cutting into pieces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from ocppkit.smartcharging import Electrical, Profile, Running
from ocppkit.smartcharging.model import DAY, WEEK, RateUnit

Hit = tuple[float, RateUnit, int | None]  # limit, unit, numberPhases


def period_at(profile: Profile, t: datetime, anchor: datetime) -> Hit | None:
    """The period of ``profile`` in force at ``t``, or None when it does not cover ``t``."""
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
    if not chosen:
        return None
    return chosen[-1].limit, profile.schedule.unit, chosen[-1].phases


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
    """The limit of ``connector`` (0: the station) at ``t``, in ``unit``."""
    el = electrical

    def amps(hit: Hit, phases: int) -> float:
        return hit[0] if hit[1] == "A" else hit[0] / (el.voltage * phases)

    def best(candidates: list[Profile], anchor: datetime) -> Hit | None:
        found = [(p.stack_level, h) for p in candidates if (h := period_at(p, t, anchor))]
        if not found:
            return None
        top = max(level for level, _ in found)
        tied = [h for level, h in found if level == top]
        return min(tied, key=lambda h: amps(h, h[2] or el.phases))

    def in_unit(a: float, phases: int) -> float:
        return a if unit == "A" else a * el.voltage * phases

    station = [p for p in profiles if p.purpose == "StationMax"]
    cap = best(station, origin)

    def own(n: int, caps: list[Hit]) -> tuple[float, int]:
        tx = running.get(n)
        anchor = tx.start if tx else origin
        winner = None
        if tx is not None:
            mine = [
                p
                for p in profiles
                if p.purpose == "Tx"
                and p.connector == n
                and (p.transaction_id is None or p.transaction_id == tx.transaction_id)
            ]
            winner = best(mine, anchor)
        if winner is None:
            on_n = [p for p in profiles if p.purpose == "TxDefault" and p.connector == n]
            if not any(p.is_valid_at(t) for p in on_n):
                on_n = [p for p in profiles if p.purpose == "TxDefault" and p.connector == 0]
            winner = best(on_n, anchor)
        hits = ([winner] if winner else []) + caps
        phases = (hits[0][2] if hits else None) or el.phases
        values = [amps(h, phases) for h in hits]
        if winner is None:
            values.append(el.max_current)
        return min(values), phases

    if connector != 0:
        a, phases = own(connector, [cap] if cap else [])
        return in_unit(a, phases)
    total = sum(in_unit(*own(n, [])) for n in connectors)
    if cap is None:
        return total
    cap_phases = cap[2] or el.phases
    return min(total, in_unit(amps(cap, cap_phases), cap_phases))
