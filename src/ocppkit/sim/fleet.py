"""A fleet of simulated charge points in one process: started at a given rate, run for a while,
then every EV leaves and the stations close.

::

    fleet = Fleet("ws://127.0.0.1:9000", stations=100, scenario=Scenario(speed=60), seed=7)
    stats = await fleet.run(duration=120)        # real seconds
    print(stats.figures())

Identities are ``<prefix>-0001`` … (wider when needed). Station ``i``'s decisions come from
``random.Random(seed * 1_000_003 + i)``, so runs with the same seed decide the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ocppkit.sim.clock import SimTime
from ocppkit.sim.scenario import Scenario
from ocppkit.sim.station import SimStation
from ocppkit.sim.stats import FleetStats

__all__ = ["Fleet"]

log = logging.getLogger("ocppkit.sim")


class _ProtocolErrors(logging.Handler):
    """Counts the protocol layer's warnings (a peer's bad frame, a CALLERROR to our answer…)."""

    def __init__(self, stats: FleetStats) -> None:
        super().__init__(logging.WARNING)
        self.stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        self.stats.error(record.getMessage())


class Fleet:
    """Many ``SimStation``s against one CSMS URL."""

    def __init__(
        self,
        url: str,
        *,
        stations: int,
        connectors: int = 2,
        scenario: Scenario | None = None,
        seed: int = 1,
        password: str | None = None,
        prefix: str = "SIM",
        connect_rate: float = 50.0,
        start: datetime | None = None,
    ) -> None:
        if stations < 1 or connectors < 1:
            raise ValueError("at least one station with one connector")
        self.url = url
        self.count = stations
        self.connectors = connectors
        self.scenario = scenario or Scenario()
        self.seed = seed
        self.password = password
        self.prefix = prefix
        self.connect_rate = connect_rate
        self.start = start or datetime.now(UTC).replace(microsecond=0)
        self.stats = FleetStats(stations=stations)
        self.time: SimTime | None = None
        self.stations: list[SimStation] = []
        self._stop = asyncio.Event()

    def identity(self, index: int) -> str:
        """The identity of station ``index`` (1-based)."""
        return f"{self.prefix}-{index:0{max(4, len(str(self.count)))}d}"

    def stop(self) -> None:
        """End the run (from a signal handler or another task)."""
        self._stop.set()

    async def run(
        self, duration: float | None = None, on_tick: Callable[[Fleet], None] | None = None
    ) -> FleetStats:
        """Run until ``duration`` real seconds passed (None: until ``stop``); ``on_tick`` is
        called about once a second (the live view)."""
        self.time = SimTime(self.start, self.scenario.speed)
        protocol_log = logging.getLogger("ocppkit.protocol")
        errors = _ProtocolErrors(self.stats)
        protocol_log.addHandler(errors)
        tasks: list[asyncio.Task[None]] = []
        try:
            starter = asyncio.create_task(self._start_all(tasks))
            ticker = asyncio.create_task(self._tick(on_tick))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
            self._stop.set()
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter
            await asyncio.gather(*tasks, return_exceptions=True)
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.time.freeze()
            if on_tick is not None:
                on_tick(self)
        finally:
            protocol_log.removeHandler(errors)
        return self.stats

    async def _start_all(self, tasks: list[asyncio.Task[None]]) -> None:
        assert self.time is not None
        for i in range(1, self.count + 1):
            station = SimStation(
                self.url,
                self.identity(i),
                connectors=self.connectors,
                scenario=self.scenario,
                time=self.time,
                stats=self.stats,
                seed=self.seed * 1_000_003 + i,
                password=self.password,
            )
            self.stations.append(station)
            tasks.append(asyncio.create_task(self._guarded(station)))
            self.stats.started += 1
            if self.connect_rate > 0:
                await asyncio.sleep(1 / self.connect_rate)  # the ramp-up pace (real time)

    async def _guarded(self, station: SimStation) -> None:
        try:
            await station.run(self._stop)
        except Exception as exc:
            self.stats.error(f"{station.identity}: {exc!r}")
            log.exception("%s failed", station.identity)

    async def _tick(self, on_tick: Callable[[Fleet], None] | None) -> None:
        while on_tick is not None:
            on_tick(self)
            await asyncio.sleep(1)  # the live view's refresh period
