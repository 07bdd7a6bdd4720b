"""Every station -> CSMS action of every version, as the schemas allow it (minimal and full
payloads), sent to the default CSMS on SQLite over loopback: each gets its CALLRESULT, never a
CALLERROR, and the reports a CSMS asked for (NotifyMonitoringReport after GetMonitoringReport …)
are kept in the event log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ocppkit.csms.plug_and_charge import (
    AuthorizeRequest,
    EVCertificateRequest,
    EVCertificateResponse,
    PncHooks,
)
from ocppkit.csms.role import Csms
from ocppkit.messages import actions, v21, v201
from ocppkit.protocol import OcppVersion
from ocppkit.protocol.codec import decode_payload
from ocppkit.runtime.client import OcppClient
from ocppkit.store import IdTokenRecord
from ocppkit.store.sqlite import SqliteStore
from tests.messages.schema_payloads import Side, full, minimal

V201 = OcppVersion.V201
V21 = OcppVersion.V21

# kept in the event log under their action's name (2.x; "PnC." before the Plug & Charge ones)
REPORTS = [
    "NotifyMonitoringReport",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "ReportChargingProfiles",
    "NotifyChargingLimit",
    "ClearedChargingLimit",
    "ReservationStatusUpdate",
    "PublishFirmwareStatusNotification",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "Get15118EVCertificate",
    "GetCertificateStatus",
]
REPORTS_16 = {
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "MeterValues",  # outside a (known) transaction
    "SecurityEventNotification",
    "SignedFirmwareStatusNotification",
}
REPORTS_21 = [
    "BatterySwap",
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "ReportDERControl",
    "NotifyPriorityCharging",
    "NotifySettlement",
    "OpenPeriodicEventStream",
    "ClosePeriodicEventStream",
    "PullDynamicScheduleUpdate",
    "VatNumberValidation",
    "GetCertificateChainStatus",
]


def request(version: OcppVersion, action: str, shape: str) -> Any:
    """The typed request of a schema-generated payload."""
    side = Side(version, action, "request")
    payload = (minimal if shape == "minimal" else full)(side.schema)
    decoded, _ = decode_payload(side.tp, json.dumps(payload).encode())
    return decoded


@pytest.mark.parametrize("version", list(OcppVersion), ids=str)
def test_every_station_action_is_answered_and_reports_are_kept(
    version: OcppVersion, tmp_path: Path
) -> None:
    async def main() -> dict[str, Any]:
        store = SqliteStore(tmp_path / "csms.db")
        csms = Csms(store, message_log=False)
        await csms.start("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{csms.server.port}/CP1"
        client = OcppClient(url, None, versions=[version])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        answers: dict[str, Any] = {}
        try:
            await conn.call(request(version, "BootNotification", "minimal"))
            for action, spec in actions(version).items():
                if spec.direction == "csms_to_cp" or spec.send_only:
                    continue
                for shape in ("minimal", "full"):  # a CALLERROR raises here
                    answers[f"{action}-{shape}"] = await conn.call(request(version, action, shape))
            kinds = {event.kind for event in await store.events("CP1", limit=10_000)}
            answers["kinds"] = kinds
        finally:
            await conn.close()
            await runner
            await csms.close()
        return answers

    answers = asyncio.run(asyncio.wait_for(main(), 60))
    kinds = answers.pop("kinds")
    if version is OcppVersion.V16:
        assert kinds >= REPORTS_16, REPORTS_16 - kinds
        assert answers["DataTransfer-full"].status == "UnknownVendorId"
        return
    pnc = {"Get15118EVCertificate", "GetCertificateStatus"}
    expected = set(REPORTS) | (set(REPORTS_21) if version is OcppVersion.V21 else set())
    expected = {f"PnC.{k}" if k in pnc else k for k in expected}
    assert expected <= kinds, expected - kinds
    needs = answers["NotifyEVChargingNeeds-full"].status
    assert needs == ("Rejected" if version is OcppVersion.V201 else "NoChargingProfile")
    assert answers["Get15118EVCertificate-full"].status == "Failed"  # no mobility operator
    if version is OcppVersion.V21:
        asked = request(version, "VatNumberValidation", "full")
        vat = answers["VatNumberValidation-full"]
        assert (vat.vat_number, vat.evse_id, vat.status) == (
            asked.vat_number,
            asked.evse_id,
            "Rejected",
        )
        chain = answers["GetCertificateChainStatus-full"]
        assert isinstance(chain, v21.GetCertificateChainStatusResponse)
        asked_chain = request(version, "GetCertificateChainStatus", "full")
        assert [c.certificate_hash_data for c in chain.certificate_status] == [
            r.certificate_hash_data for r in asked_chain.certificate_status_requests
        ]
        assert {c.status for c in chain.certificate_status} == {"Failed"}
    else:
        assert isinstance(answers["GetCertificateStatus-full"], v201.GetCertificateStatusResponse)


class Operator(PncHooks):
    """A mobility operator's back end that has every contract certificate."""

    async def get_15118_ev_certificate(
        self, station: str, req: EVCertificateRequest
    ) -> EVCertificateResponse:
        pkg = v21 if isinstance(req, v21.Get15118EVCertificateRequest) else v201
        answer: EVCertificateResponse = pkg.Get15118EVCertificateResponse(
            status="Accepted", exi_response=f"for {station}"
        )
        return answer

    async def contract_status(
        self, station: str, req: AuthorizeRequest
    ) -> v201.AuthorizeCertificateStatusEnumType | None:
        return "CertificateRevoked"


@pytest.mark.parametrize("version", [V201, V21], ids=str)
def test_a_2_x_station_s_plug_and_charge_requests_reach_the_hooks(
    version: OcppVersion, tmp_path: Path
) -> None:
    async def main() -> None:
        pkg: Any = v21 if version is V21 else v201
        store = SqliteStore(tmp_path / "csms.db")
        csms = Csms(store, message_log=False, pnc_hooks=Operator())
        await csms.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/CP1", None, versions=[version])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        try:
            await conn.call(request(version, "BootNotification", "minimal"))
            answer = await conn.call(request(version, "Get15118EVCertificate", "minimal"))
            assert isinstance(answer, pkg.Get15118EVCertificateResponse)
            assert (answer.status, answer.exi_response) == ("Accepted", "for CP1")
            events = await store.events("CP1", "PnC.Get15118EVCertificate")
            assert [e.data["action"] for e in events] == ["Install"]
            # Authorize: the token from the store, the contract judged by the hooks
            await store.put_token(IdTokenRecord(token="EMAID1", status="Accepted"))
            token = pkg.IdTokenType(id_token="EMAID1", type="eMAID")
            plain = await conn.call(pkg.AuthorizeRequest(id_token=token))
            assert (plain.id_token_info.status, plain.certificate_status) == ("Accepted", None)
            pnc = await conn.call(pkg.AuthorizeRequest(id_token=token, certificate="PEM"))
            assert pnc.id_token_info.status == "Accepted"
            assert pnc.certificate_status == "CertificateRevoked"
        finally:
            await conn.close()
            await runner
            await csms.close()

    asyncio.run(asyncio.wait_for(main(), 30))
