"""One simulated charge point: the real 1.6 stack (``ChargePoint16`` on a ``MemoryStateStore``,
an ``OcppClient``), driven by EVs that arrive, plug, swipe, charge and leave.

Per connector a loop waits for the next arrival (``Scenario.next_arrival``), then runs a session:
plug then swipe (or swipe then plug), a known token or, sometimes, an unknown one (refused: the
EV leaves); while the transaction runs the EV charges at ``min(EV power curve, the limit the
stack applies)`` and the meter is reported every ``tick``; the EV leaves after its dwell time by
swiping again (Local) or unplugging (EVDisconnected). Per station a loop raises faults (a
connector Faulted for a while; its transaction stops) and one drops the network (the websocket is
aborted; the client reconnects and the stack re-sends what is queued). Remote commands are the
stack's to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any, TypeVar

from ocppkit.chargepoint.asyncio_runtime import ClientLink, connected_charge_point, wait_delivered
from ocppkit.chargepoint.state import MemoryStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks, TransactionInfo
from ocppkit.chargepoint.v16.connectors import ConnectorError
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.messages import v16
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import CallError, NotImplementedCallError, NotSupportedError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import OcppClient, ReconnectPolicy
from ocppkit.sim.clock import SimRuntime, SimTime
from ocppkit.sim.ev import Ev
from ocppkit.sim.scenario import Scenario
from ocppkit.sim.stats import FleetStats, TransactionRecord
from ocppkit.smartcharging import ChargingLimit

__all__ = ["SimStation"]

log = logging.getLogger("ocppkit.sim")
R = TypeVar("R")

TICK = 30.0
"""Simulated seconds between two meter reports of a charging EV."""
_FAULTS: tuple[v16.ChargePointErrorCode, ...] = (
    "GroundFailure",
    "HighTemperature",
    "OverCurrentFailure",
    "PowerMeterFailure",
)


class _TimedLink(ClientLink):
    """``ClientLink`` that times every CALL and counts CALLERRORs as protocol errors (but
    NotImplemented / NotSupported: the CSMS lacks an optional feature)."""

    def __init__(self, client: OcppClient, stats: FleetStats) -> None:
        super().__init__(client)
        self.stats = stats

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        started = time.perf_counter()
        try:
            response = await super().call(request, timeout=timeout)
        except (NotImplementedCallError, NotSupportedError):
            raise  # a CSMS without an optional feature (1.6 without the Security Whitepaper)
        except CallError as exc:
            self.stats.error(f"{self.client.identity}: {type(request).__name__}: {exc}")
            raise
        self.stats.call_done(time.perf_counter() - started)
        return response


class _Callbacks(ChargerCallbacks):
    """What the stack tells the simulated hardware."""

    def __init__(self, station: SimStation) -> None:
        self.station = station

    def apply_limit(self, connector_id: int, limit: ChargingLimit) -> None:
        self.station.offered_kw[connector_id] = limit.watts / 1000

    def connection_changed(self, connected: bool) -> None:
        self.station.set_connected(connected)

    def boot_answered(self, status: v16.RegistrationStatus, interval: int) -> None:
        self.station.set_accepted(status == "Accepted")

    def transaction_started(self, tx: TransactionInfo) -> None:
        stats = self.station.stats
        stats.active += 1
        stats.transactions[tx.local_id] = TransactionRecord(
            self.station.identity, tx.connector_id, tx.id_tag, tx.meter_start_wh
        )

    def transaction_updated(self, tx: TransactionInfo) -> None:
        record = self.station.stats.transactions.get(tx.local_id)
        if record is not None and tx.transaction_id is not None:
            record.transaction_id = tx.transaction_id

    def transaction_stopped(self, tx: TransactionInfo) -> None:
        stats = self.station.stats
        stats.active -= 1
        record = stats.transactions.get(tx.local_id)
        if record is not None:
            record.meter_stop_wh = tx.meter_stop_wh
            if tx.transaction_id is not None:
                record.transaction_id = tx.transaction_id


class SimStation:
    """One simulated charge point (see the module docstring)."""

    def __init__(
        self,
        url: str,
        identity: str,
        *,
        connectors: int,
        scenario: Scenario,
        time: SimTime,
        stats: FleetStats,
        seed: int,
        password: str | None = None,
    ) -> None:
        self.identity = identity
        self.scenario = scenario
        self.time = time
        self.stats = stats
        self.rng = random.Random(seed)
        self.connected = self.accepted = False
        self.offered_kw = {n: 22.0 for n in range(connectors + 1)}
        self.register_wh = {
            n: float(self.rng.randrange(0, 5_000_000)) for n in range(1, connectors + 1)
        }
        self.faulted: set[int] = set()
        self.client = OcppClient(
            f"{url.rstrip('/')}/{identity}",
            versions=[OcppVersion.V16],
            password=password,
            reconnect=ReconnectPolicy(wait_minimum=1, random_range=2, repeat_times=5),
            on_frame=self._frame,
            rng=random.Random(seed + 1),
        )
        runtime = SimRuntime(time)
        self.cp = ChargePoint16(
            store=MemoryStateStore(),
            link=_TimedLink(self.client, stats),
            clock=runtime,
            scheduler=runtime,
            vendor="ocppkit",
            model="sim",
            serial_number=identity,
            connectors=connectors,
            callbacks=_Callbacks(self),
            identity=identity,
            config_defaults={
                "MeterValueSampleInterval": str(scenario.meter_interval),
                "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,SoC",
                "ConnectionTimeOut": "120",
            },
        )

    def _frame(self, direction: str, data: bytes | str) -> None:
        self.stats.frames += 1

    def set_connected(self, connected: bool) -> None:
        """Count the station's connection."""
        if connected != self.connected:
            self.stats.connected += 1 if connected else -1
            self.connected = connected
        if not connected:
            self.set_accepted(False)

    def set_accepted(self, accepted: bool) -> None:
        """Count the station's accepted boot."""
        if accepted != self.accepted:
            self.stats.accepted += 1 if accepted else -1
            self.accepted = accepted

    # -- life --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Connect, simulate until ``stop`` is set, then let every EV leave and deliver what is
        queued (10 s at most) before closing."""
        async with connected_charge_point(self.cp, self.client):
            for n, wh in self.register_wh.items():
                self.cp.meter(n, [Reading(wh)])
            loops = [self._connector(n, stop) for n in self.register_wh]
            loops += [self._faults(stop), self._drops(stop)]
            tasks = [asyncio.create_task(loop) for loop in loops]
            try:
                await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._leave()

    async def _leave(self) -> None:
        """The end of the run: stop what charges, give the queue up to 10 s to empty."""
        for n in list(self.cp.transactions.open):
            with contextlib.suppress(Exception):
                await self.cp.stop_transaction(n, "Local")
        await wait_delivered(self.cp, timeout=10)  # a dropped link reconnects meanwhile

    def _hour(self) -> float:
        now = self.time.now()
        return now.hour + now.minute / 60

    async def _connector(self, n: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.time.sleep(self.scenario.next_arrival(self.rng, self._hour()))
            if self.accepted and n not in self.faulted and n not in self.cp.transactions.open:
                try:
                    await self._session(n)
                except Exception as exc:  # a bug of the simulator must not end the run
                    self.stats.error(f"{self.identity}: session on {n} failed: {exc!r}")
                    log.exception("%s: session on connector %d failed", self.identity, n)

    async def _session(self, n: int) -> None:
        s, rng = self.scenario, self.rng
        unknown = rng.random() < s.unknown_token_share
        token = f"UNKNOWN-{rng.randrange(10**6):06d}" if unknown else rng.choice(s.tokens)
        ev = Ev(
            battery_kwh=rng.uniform(*s.battery_kwh),
            soc=rng.uniform(*s.arrival_soc),
            max_kw=rng.choice(s.ev_max_kw),
            target_soc=rng.uniform(0.8, 1.0),
        )
        dwell = rng.uniform(*s.dwell_minutes) * 60
        if rng.random() < s.plug_first_share:
            await self.cp.plug_in(n)
            await self.time.sleep(rng.uniform(5, 60))
            accepted = await self.cp.present_token(token, n)
        else:
            accepted = await self.cp.present_token(token, n)
            await self.time.sleep(rng.uniform(10, 60))
            await self.cp.plug_in(n)
        if not accepted:
            self.stats.refused += 1
            await self.time.sleep(rng.uniform(20, 90))
            await self.cp.plug_out(n)
            return
        self.stats.sessions += 1
        await self._charge(n, ev, dwell)
        if n in self.cp.transactions.open and rng.random() < 0.5:
            await self.cp.present_token(token, n)  # swipe to stop, then unplug
            await self.time.sleep(rng.uniform(10, 60))
        await self.cp.plug_out(n)

    async def _charge(self, n: int, ev: Ev, dwell: float) -> None:
        left, suspended = dwell, False
        while left > 0 and n in self.cp.transactions.open:
            step = min(TICK, left)
            await self.time.sleep(step)
            left -= step
            if n in self.faulted:
                await self.cp.stop_transaction(n, "Other")
                return
            wh = ev.charge(self.offered_kw.get(n, 0.0), step)
            self.register_wh[n] += wh
            self.stats.energy_wh += wh
            power_w = wh * 3600 / step
            self.cp.meter(
                n,
                [
                    Reading(self.register_wh[n]),
                    Reading(power_w, "Power.Active.Import"),
                    Reading(round(ev.soc * 100, 1), "SoC", location="EV"),
                ],
            )
            if (power_w == 0) != suspended:
                suspended = power_w == 0
                self.cp.ev_suspended(n, suspended)

    async def _faults(self, stop: asyncio.Event) -> None:
        s, rng = self.scenario, self.rng
        rate = s.rate_per_second(s.fault_rate_per_day)
        while not stop.is_set() and rate > 0:
            await self.time.sleep(rng.expovariate(rate))
            n = rng.choice(list(self.register_wh))
            code = rng.choice(_FAULTS)
            self.faulted.add(n)
            self.stats.faulted += 1
            self.cp.raise_error(n, ConnectorError(code))
            try:
                await self.time.sleep(rng.uniform(*s.fault_minutes) * 60)
            finally:
                self.cp.clear_error(n, code)
                self.faulted.discard(n)
                self.stats.faulted -= 1

    async def _drops(self, stop: asyncio.Event) -> None:
        s, rng = self.scenario, self.rng
        rate = s.rate_per_second(s.drop_rate_per_day)
        while not stop.is_set() and rate > 0:
            await self.time.sleep(rng.expovariate(rate))
            conn = self.client.connection
            transport: Any = getattr(conn, "transport", None)
            ws = getattr(transport, "ws", None)
            if ws is not None and ws.transport is not None:
                self.stats.drops += 1
                ws.transport.abort()  # a network drop: no closing handshake
