"""The gate lets a Pending station send what the CSMS asked for (2.0.1 B02.FR.02), nothing else."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from ocppkit.csms.context import BootDecision
from ocppkit.csms.gate import FOLLOW_UPS, TRIGGERED_ACTIONS, GatedRouter
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station16, Station21, Station201, station_for
from ocppkit.messages import actions, v16, v21, v201
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol import InternalError, OcppVersion, SecurityError
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import AnswerAfter
from ocppkit.store import StationRecord
from ocppkit.store.memory import MemoryStore
from ocppkit.testing import ConnectedPair, FakePeer, connected_pair, default_instance
from ocppkit.testing import fake_charge_point as fake_station

PACKAGES: dict[OcppVersion, ModuleType] = {
    OcppVersion.V16: v16,
    OcppVersion.V201: v201,
    OcppVersion.V21: v21,
}


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


def decide(
    decision: BootDecision,
) -> Callable[[str, StationRecord | None], Awaitable[BootDecision]]:
    async def policy(identity: str, known: StationRecord | None) -> BootDecision:
        return decision

    return policy


@asynccontextmanager
async def booted(
    version: OcppVersion, decision: BootDecision, station_side: FakePeer | None = None
) -> AsyncIterator[tuple[Csms, ConnectedPair, Station16 | Station201 | Station21]]:
    """A Csms (its routers, no server) and a station joined in memory, booted with ``decision``."""
    store = MemoryStore()
    await store.open()
    csms = Csms(store, boot_policy=decide(decision), message_log=False)
    side = station_side or fake_station(version)
    async with connected_pair(version, csms=csms.router(version), charge_point=side.router) as pair:
        boot = await pair.charge_point.call(request(version, "BootNotification"))
        assert boot.status == decision
        yield csms, pair, station_for(pair.csms)


def request(version: OcppVersion, action: str) -> Any:
    """A valid request of ``action`` (defaults for every field)."""
    payload: type[OcppRequest[Any]] = getattr(PACKAGES[version], f"{action}Request")
    return default_instance(payload)


async def refused(conn: OcppConnection, message: OcppRequest[Any]) -> bool:
    try:
        await conn.call(message)
    except SecurityError:
        return True
    return False


ALL_VERSIONS = pytest.mark.parametrize("version", list(OcppVersion))


# -- the mapping --------------------------------------------------------------------------------
TRIGGER_TYPES = [
    (OcppVersion.V16, v16.TriggerMessageRequest),
    (OcppVersion.V16, v16.ExtendedTriggerMessageRequest),
    (OcppVersion.V201, v201.TriggerMessageRequest),
    (OcppVersion.V21, v21.TriggerMessageRequest),
]


@pytest.mark.parametrize(("version", "trigger"), TRIGGER_TYPES)
def test_every_requested_message_opens_a_station_action_of_its_version(
    version: OcppVersion, trigger: type[Any]
) -> None:
    router = GatedRouter(version)
    station_actions = {
        a for a, spec in actions(version).items() if spec.direction in ("cp_to_csms", "both")
    }
    values = typing.get_args(typing.get_type_hints(trigger)["requested_message"])
    assert values
    for value in values:
        opened = router.requested_actions(trigger(requested_message=value))
        if value == "CustomTrigger":
            assert opened == frozenset()
            continue
        assert len(opened) == 1, value
        assert opened <= station_actions, value
        assert opened == {TRIGGERED_ACTIONS.get(value) or value}
    assert TRIGGERED_ACTIONS.keys() <= {
        v
        for _, t in TRIGGER_TYPES
        for v in typing.get_args(typing.get_type_hints(t)["requested_message"])
    }


def test_certificate_triggers_open_sign_certificate() -> None:
    for version, trigger, value in [
        (OcppVersion.V16, v16.ExtendedTriggerMessageRequest, "SignChargePointCertificate"),
        (OcppVersion.V201, v201.TriggerMessageRequest, "SignChargingStationCertificate"),
        (OcppVersion.V201, v201.TriggerMessageRequest, "SignV2GCertificate"),
        (OcppVersion.V201, v201.TriggerMessageRequest, "SignCombinedCertificate"),
        (OcppVersion.V21, v21.TriggerMessageRequest, "SignV2G20Certificate"),
    ]:
        router = GatedRouter(version)
        assert router.requested_actions(trigger(requested_message=value)) == {"SignCertificate"}


def test_follow_ups_name_a_request_and_its_reports_in_the_versions_that_have_them() -> None:
    seen: set[str] = set()
    for version in OcppVersion:
        specs = actions(version)
        router = GatedRouter(version)
        for action, reports in FOLLOW_UPS.items():
            if action not in specs:
                continue
            seen.add(action)
            assert specs[action].direction == "csms_to_cp"
            for report in reports:
                assert specs[report].direction == "cp_to_csms"
            assert router.requested_actions(request(version, action)) == set(reports)
    assert seen == set(FOLLOW_UPS)
    # a request asking for nothing opens nothing
    assert (
        GatedRouter(OcppVersion.V16).requested_actions(v16.ResetRequest(type="Soft")) == frozenset()
    )


# -- over the wire ------------------------------------------------------------------------------
@ALL_VERSIONS
def test_a_pending_station_sends_what_was_triggered_and_nothing_else(version: OcppVersion) -> None:
    async def main() -> None:
        async with booted(version, "Pending") as (csms, pair, station):
            cp = pair.charge_point
            assert await refused(cp, request(version, "StatusNotification"))
            trigger = PACKAGES[version].TriggerMessageRequest(
                requested_message="StatusNotification"
            )
            assert (await station.call(trigger)).status == "Accepted"
            # answered normally (and stored) now
            await cp.call(request(version, "StatusNotification"))
            assert [s.status for s in await csms.store.current_statuses("CP-TEST")] == ["Available"]
            assert await refused(cp, request(version, "Heartbeat"))

    run(main)


def test_typed_trigger_commands_open_the_gate_too() -> None:
    async def main() -> None:
        async with booted(OcppVersion.V16, "Pending") as (_, pair, station):
            assert isinstance(station, Station16)
            assert await refused(pair.charge_point, v16.HeartbeatRequest())
            assert (await station.trigger_message(requested_message="Heartbeat")).status == (
                "Accepted"
            )
            await pair.charge_point.call(v16.HeartbeatRequest())
        async with booted(OcppVersion.V201, "Pending") as (csms, pair, station):
            assert isinstance(station, Station201)

            @csms.router(OcppVersion.V201).on(v201.SignCertificateRequest)
            async def sign(
                req: v201.SignCertificateRequest, conn: OcppConnection
            ) -> v201.SignCertificateResponse:
                return v201.SignCertificateResponse(status="Accepted")

            cert = v201.SignCertificateRequest(csr="CSR")
            assert await refused(pair.charge_point, cert)
            await station.trigger_message(requested_message="SignChargingStationCertificate")
            assert (await pair.charge_point.call(cert)).status == "Accepted"

    run(main)


@ALL_VERSIONS
def test_a_refused_trigger_opens_nothing(version: OcppVersion) -> None:
    side = fake_station(version)
    pkg = PACKAGES[version]
    side.respond(pkg.TriggerMessageRequest, pkg.TriggerMessageResponse(status="Rejected"))

    async def main() -> None:
        async with booted(version, "Pending", side) as (_, pair, station):
            trigger = pkg.TriggerMessageRequest(requested_message="StatusNotification")
            assert (await station.call(trigger)).status == "Rejected"
            assert await refused(pair.charge_point, request(version, "StatusNotification"))

    run(main)


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
def test_notify_report_after_get_base_report(version: OcppVersion) -> None:
    async def main() -> None:
        async with booted(version, "Pending") as (csms, pair, station):
            assert isinstance(station, Station201 | Station21)
            assert await refused(pair.charge_point, request(version, "NotifyReport"))
            reply = await station.get_base_report(request_id=7, report_base="FullInventory")
            assert reply.status == "Accepted"
            await pair.charge_point.call(request(version, "NotifyReport"))
            await pair.charge_point.call(request(version, "NotifyReport"))  # any number of parts
            assert [e.kind for e in await csms.store.events("CP-TEST")] == [
                "NotifyReport",
                "NotifyReport",
            ]
            assert await refused(pair.charge_point, request(version, "StatusNotification"))

    run(main)


def test_an_empty_report_opens_nothing() -> None:
    side = fake_station(OcppVersion.V201)
    side.respond(v201.GetBaseReportRequest, v201.GetBaseReportResponse(status="EmptyResultSet"))

    async def main() -> None:
        async with booted(OcppVersion.V201, "Pending", side) as (_, pair, station):
            assert isinstance(station, Station201)
            await station.get_base_report(request_id=1, report_base="SummaryInventory")
            assert await refused(pair.charge_point, request(OcppVersion.V201, "NotifyReport"))

    run(main)


def test_1_6_firmware_and_diagnostics_reports_after_their_requests() -> None:
    async def main() -> None:
        async with booted(OcppVersion.V16, "Pending") as (_, pair, station):
            assert isinstance(station, Station16)
            cp = pair.charge_point
            diagnostics = v16.DiagnosticsStatusNotificationRequest(status="Uploading")
            firmware = v16.FirmwareStatusNotificationRequest(status="Downloading")
            assert await refused(cp, diagnostics)
            assert await refused(cp, firmware)
            await station.get_diagnostics(location="ftp://example.com/")
            await cp.call(diagnostics)
            assert await refused(cp, firmware)
            await station.update_firmware(
                location="ftp://example.com/fw.bin", retrieve_date=datetime.now(UTC)
            )
            await cp.call(firmware)

    run(main)


@ALL_VERSIONS
def test_a_rejected_station_stays_refused(version: OcppVersion) -> None:
    async def main() -> None:
        async with booted(version, "Rejected") as (_, pair, station):
            trigger = PACKAGES[version].TriggerMessageRequest(
                requested_message="StatusNotification"
            )
            assert (await station.call(trigger)).status == "Accepted"
            assert await refused(pair.charge_point, request(version, "StatusNotification"))

    run(main)


def test_a_station_that_never_booted_stays_refused() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.open()
        csms = Csms(store, message_log=False)
        router = csms.router(OcppVersion.V16)
        async with connected_pair(OcppVersion.V16, csms=router) as pair:
            await station_for(pair.csms).call(
                v16.TriggerMessageRequest(requested_message="StatusNotification")
            )
            assert await refused(pair.charge_point, request(OcppVersion.V16, "StatusNotification"))

    run(main)


def test_the_next_boot_closes_what_was_opened_and_acceptance_opens_everything() -> None:
    decisions: list[BootDecision] = ["Pending", "Pending", "Accepted"]

    async def policy(identity: str, known: StationRecord | None) -> BootDecision:
        return decisions.pop(0)

    async def main() -> None:
        store = MemoryStore()
        await store.open()
        csms = Csms(store, boot_policy=policy, message_log=False)
        async with connected_pair(OcppVersion.V16, csms=csms.router(OcppVersion.V16)) as pair:
            cp, station = pair.charge_point, station_for(pair.csms)
            status = request(OcppVersion.V16, "StatusNotification")
            boot = request(OcppVersion.V16, "BootNotification")
            assert (await cp.call(boot)).status == "Pending"
            await station.call(v16.TriggerMessageRequest(requested_message="StatusNotification"))
            await cp.call(status)
            assert (await cp.call(boot)).status == "Pending"  # a new boot starts from nothing
            assert await refused(cp, status)
            assert (await cp.call(boot)).status == "Accepted"
            await cp.call(status)
            await cp.call(v16.HeartbeatRequest())

    run(main)


def test_a_new_connection_starts_from_nothing() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.open()
        csms = Csms(store, boot_policy=decide("Pending"), message_log=False)
        router = csms.router(OcppVersion.V16)
        async with connected_pair(OcppVersion.V16, csms=router) as pair:
            assert (
                await pair.charge_point.call(request(OcppVersion.V16, "BootNotification"))
            ).status == "Pending"
            await station_for(pair.csms).call(
                v16.TriggerMessageRequest(requested_message="StatusNotification")
            )
            await pair.charge_point.call(request(OcppVersion.V16, "StatusNotification"))
        async with connected_pair(OcppVersion.V16, csms=router) as pair:  # still Pending
            status = request(OcppVersion.V16, "StatusNotification")
            assert await refused(pair.charge_point, status)
            await station_for(pair.csms).call(
                v16.TriggerMessageRequest(requested_message="StatusNotification")
            )
            await pair.charge_point.call(status)

    run(main)


def test_the_triggered_message_read_with_the_response_reaches_an_inline_handler() -> None:
    """The station sends the triggered message right after its response: both frames are read
    at once, before the task awaiting the response runs; a plain (inline) handler still passes."""

    async def main() -> None:
        side = fake_station(OcppVersion.V16)
        sent: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        @side.router.after(v16.TriggerMessageRequest)
        async def send_it(req: Any, resp: Any, conn: OcppConnection) -> None:
            try:
                sent.set_result(await conn.call(request(OcppVersion.V16, "StatusNotification")))
            except Exception as exc:
                sent.set_exception(exc)

        store = MemoryStore()
        await store.open()
        csms = Csms(store, boot_policy=decide("Pending"), message_log=False)
        seen: list[v16.StatusNotificationRequest] = []

        @csms.router(OcppVersion.V16).on(v16.StatusNotificationRequest)
        def status(
            req: v16.StatusNotificationRequest, conn: OcppConnection
        ) -> v16.StatusNotificationResponse:
            seen.append(req)
            return v16.StatusNotificationResponse()

        async with connected_pair(
            OcppVersion.V16, csms=csms.router(OcppVersion.V16), charge_point=side.router
        ) as pair:
            await pair.charge_point.call(request(OcppVersion.V16, "BootNotification"))
            await station_for(pair.csms).call(
                v16.TriggerMessageRequest(requested_message="StatusNotification")
            )
            assert await sent == v16.StatusNotificationResponse()
        assert len(seen) == 1

    run(main)


def test_allow_after_for_a_direct_conn_call_and_allow_for_custom_triggers() -> None:
    async def main() -> None:
        async with booted(OcppVersion.V21, "Pending") as (csms, pair, _):
            router = csms.router(OcppVersion.V21)
            trigger = v21.TriggerMessageRequest(requested_message="Heartbeat")
            response = await pair.csms.call(trigger)  # around the gate: opens nothing
            heartbeat = request(OcppVersion.V21, "Heartbeat")
            assert await refused(pair.charge_point, heartbeat)
            router.allow_after(pair.csms, trigger, response)
            await pair.charge_point.call(heartbeat)
            custom = v21.TriggerMessageRequest(
                requested_message="CustomTrigger", custom_trigger="vendor.Log"
            )
            assert router.requested_actions(custom) == frozenset()
            assert await refused(pair.charge_point, request(OcppVersion.V21, "MeterValues"))
            router.allow(pair.csms, "MeterValues")
            await pair.charge_point.call(request(OcppVersion.V21, "MeterValues"))

    run(main)


def test_a_user_boot_handler_decides_acceptance_too() -> None:
    """Replacing the default BootNotification handler (as the role's docs invite) keeps the gate
    in step with what the station was answered."""

    async def main() -> None:
        csms = Csms(MemoryStore(), message_log=False)

        @csms.router(OcppVersion.V16).on(v16.BootNotificationRequest)
        def boot(req: v16.BootNotificationRequest, conn: Any) -> v16.BootNotificationResponse:
            status: v16.RegistrationStatus = (
                "Accepted" if req.charge_point_model == "OK" else "Rejected"
            )
            return v16.BootNotificationResponse(
                status=status, interval=60, current_time=datetime.now(UTC)
            )

        await csms.start("127.0.0.1", 0)
        try:
            client = OcppClient(
                f"ws://127.0.0.1:{csms.server.port}/CP-OWN", versions=[OcppVersion.V16]
            )
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            refused = await conn.call(
                v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="NO")
            )
            assert refused.status == "Rejected"
            with pytest.raises(SecurityError):
                await conn.call(v16.HeartbeatRequest())
            await conn.call(
                v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="OK")
            )
            assert csms.is_accepted("CP-OWN")
            await conn.call(v16.HeartbeatRequest())  # answered, no SecurityError
            await client.close()
            await runner
        finally:
            await csms.close()

    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize("fails", [False, True])
def test_a_plain_boot_handler_answering_after_a_write_decides_acceptance(fails: bool) -> None:
    """A plain BootNotification handler may return ``AnswerAfter`` (the answer waits for a
    write): the gate takes the station as accepted from the answer's response once the write
    is done, and a failed write (answered with a CALLERROR) accepts nothing."""

    async def main() -> None:
        store = MemoryStore()
        await store.open()
        csms = Csms(store, message_log=False)
        router = csms.router(OcppVersion.V16)
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handled = asyncio.Event()

        @router.on(v16.BootNotificationRequest)
        def boot(req: Any, conn: Any) -> AnswerAfter[v16.BootNotificationResponse]:
            handled.set()
            now = datetime.now(UTC)
            answer = v16.BootNotificationResponse(status="Accepted", interval=60, current_time=now)
            return AnswerAfter(written, answer)

        async with connected_pair(OcppVersion.V16, csms=router) as pair:
            booting = asyncio.create_task(
                pair.charge_point.call(
                    v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
                )
            )
            await handled.wait()
            assert not csms.is_accepted(pair.csms.identity)
            if fails:
                written.set_exception(OSError("disk full"))
                with pytest.raises(InternalError):
                    await booting
                assert await refused(pair.charge_point, v16.HeartbeatRequest())
            else:
                written.set_result(None)
                assert (await booting).status == "Accepted"
                await pair.charge_point.call(v16.HeartbeatRequest())  # no SecurityError
            assert csms.is_accepted(pair.csms.identity) is not fails

    run(main)
