"""What the fleet counts: stations by state, transactions, energy, messages, CALL latency,
errors — updated by the stations, read by the live view and the summary."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FleetStats", "TransactionRecord"]


@dataclass
class TransactionRecord:
    """One transaction as the simulator saw it."""

    station: str
    connector: int
    id_tag: str
    meter_start_wh: int
    transaction_id: int | None = None
    meter_stop_wh: int | None = None


@dataclass
class FleetStats:
    """Counters of one run."""

    stations: int = 0
    started: int = 0
    connected: int = 0
    accepted: int = 0
    faulted: int = 0
    active: int = 0
    sessions: int = 0
    refused: int = 0
    drops: int = 0
    energy_wh: float = 0.0
    frames: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))
    transactions: dict[str, TransactionRecord] = field(default_factory=dict)
    _rate_mark: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0))

    def error(self, text: str) -> None:
        """A protocol error (the run's exit status is non-zero when there was one)."""
        if len(self.errors) < 1000:
            self.errors.append(text)

    def call_done(self, seconds: float) -> None:
        """One CALL to the CSMS answered after ``seconds`` (real time)."""
        self.calls += 1
        self.latencies.append(seconds)

    def latencies_ms(self, *quantiles: float) -> list[float | None]:
        """Quantiles of the recent CALL latencies in ms, from one sort (None: no CALL yet)."""
        if not self.latencies:
            return [None] * len(quantiles)
        ordered = sorted(self.latencies)
        return [ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in quantiles]

    def frames_per_second(self) -> float:
        """Frames in and out per second since the last call of this method."""
        now = time.monotonic()
        then, count = self._rate_mark
        self._rate_mark = (now, self.frames)
        return (self.frames - count) / (now - then) if now > then else 0.0

    def figures(self) -> dict[str, Any]:
        """The machine-readable figures (``--json``)."""
        stopped = [t for t in self.transactions.values() if t.meter_stop_wh is not None]
        p50, p99 = self.latencies_ms(0.5, 0.99)
        return {
            "stations": self.stations,
            "connected": self.connected,
            "accepted": self.accepted,
            "faulted": self.faulted,
            "active_transactions": self.active,
            "sessions": self.sessions,
            "transactions_started": len(self.transactions),
            "transactions_stopped": len(stopped),
            "refused_tokens": self.refused,
            "network_drops": self.drops,
            "energy_kwh": round(self.energy_wh / 1000, 3),
            "frames": self.frames,
            "calls": self.calls,
            "call_latency_ms_p50": p50,
            "call_latency_ms_p99": p99,
            "errors": len(self.errors),
        }
