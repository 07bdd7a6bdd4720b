"""What the charge point stack needs from its surroundings: time, timers, background work, and a
link to the CSMS — as small interfaces, so the stack itself imports no event loop.

- ``Clock``: wall time (UTC; the stack moves it with the CSMS's ``currentTime``) and monotonic
  time for intervals;
- ``Scheduler``: ``call_later(delay, callback)``, ``spawn(coroutine)``, ``drain()`` and
  ``lock()`` (the stack serialises its changes of transactions with it);
- ``Link``: ``await link.call(request)`` to the CSMS; ``NotConnectedError`` when offline.

``ocppkit.chargepoint.asyncio_runtime`` binds them to asyncio and ``OcppClient``;
``ManualClock`` here is the fake for tests: time moves only when the test says so.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from ocppkit.messages._base import OcppRequest

__all__ = ["Clock", "Handle", "Link", "ManualClock", "Scheduler"]

R = TypeVar("R")


class Handle(Protocol):
    """A scheduled callback."""

    def cancel(self) -> None:
        """Do not run it (no error if it ran already)."""
        ...


class Clock(Protocol):
    """Time as the stack sees it."""

    def now(self) -> datetime:
        """The current wall-clock time, aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (for intervals)."""
        ...

    def set_time(self, now: datetime) -> None:
        """Set the wall clock (from the CSMS's ``currentTime``); monotonic time is unaffected."""
        ...


class Scheduler(Protocol):
    """Timers and background work."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        """Run ``callback()`` after ``delay`` seconds of monotonic time."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` in the background; its exceptions are logged, never raised."""
        ...

    async def drain(self) -> None:
        """Wait until the background work started so far (and what it starts) has ended."""
        ...

    def lock(self) -> AbstractAsyncContextManager[Any]:
        """A new lock (``async with lock:``): one holder at a time, not re-entrant."""
        ...


class Link(Protocol):
    """The connection to the CSMS, as the stack uses it."""

    @property
    def connected(self) -> bool:
        """True while a websocket to the CSMS is open."""
        ...

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        """Send a CALL; raises ``NotConnectedError`` when offline, ``CallError`` for a
        CALLERROR, ``CallTimeoutError`` without an answer in time."""
        ...


class _ManualHandle:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """``Clock`` + the timer half of ``Scheduler`` for tests: ``advance(seconds)`` moves both
    clocks and runs the callbacks that fall due, in time order."""

    def __init__(self, start: datetime | None = None) -> None:
        self._wall = start or datetime(2025, 1, 1, tzinfo=UTC)
        self._mono = 0.0
        self._timers: list[tuple[float, int, _ManualHandle]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        """The fake wall clock."""
        return self._wall

    def monotonic(self) -> float:
        """The fake monotonic clock."""
        return self._mono

    def set_time(self, now: datetime) -> None:
        """Set the wall clock."""
        self._wall = now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        """Schedule ``callback`` ``delay`` seconds from now."""
        handle = _ManualHandle(self._mono + max(delay, 0.0), callback)
        heapq.heappush(self._timers, (handle.when, next(self._seq), handle))
        return handle

    def pending(self) -> int:
        """Timers scheduled and not cancelled."""
        return sum(1 for _, _, h in self._timers if not h.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, running due callbacks at their own time."""
        end = self._mono + seconds
        while self._timers and self._timers[0][0] <= end:
            when, _, handle = heapq.heappop(self._timers)
            if handle.cancelled:
                continue
            self._step_to(when)
            handle.callback()
        self._step_to(end)

    def _step_to(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += timedelta(seconds=mono - self._mono)
            self._mono = mono
