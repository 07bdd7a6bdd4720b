"""SignCertificate on the CSMS: signed by its CA and sent back as CertificateSigned (1.6, 2.0.1,
2.1 with certificateType / requestId), Rejected without a CA or for a bad CSR; V2G CSRs (2.x
V2GCertificate, the 1.6 Plug & Charge tunnel) signed through ``PncHooks`` — on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ocppkit.certificates import (
    CertificateAuthority,
    load_certificates,
    make_csr,
    matches_key,
    new_private_key,
)
from ocppkit.csms.plug_and_charge import (
    PncHooks,
    SignCertificateRequest,
    SignCertificateResponse,
)
from ocppkit.csms.role import Csms
from ocppkit.iso15118 import unwrap, wrap, wrap_response
from ocppkit.iso15118.tunnel import TO_STATION
from ocppkit.messages import v16, v21, v201
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.router import Router
from ocppkit.store.memory import MemoryStore

MODULES: dict[OcppVersion, Any] = {
    OcppVersion.V16: v16,
    OcppVersion.V201: v201,
    OcppVersion.V21: v21,
}


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


async def booted(csms: Csms, version: OcppVersion, router: Router) -> Any:
    module = MODULES[version]
    url = f"ws://127.0.0.1:{csms.server.port}/CP-{version.value}"
    client = OcppClient(url, router, versions=[version])
    conn = await client.connect()
    runner = asyncio.create_task(conn.run())
    if version is OcppVersion.V16:
        boot = module.BootNotificationRequest(charge_point_vendor="v", charge_point_model="m")
    else:
        station = module.ChargingStationType(vendor_name="v", model="m")
        boot = module.BootNotificationRequest(charging_station=station, reason="PowerUp")
    assert (await conn.call(boot)).status == "Accepted"
    return conn, runner


async def next_signed_is_the_next_csr(
    conn: Any, signed: asyncio.Queue[Any], module: Any, **fields: Any
) -> None:
    """A good CSR's chain is the next CertificateSigned the station gets: none came for the
    requests answered Rejected before it."""
    key = new_private_key()
    request = module.SignCertificateRequest(csr=make_csr(key, "CP", "CPO"), **fields)
    assert (await conn.call(request)).status == "Accepted"
    delivered = await asyncio.wait_for(signed.get(), 10)
    assert matches_key(load_certificates(delivered.certificate_chain)[0], key)
    assert signed.empty()


def receiving_certificate_signed(version: OcppVersion) -> tuple[Router, asyncio.Queue[Any]]:
    """A station's router that accepts CertificateSigned and queues the requests."""
    module = MODULES[version]
    signed: asyncio.Queue[Any] = asyncio.Queue()
    router = Router(version)

    @router.on(module.CertificateSignedRequest)
    def certificate_signed(req: Any, conn: Any) -> Any:
        signed.put_nowait(req)
        return module.CertificateSignedResponse(status="Accepted")

    return router, signed


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_csr_comes_back_signed_as_certificate_signed(version: OcppVersion) -> None:
    async def main() -> None:
        module = MODULES[version]
        authority = CertificateAuthority.create()
        csms = Csms(MemoryStore(), certificate_authority=authority, message_log=False)
        await csms.start("127.0.0.1", 0)
        router, signed = receiving_certificate_signed(version)

        conn, runner = await booted(csms, version, router)
        key = new_private_key()
        extra: dict[str, Any] = {}
        if version is not OcppVersion.V16:
            extra["certificate_type"] = "ChargingStationCertificate"
        if version is OcppVersion.V21:
            extra["request_id"] = 17
        csr = make_csr(key, f"CP-{version.value}", "CPO")
        answer = await conn.call(module.SignCertificateRequest(csr=csr, **extra))
        assert answer.status == "Accepted"
        request = await asyncio.wait_for(signed.get(), 10)
        chain = load_certificates(request.certificate_chain)
        assert chain[0].issuer == authority.certificate.subject
        assert chain[1] == authority.certificate
        if version is not OcppVersion.V16:
            assert request.certificate_type == "ChargingStationCertificate"
        if version is OcppVersion.V21:
            assert request.request_id == 17
        bad = await conn.call(module.SignCertificateRequest(csr="not a CSR", **extra))
        assert bad.status == "Rejected"
        # one the authority would refuse to sign is refused in the answer, not after it
        nameless = await conn.call(module.SignCertificateRequest(csr=nameless_csr(), **extra))
        assert nameless.status == "Rejected"
        await next_signed_is_the_next_csr(conn, signed, module, **extra)
        await conn.close()
        runner.cancel()
        await csms.close(grace=1)

    run(main)


def nameless_csr() -> str:
    """A well-formed, correctly signed CSR whose subject has no common name."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CPO")])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    csr = builder.sign(new_private_key(), hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_without_a_certificate_authority_sign_certificate_is_rejected() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore(), message_log=False)
        await csms.start("127.0.0.1", 0)
        conn, runner = await booted(csms, OcppVersion.V16, Router(OcppVersion.V16))
        csr = make_csr(new_private_key(), "CP-1.6")
        assert (await conn.call(v16.SignCertificateRequest(csr=csr))).status == "Rejected"
        await conn.close()
        runner.cancel()
        await csms.close(grace=1)

    run(main)


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21], ids=str)
def test_a_v2g_csr_is_signed_by_the_plug_and_charge_authority(version: OcppVersion) -> None:
    async def main() -> None:
        module = MODULES[version]
        station_ca = CertificateAuthority.create("CSO CA")
        v2g_ca = CertificateAuthority.create("V2G sub-CA")
        store = MemoryStore()
        csms = Csms(
            store,
            certificate_authority=station_ca,
            pnc_hooks=PncHooks(v2g_ca),
            message_log=False,
        )
        await csms.start("127.0.0.1", 0)
        router, signed = receiving_certificate_signed(version)

        conn, runner = await booted(csms, version, router)
        extra: dict[str, Any] = {"request_id": 5} if version is OcppVersion.V21 else {}
        for kind, issuer in (
            ("V2GCertificate", v2g_ca),
            ("ChargingStationCertificate", station_ca),
        ):
            csr = make_csr(new_private_key(), f"CP-{version.value}", "CPO")
            request = module.SignCertificateRequest(csr=csr, certificate_type=kind, **extra)
            assert (await conn.call(request)).status == "Accepted"
            delivered = await asyncio.wait_for(signed.get(), 10)
            chain = load_certificates(delivered.certificate_chain)
            assert chain[0].issuer == issuer.certificate.subject, kind
            assert delivered.certificate_type == kind
            if version is OcppVersion.V21:
                assert delivered.request_id == 5
        events = await store.events(f"CP-{version.value}", "PnC.SignCertificate")
        assert [e.data["certificateType"] for e in events] == ["V2GCertificate"]
        bad = module.SignCertificateRequest(
            csr="no CSR", certificate_type="V2GCertificate", **extra
        )
        assert (await conn.call(bad)).status == "Rejected"
        await next_signed_is_the_next_csr(
            conn, signed, module, certificate_type="V2GCertificate", **extra
        )
        await conn.close()
        runner.cancel()
        await csms.close(grace=1)

    run(main)


class ExternalCa(PncHooks):
    """A Plug & Charge back end that has the V2G CSRs signed elsewhere (no local authority)."""

    async def sign_certificate(
        self, station: str, req: SignCertificateRequest
    ) -> SignCertificateResponse:
        answer: SignCertificateResponse = (
            v21 if isinstance(req, v21.SignCertificateRequest) else v201
        ).SignCertificateResponse(status="Accepted")
        return answer

    async def certificate_chain(self, station: str, req: SignCertificateRequest) -> str | None:
        return f"chain for {station}"


@pytest.mark.parametrize("version", list(OcppVersion), ids=str)
def test_the_hooks_chain_goes_back_through_the_tunnel_and_natively(version: OcppVersion) -> None:
    async def main() -> None:
        module = MODULES[version]
        csms = Csms(MemoryStore(), pnc_hooks=ExternalCa(), message_log=False)
        await csms.start("127.0.0.1", 0)
        csr = make_csr(new_private_key(), "SECC", "CPO")
        if version is OcppVersion.V16:
            signed: asyncio.Queue[Any] = asyncio.Queue()
            router = Router(version)

            @router.on(v16.DataTransferRequest)
            def data_transfer(req: v16.DataTransferRequest, conn: Any) -> Any:
                signed.put_nowait(unwrap(req, TO_STATION))
                return wrap_response(v201.CertificateSignedResponse(status="Accepted"))

            request: Any = wrap(v201.SignCertificateRequest(csr=csr))
        else:
            router, signed = receiving_certificate_signed(version)
            request = module.SignCertificateRequest(csr=csr, certificate_type="V2GCertificate")
        conn, runner = await booted(csms, version, router)
        assert (await conn.call(request)).status == "Accepted"
        delivered = await asyncio.wait_for(signed.get(), 10)
        assert delivered.certificate_chain == f"chain for CP-{version.value}"
        assert delivered.certificate_type == "V2GCertificate"
        await conn.close()
        runner.cancel()
        await csms.close(grace=1)

    run(main)
