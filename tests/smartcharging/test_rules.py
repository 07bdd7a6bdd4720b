"""Profile validation (one row per rule) and the installed set's replace / clear / purge rules."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocppkit.smartcharging import (
    ClearFilter,
    Period,
    Profile,
    ProfileRejected,
    ProfileSet,
    Rules,
    Running,
    check_profile,
    share_cap,
)
from ocppkit.smartcharging.model import RateUnit
from tests.smartcharging.test_composite import T0, at, profile

A_ONLY: tuple[RateUnit, ...] = ("A",)
RULES = Rules(connectors=2, max_stack_level=5, max_periods=3, max_installed=3, units=A_ONLY)
RUNNING = {1: Running(T0, 42)}
OK = profile(1, "TxDefault", [(0, 16.0)])


def with_schedule(**changes: Any) -> Profile:
    return dataclasses.replace(OK, schedule=dataclasses.replace(OK.schedule, **changes))


@pytest.mark.parametrize(
    ("candidate", "code", "field"),
    [
        (dataclasses.replace(OK, connector=3), "UnknownConnector", "connector 3"),
        (profile(1, "StationMax", [(0, 9.0)], connector=1), "InvalidConnector", "connector 0"),
        (profile(1, "Tx", [(0, 9.0)], connector=0), "InvalidConnector", "connector > 0"),
        (profile(1, "Tx", [(0, 9.0)], connector=2), "TxNotFound", "connector 2"),
        (profile(1, "Tx", [(0, 9.0)], connector=1, transaction_id=41), "TxNotFound", "41"),
        (dataclasses.replace(OK, stack_level=6), "InvalidStackLevel", "stackLevel 6"),
        (dataclasses.replace(OK, stack_level=-1), "InvalidStackLevel", "stackLevel -1"),
        (with_schedule(start=None), "MissingStartSchedule", "startSchedule"),
        (dataclasses.replace(OK, kind="Recurring"), "MissingRecurrency", "recurrencyKind"),
        (dataclasses.replace(OK, recurrency="Daily"), "UnexpectedRecurrency", "recurrencyKind"),
        (with_schedule(unit="W"), "UnsupportedRateUnit", "chargingRateUnit W"),
        (with_schedule(duration=-1), "InvalidSchedule", "duration"),
        (with_schedule(periods=()), "InvalidSchedule", "chargingSchedulePeriod"),
        (with_schedule(periods=(Period(5, 1.0),)), "InvalidSchedule", "[0].startPeriod"),
        (
            with_schedule(periods=(Period(0, 1.0), Period(60, 2.0), Period(60, 3.0))),
            "InvalidSchedule",
            "[2].startPeriod 60",
        ),
        (with_schedule(periods=tuple(Period(i, 1.0) for i in range(4))), "TooManyPeriods", "4"),
        (with_schedule(periods=(Period(0, -1.0),)), "InvalidSchedule", "[0].limit"),
        (with_schedule(periods=(Period(0, 1.0, 4),)), "InvalidSchedule", "[0].numberPhases"),
        (dataclasses.replace(OK, valid_from=at(10), valid_to=at(10)), "InvalidValidity", "valid"),
    ],
)
def test_each_rule_rejects_with_its_code_and_names_the_field(
    candidate: Profile, code: str, field: str
) -> None:
    with pytest.raises(ProfileRejected) as caught:
        check_profile(candidate, RULES, running=RUNNING)
    assert caught.value.code == code
    assert field in str(caught.value)


def test_version_rules_for_relative_profiles() -> None:
    relative = dataclasses.replace(
        profile(1, "StationMax", [(0, 9.0)], kind="Relative"),
        schedule=dataclasses.replace(OK.schedule, start=T0),
    )
    check_profile(relative, RULES, running={})  # 1.6: allowed
    strict = dataclasses.replace(RULES, relative_start_schedule=False, relative_station_max=False)
    with pytest.raises(ProfileRejected, match="startSchedule"):
        check_profile(relative, strict, running={})
    no_start = dataclasses.replace(relative, schedule=OK.schedule.__class__("A", (Period(0, 1),)))
    with pytest.raises(ProfileRejected, match="cannot be Relative"):
        check_profile(no_start, strict, running={})


def test_acceptable_profiles_pass() -> None:
    check_profile(OK, RULES, running=RUNNING)
    check_profile(
        profile(9, "Tx", [(0, 9.0)], connector=1, transaction_id=42), RULES, running=RUNNING
    )
    unknown_yet = {1: Running(T0, None)}
    check_profile(
        profile(9, "Tx", [(0, 9.0)], connector=1, transaction_id=5), RULES, running=unknown_yet
    )


def test_install_replaces_by_id_and_by_level_purpose_and_connector() -> None:
    installed = ProfileSet()
    assert installed.install(OK, RULES, running={}) == []
    other_connector = profile(2, "TxDefault", [(0, 8.0)], connector=1)
    assert installed.install(other_connector, RULES, running={}) == []
    same_id = dataclasses.replace(OK, stack_level=2)
    assert installed.install(same_id, RULES, running={}) == [OK]
    same_level = profile(3, "TxDefault", [(0, 5.0)], level=2)
    assert installed.install(same_level, RULES, running={}) == [same_id]
    assert sorted(p.id for p in installed) == [2, 3]
    # 1.6 only: 2.x replaces by id alone
    by_id_only = profile(4, "TxDefault", [(0, 5.0)], level=2)
    assert installed.install(by_id_only, RULES, running={}, replace_same_level=False) == []


def test_install_counts_against_the_maximum_after_replacing() -> None:
    installed = ProfileSet()
    for pid in (1, 2, 3):
        installed.install(profile(pid, "TxDefault", [(0, 8.0)], level=pid), RULES, running={})
    with pytest.raises(ProfileRejected, match="3 profiles") as caught:
        installed.install(profile(4, "TxDefault", [(0, 8.0)], level=4), RULES, running={})
    assert caught.value.code == "TooManyProfiles"
    assert sorted(p.id for p in installed) == [1, 2, 3]  # refused after counting: untouched
    installed.install(profile(3, "TxDefault", [(0, 1.0)], level=3), RULES, running={})
    assert len(installed) == 3
    with pytest.raises(ProfileRejected):  # a rejected profile changes nothing
        installed.install(dataclasses.replace(OK, id=1, stack_level=9), RULES, running={})
    assert len(installed) == 3


def test_external_constraints_are_neither_replaced_nor_cleared() -> None:
    external = dataclasses.replace(OK, id=7, purpose="ExternalConstraints")
    installed = ProfileSet({7: external})
    with pytest.raises(ProfileRejected) as caught:
        installed.install(dataclasses.replace(OK, id=7), RULES, running={})
    assert caught.value.code == "DuplicateProfile"
    assert installed.clear(ClearFilter()) == []


@pytest.mark.parametrize(
    ("wanted", "left"),
    [
        (ClearFilter(), []),
        (ClearFilter(id=2), [1, 3]),
        (ClearFilter(connector=1), [1]),
        (ClearFilter(purpose="TxDefault", stack_level=1), [1, 3]),
        (ClearFilter(id=2, connector=0), [1, 2, 3]),  # every given field must match
        (ClearFilter(purpose="StationMax"), [1, 2, 3]),
    ],
)
def test_clear_removes_what_matches_every_given_field(wanted: ClearFilter, left: list[int]) -> None:
    installed = ProfileSet()
    installed.install(profile(1, "TxDefault", [(0, 8.0)]), RULES, running={})
    installed.install(profile(2, "TxDefault", [(0, 8.0)], level=1, connector=1), RULES, running={})
    installed.install(profile(3, "TxDefault", [(0, 8.0)], level=2, connector=1), RULES, running={})
    gone = installed.clear(wanted)
    assert sorted(p.id for p in installed) == left
    assert len(gone) == 3 - len(left)


def test_purge_drops_expired_profiles_and_tx_profiles_of_ended_transactions() -> None:
    installed = ProfileSet()
    expiring = dataclasses.replace(OK, valid_to=at(60))
    tx = profile(2, "Tx", [(0, 9.0)], connector=1)
    installed.install(expiring, RULES, running={})
    installed.install(tx, RULES, running=RUNNING)
    assert installed.purge(at(59), RUNNING) == []
    assert installed.purge(at(60), RUNNING) == [expiring]
    assert installed.purge(at(61), {1: Running(T0 + timedelta(hours=1), 43)}) == []
    assert installed.purge(at(61), {}) == [tx]


def test_a_cap_is_shared_by_water_filling() -> None:
    assert share_cap(40, {1: 32, 2: 12}) == {2: 12, 1: 28}
    assert share_cap(40, {1: 32, 2: 32}) == {1: 20, 2: 20}
    assert share_cap(100, {1: 32, 2: 12}) == {1: 32, 2: 12}
    assert share_cap(30, {1: 5, 2: 32, 3: 32}) == {1: 5, 2: 12.5, 3: 12.5}
    assert share_cap(30, {}) == {}


@given(
    st.floats(0, 200),
    st.dictionaries(st.integers(1, 6), st.floats(0, 64), max_size=6),
)
def test_shares_never_exceed_the_cap_nor_what_a_connector_wants(
    cap: float, wanted: dict[int, float]
) -> None:
    shares = share_cap(cap, wanted)
    assert set(shares) == set(wanted)
    assert sum(shares.values()) <= cap + 1e-6
    for n, share in shares.items():
        assert share <= wanted[n] + 1e-9
    if sum(wanted.values()) <= cap:
        assert shares == wanted  # enough for everyone
    else:  # all of the cap is used, and whoever gets less than asked gets the common level
        assert sum(shares.values()) == pytest.approx(cap)
        level = max(shares.values())
        assert all(s == pytest.approx(level) for n, s in shares.items() if s < wanted[n] - 1e-9)
