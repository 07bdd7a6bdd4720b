"""Sharing a station's cap between its charging connectors (water-filling).

A StationMax limit caps the *sum* of the connectors, while each connector's composite limit is
computed alone. ``share_cap`` splits the cap: a connector that wants no more than an equal share
gets what it wants, and what it leaves is shared equally by the others, until every connector
is either satisfied or at the common level.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["share_cap"]


def share_cap(cap: float, wanted: Mapping[int, float]) -> dict[int, float]:
    """Per connector, at most ``wanted[n]``, summing to at most ``cap`` (the same unit:
    amperes per phase or watts), the cap's leftovers shared equally."""
    shares: dict[int, float] = {}
    left, open_ = max(cap, 0.0), dict(wanted)
    while open_:
        fair = left / len(open_)
        small = {n: w for n, w in open_.items() if w <= fair}
        if not small:
            shares.update({n: fair for n in open_})
            break
        for n, w in small.items():
            shares[n] = max(w, 0.0)
            left -= shares[n]
            del open_[n]
    return shares
