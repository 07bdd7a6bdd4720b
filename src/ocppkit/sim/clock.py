"""Simulated time: the charge point stack's ``Clock`` and ``Scheduler`` running ``speed`` times
faster than the event loop, from a common start for the whole fleet.

Every interval the stack keeps (heartbeats, meter samples, ConnectionTimeOut, smart charging
periods) is in simulated seconds, so at ``speed = 60`` a 60-second MeterValueSampleInterval
passes in one real second. The simulated clock does not follow the CSMS's ``currentTime``
(it would be pulled back to real time at every heartbeat): ``set_time`` is ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ocppkit.chargepoint.asyncio_runtime import AsyncioRuntime
from ocppkit.chargepoint.runtime import Handle

__all__ = ["SimTime", "SimRuntime"]


class SimTime:
    """The fleet's simulated time: ``start`` plus ``speed`` × the loop time since creation."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start = start
        self.speed = speed
        self._origin = time.monotonic()  # the clock of asyncio's loop
        self._frozen: float | None = None

    def elapsed(self) -> float:
        """Simulated seconds since the start (fixed once ``freeze`` was called)."""
        if self._frozen is not None:
            return self._frozen
        return (time.monotonic() - self._origin) * self.speed

    def freeze(self) -> None:
        """The run ended: simulated time stops here."""
        self._frozen = self.elapsed()

    def now(self) -> datetime:
        """The simulated wall clock."""
        return self.start + timedelta(seconds=self.elapsed())

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


class SimRuntime(AsyncioRuntime):
    """One station's ``Clock`` + ``Scheduler`` on the fleet's ``SimTime``."""

    def __init__(self, time: SimTime) -> None:
        super().__init__()
        self.time = time

    def now(self) -> datetime:
        """Simulated time."""
        return self.time.now()

    def monotonic(self) -> float:
        """Simulated seconds since the fleet started."""
        return self.time.elapsed()

    def set_time(self, now: datetime) -> None:
        """Ignored: simulated time runs on its own (see the module docstring)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        """After ``delay`` simulated seconds."""
        return asyncio.get_running_loop().call_later(max(delay, 0.0) / self.time.speed, callback)
