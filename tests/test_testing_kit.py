"""ocppkit.testing: fake peers answer every action validly; the pytest fixtures work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ocppkit.messages import actions, v16, v201
from ocppkit.protocol import OcppVersion, decode_payload, encode_payload
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.testing import FakePeer, default_response


@pytest.mark.parametrize("version", list(OcppVersion))
def test_default_responses_are_valid_for_every_action(version: OcppVersion) -> None:
    for spec in actions(version).values():
        if spec.response is None:
            continue
        response = default_response(spec.response)
        decoded, issues = decode_payload(spec.response, encode_payload(response))
        assert decoded == response
        assert issues == []
        status = getattr(response, "status", None)
        if isinstance(status, str) and spec.action in {"BootNotification", "Reset", "ClearCache"}:
            assert status == "Accepted"


def test_fixtures_drive_a_handler_under_test(
    ocpp_pair: Callable[..., Any], fake_charge_point: Callable[[OcppVersion], FakePeer]
) -> None:
    my_csms = Router(OcppVersion.V201)

    @my_csms.on(v201.BootNotificationRequest)
    async def boot(
        request: v201.BootNotificationRequest, conn: OcppConnection
    ) -> v201.BootNotificationResponse:
        # the handler under test asks the station something before accepting it
        wanted = v201.GetVariableDataType(
            component=v201.ComponentType(name="OCPPCommCtrlr"),
            variable=v201.VariableType(name="HeartbeatInterval"),
        )
        await conn.call(v201.GetVariablesRequest(get_variable_data=[wanted]))
        return v201.BootNotificationResponse(current_time=_now(), interval=60, status="Accepted")

    station = fake_charge_point(OcppVersion.V201)

    async def main() -> None:
        async with ocpp_pair(OcppVersion.V201, csms=my_csms, charge_point=station.router) as pair:
            boot_request = v201.BootNotificationRequest(
                reason="PowerUp",
                charging_station=v201.ChargingStationType(model="M", vendor_name="V"),
            )
            response = await pair.charge_point.call(boot_request)
            assert (response.status, response.interval) == ("Accepted", 60)
        assert [type(r).__name__ for r in station.received] == ["GetVariablesRequest"]

    asyncio.run(main())


def test_fake_csms_records_and_can_be_told_what_to_answer(
    ocpp_pair: Callable[..., Any], fake_csms: Callable[[OcppVersion], FakePeer]
) -> None:
    csms = fake_csms(OcppVersion.V16)
    csms.respond(
        v16.AuthorizeRequest, v16.AuthorizeResponse(id_tag_info=v16.IdTagInfo(status="Blocked"))
    )

    async def main() -> None:
        async with ocpp_pair(OcppVersion.V16, csms=csms.router) as pair:
            boot = await pair.charge_point.call(
                v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
            )
            assert boot.status == "Accepted"
            auth = await pair.charge_point.call(v16.AuthorizeRequest(id_tag="T1"))
            assert auth.id_tag_info.status == "Blocked"
        assert [type(r).__name__ for r in csms.received] == [
            "BootNotificationRequest",
            "AuthorizeRequest",
        ]

    asyncio.run(main())


def _now() -> datetime:
    return datetime.now(UTC)
