"""Smart charging end to end: the reference CSMS (SQLite, HTTP API in process) sets, reports and
clears charging profiles on our 1.6 charge point stack (SQLite state file) over a real loopback
websocket, through the HTTP API and through the role API's typed commands; the stack applies the
limits through ``apply_limit``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from ocppkit.api import create_app
from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    connected_charge_point,
    wait_accepted,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.csms import Csms, Station16
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.smartcharging import ChargingLimit
from ocppkit.store.sqlite import SqliteStore

PROFILE = {
    "chargingProfileId": 11,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3680.0, "numberPhases": 1}],
    },
}


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


class Limits(ChargerCallbacks):
    """Remembers the limits applied and wakes a waiter on each one."""

    def __init__(self) -> None:
        self.latest: dict[int, ChargingLimit] = {}
        self.changed = asyncio.Event()

    def apply_limit(self, connector_id: int, limit: ChargingLimit) -> None:
        self.latest[connector_id] = limit
        self.changed.set()

    async def until(self, connector_id: int, amps: float) -> None:
        while (got := self.latest.get(connector_id)) is None or round(got.amps, 3) != amps:
            self.changed.clear()
            await self.changed.wait()


def test_profiles_set_reported_and_cleared_through_the_http_and_role_apis(tmp_path: Path) -> None:
    async def main() -> None:
        csms = Csms(SqliteStore(tmp_path / "csms.db"))
        await csms.start("127.0.0.1", 0)
        limits = Limits()
        runtime = AsyncioRuntime()
        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/CP-SC", versions=[OcppVersion.V16])
        cp = ChargePoint16(
            store=SqliteStateStore(tmp_path / "cp.db"), link=ClientLink(client), clock=runtime,
            scheduler=runtime, vendor="ocppkit", model="sc", callbacks=limits,
        )  # fmt: skip
        transport = httpx.ASGITransport(app=create_app(csms))
        try:
            async with (
                connected_charge_point(cp, client),
                httpx.AsyncClient(transport=transport, base_url="http://api") as http,
            ):
                assert await wait_accepted(cp, timeout=10)
                await limits.until(1, 32.0)  # no profile: the hardware maximum

                async def call(action: str, payload: dict[str, Any]) -> Any:
                    url = f"/api/stations/CP-SC/calls/{action}"
                    response = await http.post(url, json=payload)
                    assert response.status_code == 200, response.text
                    return response.json()

                set_it = {"connectorId": 1, "csChargingProfiles": PROFILE}
                assert await call("SetChargingProfile", set_it) == {"status": "Accepted"}
                await limits.until(1, 16.0)  # 3680 W on one phase at 230 V
                assert limits.latest[1].phases == 1
                assert limits.latest[1].source is not None
                assert limits.latest[1].source.profile_id == 11

                schedule = await call("GetCompositeSchedule", {"connectorId": 1, "duration": 600})
                assert schedule["status"] == "Accepted"
                periods = schedule["chargingSchedule"]["chargingSchedulePeriod"]
                assert periods == [{"startPeriod": 0, "limit": 16.0, "numberPhases": 1}]

                station = csms.station("CP-SC")
                assert isinstance(station, Station16)
                cap = v16.ChargingProfile(
                    charging_profile_id=12, stack_level=0,
                    charging_profile_purpose="ChargePointMaxProfile",
                    charging_profile_kind="Relative",
                    charging_schedule=v16.ChargingSchedule(
                        charging_rate_unit="A",
                        charging_schedule_period=[
                            v16.ChargingSchedulePeriod(start_period=0, limit=10.0)
                        ],
                    ),
                )  # fmt: skip
                answer = await station.set_charging_profile(
                    connector_id=0, cs_charging_profiles=cap
                )
                assert answer.status == "Accepted"
                await limits.until(1, 10.0)
                in_watts = await station.get_composite_schedule(
                    connector_id=1, duration=60, charging_rate_unit="W"
                )
                assert in_watts.charging_schedule is not None
                assert in_watts.charging_schedule.charging_schedule_period[0].limit == 2300.0

                assert await call("ClearChargingProfile", {"id": 99}) == {"status": "Unknown"}
                assert await call("ClearChargingProfile", {}) == {"status": "Accepted"}
                await limits.until(1, 32.0)
                bad = await http.post(
                    "/api/stations/CP-SC/calls/SetChargingProfile",
                    json={"connectorId": 1, "csChargingProfiles": {**PROFILE, "stackLevel": "x"}},
                )
                assert bad.status_code == 400
                assert "stackLevel" in bad.text
        finally:
            await csms.close(grace=1)

    run(main)
