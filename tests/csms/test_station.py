"""Station: one typed method per CSMS -> charge point action, for every version."""

from __future__ import annotations

import asyncio
import inspect
import re

import pytest

from ocppkit.csms.station import Station16, Station21, Station201, station_for
from ocppkit.messages import actions, v16, v201
from ocppkit.protocol import OcppVersion
from ocppkit.testing import connected_pair, fake_charge_point


def _snake(action: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", action)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


@pytest.mark.parametrize(
    ("version", "cls"),
    [(OcppVersion.V16, Station16), (OcppVersion.V201, Station201), (OcppVersion.V21, Station21)],
)
def test_every_command_of_the_version_has_a_typed_method(version: OcppVersion, cls: type) -> None:
    commands = [
        a for a, spec in actions(version).items() if spec.direction in ("csms_to_cp", "both")
    ]
    assert commands
    for action in commands:
        method = getattr(cls, _snake(action))
        assert inspect.iscoroutinefunction(method)
        signature = inspect.signature(method)
        assert "call_timeout" in signature.parameters
        assert signature.return_annotation == actions(version)[action].response.__name__  # type: ignore[union-attr]


def test_typed_commands_reach_the_station() -> None:
    station_side = fake_charge_point(OcppVersion.V16)
    station_side.respond(v16.ResetRequest, v16.ResetResponse(status="Rejected"))

    async def main() -> None:
        async with connected_pair(OcppVersion.V16, charge_point=station_side.router) as pair:
            station = station_for(pair.csms)
            assert isinstance(station, Station16)
            assert (await station.reset(type="Hard")).status == "Rejected"
            reply = await station.change_configuration(key="HeartbeatInterval", value="60")
            assert reply.status == "Accepted"
        assert station_side.received[0] == v16.ResetRequest(type="Hard")
        assert station_side.received[1] == v16.ChangeConfigurationRequest(
            key="HeartbeatInterval", value="60"
        )

    asyncio.run(main())


def test_2_0_1_commands_with_nested_types() -> None:
    async def main() -> None:
        async with connected_pair(OcppVersion.V201) as pair:
            station = station_for(pair.csms)
            assert isinstance(station, Station201)
            variable = v201.GetVariableDataType(
                component=v201.ComponentType(name="OCPPCommCtrlr"),
                variable=v201.VariableType(name="HeartbeatInterval"),
            )
            reply = await station.get_variables(get_variable_data=[variable])
            assert isinstance(reply, v201.GetVariablesResponse)
            assert (await station.reset(type="OnIdle")).status == "Accepted"

    asyncio.run(main())
