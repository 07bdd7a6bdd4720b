"""ISO 15118 Plug & Charge over 1.6 DataTransfer, round trips between our 1.6 charge point stack
and our CSMS over TLS on loopback (certificates made in the test): contract authorization, EV
certificate and OCSP look-ups through the CSMS's hooks, V2G root installation, a triggered SECC
certificate renewal signed by the CSMS's CA, listing and deleting; malformed tunnelled messages
refused with the field named."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from ocppkit.api import create_app
from ocppkit.certificates import (
    CertificateAuthority,
    hash_data,
    load_certificates,
    make_csr,
    new_private_key,
)
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
from ocppkit.csms.plug_and_charge import (
    CertificateStatusRequest,
    EVCertificateRequest,
    PncHooks,
    pnc_call,
)
from ocppkit.iso15118 import VENDOR_ID, TunnelError, unwrap, wrap
from ocppkit.iso15118.tunnel import TO_CSMS
from ocppkit.messages import v16, v201
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.security import client_ssl_context, server_ssl_context
from ocppkit.store import IdTokenRecord
from ocppkit.store.memory import MemoryStore
from tests.runtime.certs import Pki

IDENTITY = "CP-PNC"


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 30))


class Operator(PncHooks):
    """A mobility operator that has a contract certificate and an OCSP answer."""

    async def get_15118_ev_certificate(
        self, station: str, req: EVCertificateRequest
    ) -> v201.Get15118EVCertificateResponse:
        return v201.Get15118EVCertificateResponse(
            status="Accepted", exi_response="RVhJ" + req.exi_request
        )

    async def get_certificate_status(
        self, station: str, req: CertificateStatusRequest
    ) -> v201.GetCertificateStatusResponse:
        return v201.GetCertificateStatusResponse(status="Accepted", ocsp_result="T0NTUA==")


class Secc(ChargerCallbacks):
    """The charger's ISO 15118 stack: wants to know about its new certificate."""

    def __init__(self) -> None:
        self.v2g: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def v2g_certificate_installed(self, chain_pem: str, key_pem: str) -> None:
        self.v2g.put_nowait((chain_pem, key_pem))


def test_plug_and_charge_round_trips_between_our_stack_and_our_csms(tmp_path: Path) -> None:
    async def main() -> None:
        v2g_root = CertificateAuthority.create("V2G root")
        store = MemoryStore()
        csms = Csms(store, certificate_authority=v2g_root, message_log=False, pnc_hooks=Operator())
        pki = Pki.create(tmp_path / "pki")  # TLS, no Basic auth
        await csms.start(
            "127.0.0.1", 0, ssl=server_ssl_context(str(pki.server_cert), str(pki.server_key))
        )
        await store.put_token(IdTokenRecord(token="DE8AAA1234567", parent="FLEET-7"))
        secc = Secc()
        runtime = AsyncioRuntime()
        client = OcppClient(
            f"wss://localhost:{csms.server.port}/{IDENTITY}",
            versions=[OcppVersion.V16],
            ssl=client_ssl_context(cafile=pki.ca_file),
        )
        cp = ChargePoint16(
            store=SqliteStateStore(tmp_path / "cp.db"), link=ClientLink(client), clock=runtime,
            scheduler=runtime, vendor="ocppkit", model="pnc", callbacks=secc,
            key_passphrase=b"secc key", config_defaults={"CpoName": "ACME"},
        )  # fmt: skip
        try:
            async with connected_charge_point(cp, client):
                assert await wait_accepted(cp, timeout=10)
                pnc = cp.plug_and_charge
                known = await pnc.authorize(
                    v201.IdTokenType(id_token="DE8AAA1234567", type="eMAID")
                )
                assert known.id_token_info.status == "Accepted"
                group = known.id_token_info.group_id_token  # as a 2.0.1 station's Authorize
                assert group is not None
                assert group.id_token == "FLEET-7"
                unknown = await pnc.authorize(v201.IdTokenType(id_token="DE8ZZZ", type="eMAID"))
                assert unknown.id_token_info.status == "Invalid"
                ev = await pnc.get_15118_ev_certificate(
                    "urn:iso:15118:2:2013:MsgDef", "Install", "AAAA"
                )
                assert (ev.status, ev.exi_response) == ("Accepted", "RVhJAAAA")
                ocsp = v201.OCSPRequestDataType(
                    hash_algorithm="SHA256", issuer_name_hash="aa", issuer_key_hash="bb",
                    serial_number="1", responder_url="http://ocsp.example",
                )  # fmt: skip
                status = await pnc.get_certificate_status(ocsp)
                assert (status.status, status.ocsp_result) == ("Accepted", "T0NTUA==")
                stored = await store.events(IDENTITY)
                assert {e.kind for e in stored} >= {"PnC.Authorize", "PnC.GetCertificateStatus"}

                station = csms.station(IDENTITY)
                assert isinstance(station, Station16)
                installed = await pnc_call(
                    station,
                    v201.InstallCertificateRequest(
                        certificate_type="V2GRootCertificate", certificate=v2g_root.certificate_pem
                    ),
                )
                assert installed.status == "Accepted"
                trigger = v201.TriggerMessageRequest(requested_message="SignV2GCertificate")
                assert (await pnc_call(station, trigger)).status == "Accepted"
                chain_pem, key_pem = await asyncio.wait_for(secc.v2g.get(), 10)
                leaf = load_certificates(chain_pem)[0]
                assert leaf.issuer == v2g_root.certificate.subject
                assert "BEGIN PRIVATE KEY" in key_pem
                assert "ENCRYPTED" in (await cp.store.load("v2g_certificate"))["key"]

                stranger = v2g_root.sign(make_csr(new_private_key(), IDENTITY))
                wrong_key = v201.CertificateSignedRequest(
                    certificate_chain=stranger, certificate_type="V2GCertificate"
                )
                assert (await pnc_call(station, wrong_key)).status == "Rejected"
                assert cp.security_log.entries[-1][1]["type"] == "InvalidChargePointCertificate"

                ids = await pnc_call(station, v201.GetInstalledCertificateIdsRequest())
                kinds = sorted(c.certificate_type for c in ids.certificate_hash_data_chain or [])
                assert kinds == ["V2GCertificateChain", "V2GRootCertificate"]
                root = hash_data(v2g_root.certificate)
                delete = v201.DeleteCertificateRequest(
                    certificate_hash_data=v201.CertificateHashDataType(
                        hash_algorithm="SHA256", issuer_name_hash=root.issuer_name_hash,
                        issuer_key_hash=root.issuer_key_hash, serial_number=root.serial_number,
                    )
                )  # fmt: skip
                assert (await pnc_call(station, delete)).status == "Accepted"
                only = await pnc_call(
                    station,
                    v201.GetInstalledCertificateIdsRequest(certificate_type=["V2GRootCertificate"]),
                )
                assert only.status == "NotFound"

                # a malformed tunnelled message: refused with the field, the connection lives on
                bad = v16.DataTransferRequest(
                    vendor_id=VENDOR_ID, message_id="InstallCertificate",
                    data='{"certificateType": "V2GRootCertificate"}',
                )  # fmt: skip
                refused = await station.call(bad)
                assert refused.status == "Rejected"
                assert "certificate" in (refused.data or "")
                odd = v16.DataTransferRequest(vendor_id=VENDOR_ID, message_id="Reset", data="{}")
                assert (await station.call(odd)).status == "UnknownMessageId"
                # the same through the HTTP API: 2.0.1 payloads in, 2.0.1 answers out
                transport = httpx.ASGITransport(app=create_app(csms))
                async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                    base = f"/api/stations/{IDENTITY}/pnc"
                    listed = await http.post(f"{base}/GetInstalledCertificateIds", json={})
                    assert listed.status_code == 200, listed.text
                    assert listed.json()["status"] == "Accepted"  # the V2G chain is left
                    invalid = await http.post(f"{base}/InstallCertificate", json={"certificate": 1})
                    assert invalid.status_code == 400
                    assert "certificate" in invalid.text
                    wrong = await http.post(f"{base}/Authorize", json={})
                    assert wrong.status_code == 404  # a message the station sends
                other = await cp.data_transfer("com.example", "x", "y")
                assert other.status == "UnknownVendorId"  # other vendors: the CSMS's default
        finally:
            await csms.close(grace=1)

    run(main)


def test_the_tunnel_round_trips_and_names_bad_fields() -> None:
    request = v201.AuthorizeRequest(id_token=v201.IdTokenType(id_token="EMAID", type="eMAID"))
    carried = wrap(request)
    assert (carried.vendor_id, carried.message_id) == (VENDOR_ID, "Authorize")
    assert unwrap(carried, TO_CSMS) == request
    broken = v16.DataTransferRequest(
        vendor_id=VENDOR_ID, message_id="Authorize", data='{"idToken": 1}'
    )
    with pytest.raises(TunnelError, match="idToken"):
        unwrap(broken, TO_CSMS)
    with pytest.raises(TunnelError, match="not a Plug & Charge message"):
        wrap(v201.HeartbeatRequest())
    with pytest.raises(TunnelError, match="no data"):
        unwrap(v16.DataTransferRequest(vendor_id=VENDOR_ID, message_id="Authorize"), TO_CSMS)
