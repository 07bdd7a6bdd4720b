"""The scenario's knobs and models: TOML loading, the daily arrival profile, the EV's taper, and
simulated time."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocppkit.sim.clock import SimRuntime, SimTime
from ocppkit.sim.ev import Ev
from ocppkit.sim.scenario import Scenario, default_tokens, load_scenario


def test_toml_knobs_override_the_defaults_and_bad_ones_are_named(tmp_path: Path) -> None:
    path = tmp_path / "busy.toml"
    path.write_text(
        'speed = 120\nsessions_per_day = 48\ntokens = ["A", "B"]\nmeter_interval = 30\n'
    )
    scenario = load_scenario(path)
    assert (scenario.speed, scenario.sessions_per_day, scenario.tokens) == (120.0, 48.0, ("A", "B"))
    assert scenario.meter_interval == 30
    assert load_scenario(path, speed=2.0, sessions_per_day=None).speed == 2.0
    assert load_scenario(None) == Scenario()
    assert Scenario().tokens == tuple(default_tokens())
    path.write_text("sessions_per_hour = 3\n")
    with pytest.raises(ValueError, match="sessions_per_hour"):
        load_scenario(path)
    path.write_text("speed = 0\n")
    with pytest.raises(ValueError, match="speed"):
        load_scenario(path)
    path.write_text("tokens = []\n")
    with pytest.raises(ValueError, match="tokens"):
        load_scenario(path)


def test_arrivals_average_the_daily_count_and_peak_at_the_peak_hours() -> None:
    scenario = Scenario(sessions_per_day=24, peak_hours=(8, 18))
    per_day = sum(scenario.arrival_rate(h / 10) * 360 for h in range(240))
    assert per_day == pytest.approx(24, rel=0.02)
    assert scenario.arrival_rate(8) > 3 * scenario.arrival_rate(3)
    assert scenario.arrival_rate(18) == pytest.approx(scenario.arrival_rate(8), rel=0.05)
    rng = random.Random(5)
    waits = [scenario.next_arrival(rng, 8.0) for _ in range(2000)]
    assert sum(waits) / len(waits) == pytest.approx(1 / scenario.arrival_rate(8), rel=0.1)


def test_an_ev_takes_what_is_offered_up_to_its_charger_and_tapers_above_80_percent() -> None:
    ev = Ev(battery_kwh=50, soc=0.5, max_kw=11)
    assert ev.power_kw(22) == 11
    assert ev.power_kw(7.4) == 7.4
    wh = ev.charge(22, 3600)
    assert wh == pytest.approx(11_000)
    assert ev.soc == pytest.approx(0.72)
    ev.soc = 0.9
    assert ev.power_kw(22) == pytest.approx(11 * 0.5)
    ev.soc = 0.999
    assert ev.power_kw(22) == pytest.approx(11 * 0.05)
    full = Ev(battery_kwh=50, soc=0.85, max_kw=11, target_soc=0.85)
    assert full.power_kw(22) == 0
    assert full.charge(22, 600) == 0


def test_simulated_time_runs_speed_times_faster_and_ignores_the_csms_clock() -> None:
    async def main() -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        time = SimTime(start, speed=3600)
        runtime = SimRuntime(time)
        fired = asyncio.Event()
        runtime.call_later(1800, fired.set)  # half a simulated hour: 0.5 s of real time
        await asyncio.wait_for(fired.wait(), 5)
        assert runtime.monotonic() >= 1800
        assert runtime.now() >= start + timedelta(seconds=1800)
        time.freeze()
        frozen = runtime.now()
        assert time.elapsed() == time.elapsed()
        for csms_time in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)):
            runtime.set_time(csms_time)  # the CSMS's currentTime moves neither way
            assert runtime.now() == frozen

    asyncio.run(main())
