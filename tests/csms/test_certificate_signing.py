"""SignCertificate on the CSMS: signed by its CA and sent back as CertificateSigned (1.6, 2.0.1,
2.1 with certificateType / requestId), Rejected without a CA or for a bad CSR — on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ocppkit.certificates import CertificateAuthority, load_certificates, make_csr, new_private_key
from ocppkit.csms.role import Csms
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


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_csr_comes_back_signed_as_certificate_signed(version: OcppVersion) -> None:
    async def main() -> None:
        module = MODULES[version]
        authority = CertificateAuthority.create()
        csms = Csms(MemoryStore(), certificate_authority=authority, message_log=False)
        await csms.start("127.0.0.1", 0)
        signed: asyncio.Queue[Any] = asyncio.Queue()
        router = Router(version)

        @router.on(module.CertificateSignedRequest)
        def certificate_signed(req: Any, conn: Any) -> Any:
            signed.put_nowait(req)
            return module.CertificateSignedResponse(status="Accepted")

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
        assert signed.empty()
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
