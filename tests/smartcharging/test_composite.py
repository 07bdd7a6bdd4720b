"""The composite schedule: worked examples, then hypothesis against the brute-force reference."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ocppkit.smartcharging import (
    CompositePeriod,
    Electrical,
    Period,
    Profile,
    Running,
    Schedule,
    Source,
    composite_schedule,
    limit_at,
    next_change,
)
from ocppkit.smartcharging.model import DAY, Kind, Purpose, RateUnit
from tests.smartcharging.reference import reference_limit

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
EL = Electrical(voltage=230.0, phases=3, max_current=32.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(
    pid: int,
    purpose: Purpose,
    periods: list[tuple[int, float]],
    *,
    level: int = 0,
    connector: int = 0,
    kind: Kind = "Absolute",
    start: datetime | None = T0,
    duration: int | None = None,
    unit: RateUnit = "A",
    recurrency: str | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    phases: int | None = None,
    transaction_id: int | None = None,
) -> Profile:
    return Profile(
        id=pid,
        stack_level=level,
        purpose=purpose,
        kind=kind,
        connector=connector,
        recurrency=recurrency,  # type: ignore[arg-type]
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
        schedule=Schedule(
            unit=unit,
            periods=tuple(Period(s, limit, phases) for s, limit in periods),
            start=None if kind == "Relative" else start,
            duration=duration,
        ),
    )


def limits(schedule_periods: tuple[CompositePeriod, ...]) -> list[tuple[int, float]]:
    return [(p.start, round(p.limit, 3)) for p in schedule_periods]


# -- worked examples ------------------------------------------------------------------------------
def test_no_profile_gives_the_hardware_maximum_without_a_source() -> None:
    out = composite_schedule([], 1, T0, 3600, electrical=EL, connectors=(1,))
    assert out.periods == (CompositePeriod(0, 32.0, 3, None),)


def test_the_highest_stack_level_wins_and_lower_levels_show_through_after_it_ends() -> None:
    low = profile(1, "TxDefault", [(0, 16.0)], level=0)
    high = profile(2, "TxDefault", [(0, 10.0), (600, 20.0)], level=3, duration=1200)
    out = composite_schedule([low, high], 1, T0, 3600, electrical=EL)
    assert limits(out.periods) == [(0, 10.0), (600, 20.0), (1200, 16.0)]
    assert [p.source.profile_id if p.source else None for p in out.periods] == [2, 2, 1]
    assert out.periods[0].source == Source(2, "TxDefault", 3, 0)


def test_a_tx_profile_overrides_tx_default_even_when_higher() -> None:
    default = profile(1, "TxDefault", [(0, 10.0)], level=5)
    tx = profile(2, "Tx", [(0, 24.0)], level=0, connector=1, kind="Relative", duration=600)
    running = {1: Running(at(-300), 77)}
    out = composite_schedule([default, tx], 1, T0, 1800, electrical=EL, running=running)
    # relative from the transaction's start 300 s ago: 300 s of Tx left, then TxDefault
    assert limits(out.periods) == [(0, 24.0), (300, 10.0)]
    # without a transaction the Tx profile does not apply: computed as if one started now
    idle = composite_schedule([default, tx], 1, T0, 1800, electrical=EL)
    assert limits(idle.periods) == [(0, 10.0)]


def test_a_tx_profile_of_another_transaction_does_not_apply() -> None:
    tx = profile(2, "Tx", [(0, 6.0)], connector=1, transaction_id=5)
    out = composite_schedule([tx], 1, T0, 60, electrical=EL, running={1: Running(T0, 6)})
    assert limits(out.periods) == [(0, 32.0)]


def test_station_max_caps_every_connector_and_the_station_total() -> None:
    cap = profile(1, "StationMax", [(0, 40.0), (900, 20.0)])
    default = profile(2, "TxDefault", [(0, 32.0)])
    both = (1, 2)
    one = composite_schedule([cap, default], 1, T0, 1800, electrical=EL, connectors=both)
    assert limits(one.periods) == [(0, 32.0), (900, 20.0)]
    total = composite_schedule([cap, default], 0, T0, 1800, electrical=EL, connectors=both)
    assert limits(total.periods) == [(0, 40.0), (900, 20.0)]
    assert total.periods[0].source == Source(1, "StationMax", 0, 0)


def test_a_connector_tx_default_hides_the_one_on_connector_zero() -> None:
    everywhere = profile(1, "TxDefault", [(0, 16.0)], level=9)
    mine = profile(2, "TxDefault", [(0, 25.0)], level=0, connector=2, valid_from=at(600))
    out = composite_schedule([everywhere, mine], 2, T0, 1200, electrical=EL)
    assert limits(out.periods) == [(0, 16.0), (600, 25.0)]
    other = composite_schedule([everywhere, mine], 1, T0, 1200, electrical=EL)
    assert limits(other.periods) == [(0, 16.0)]


def test_watts_convert_with_the_nominal_voltage_and_the_phases_in_use() -> None:
    watts = profile(1, "TxDefault", [(0, 11040.0), (600, 3680.0)], unit="W")
    cap = profile(2, "StationMax", [(0, 7360.0)], unit="W", phases=1)
    out = composite_schedule([watts, cap], 1, T0, 1200, electrical=EL)
    # in use: the TxDefault's 3 phases (numberPhases absent). 11040 W / (230 V x 3) = 16 A;
    # the cap is a total: 7360 W on 3 phases = 10.667 A; then 3680 W -> 5.333 A
    assert limits(out.periods) == [(0, 10.667), (600, 5.333)]
    in_watts = composite_schedule([watts, cap], 1, T0, 1200, unit="W", electrical=EL)
    assert limits(in_watts.periods) == [(0, 7360.0), (600, 3680.0)]
    assert in_watts.periods[0].phases == 3


def test_an_ampere_cap_applies_per_phase_on_the_phases_of_the_transaction_profile() -> None:
    one_phase = profile(1, "TxDefault", [(0, 7360.0)], unit="W", phases=1)
    cap = profile(2, "StationMax", [(0, 10.0)])
    out = composite_schedule([one_phase, cap], 1, T0, 60, unit="W", electrical=EL)
    assert out.periods == (CompositePeriod(0, 2300.0, 1, Source(2, "StationMax", 0, 0)),)
    alone = composite_schedule([one_phase], 1, T0, 60, electrical=EL)
    assert limits(alone.periods) == [(0, 32.0)]


def test_daily_recurrence_with_a_duration_shorter_than_a_day_leaves_gaps() -> None:
    # every day from 18:00 for 4 h: 8 A; seen from 08:00 the next day, over 36 h
    evening = profile(
        1, "TxDefault", [(0, 8.0)], kind="Recurring", recurrency="Daily",
        start=T0 - timedelta(days=1) + timedelta(hours=10), duration=4 * 3600,
    )  # fmt: skip
    out = composite_schedule([evening], 1, T0, 36 * 3600, electrical=EL)
    h = 3600
    assert limits(out.periods) == [(0, 32.0), (10 * h, 8.0), (14 * h, 32.0), (34 * h, 8.0)]


def test_nothing_before_a_future_start_and_nothing_after_valid_to() -> None:
    later = profile(1, "TxDefault", [(0, 6.0)], start=at(300), valid_to=at(900))
    out = composite_schedule([later], 1, T0, 1200, electrical=EL)
    assert limits(out.periods) == [(0, 32.0), (300, 6.0), (900, 32.0)]


def test_the_start_is_truncated_and_change_points_round_up_to_whole_seconds() -> None:
    edge = profile(1, "TxDefault", [(0, 6.0)], valid_from=at(10.25))
    out = composite_schedule([edge], 1, at(0.6), 60, electrical=EL)
    assert out.start == T0
    assert limits(out.periods) == [(0, 32.0), (11, 6.0)]


def test_limit_at_and_next_change() -> None:
    steps = profile(1, "TxDefault", [(0, 10.0), (600, 20.0)])
    assert limit_at([steps], 1, at(599.5), electrical=EL).limit == 10.0
    assert limit_at([steps], 1, at(600), electrical=EL).limit == 20.0
    assert next_change([steps], (1,), at(100), timedelta(hours=1)) == at(600)
    assert next_change([steps], (1,), at(600), timedelta(hours=1)) is None


# -- against the reference ------------------------------------------------------------------------
WINDOW = 1800  # seconds evaluated one by one
CONNECTORS = (1, 2)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    purpose: Purpose = draw(st.sampled_from(["StationMax", "TxDefault", "Tx"]))
    kind: Kind = draw(st.sampled_from(["Absolute", "Recurring", "Relative"]))
    if purpose == "StationMax":
        connector = 0
    elif purpose == "Tx":
        connector = draw(st.sampled_from(CONNECTORS))
    else:
        connector = draw(st.sampled_from((0, *CONNECTORS)))
    starts = sorted(draw(st.sets(st.integers(1, WINDOW), max_size=4)))
    periods = [(s, draw(st.sampled_from([0.0, 6.0, 10.0, 16.5, 32.0, 4000.0, 11000.0])))
               for s in [0, *starts]]  # fmt: skip
    when = st.integers(-WINDOW, WINDOW).map(at)
    start = at(draw(st.integers(-WINDOW, WINDOW)))
    if kind == "Recurring":  # the daily repetition's boundary inside the window
        start -= timedelta(seconds=DAY)
    valid_from, valid_to = draw(st.none() | when), draw(st.none() | when)
    return profile(
        draw(st.integers(1, 10_000)),
        purpose,
        periods,
        level=draw(st.integers(0, 3)),
        connector=connector,
        kind=kind,
        start=start,
        duration=draw(st.none() | st.integers(0, 2 * WINDOW)),
        unit=draw(st.sampled_from(["A", "W"])),
        recurrency="Daily" if kind == "Recurring" else None,
        valid_from=valid_from,
        valid_to=valid_to,
        phases=draw(st.sampled_from([None, 1, 3])),
        transaction_id=draw(st.sampled_from([None, 7, 8])) if purpose == "Tx" else None,
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(profiles(), max_size=6, unique_by=lambda p: p.id),
    st.sampled_from((0, *CONNECTORS)),
    st.sampled_from(["A", "W"]),
    st.dictionaries(
        st.sampled_from(CONNECTORS),
        st.builds(Running, st.integers(-WINDOW, 0).map(at), st.sampled_from([7, 8])),
    ),
)
def test_composite_matches_the_reference_second_by_second(
    installed: list[Profile], connector: int, unit: RateUnit, running: dict[int, Running]
) -> None:
    out = composite_schedule(
        installed, connector, T0, WINDOW, unit=unit, electrical=EL, running=running,
        connectors=CONNECTORS,
    )  # fmt: skip
    assert out.periods[0].start == 0
    assert all(a.start < b.start for a, b in zip(out.periods, out.periods[1:], strict=False))
    for second in range(WINDOW):
        expected = reference_limit(
            installed, connector, at(second), origin=T0, unit=unit, electrical=EL,
            running=running, connectors=CONNECTORS,
        )  # fmt: skip
        got = out.limit_at(second).limit
        assert abs(got - expected) < 1e-6, (second, got, expected)


def test_the_example_prints_the_periods_and_their_profiles() -> None:
    spec = importlib.util.spec_from_file_location(
        "composite_example", Path(__file__).resolve().parents[2] / "examples/composite_schedule.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the boost (25 A) for 30 min, then the default (32 A), capped to 20 A at the evening peak
    assert module.main() == [(0, 25.0, 3), (1800, 32.0, 2), (3600, 20.0, 1)]
