"""The Security Whitepaper end to end over real TLS on loopback, certificates made in the test:
the reference CSMS (profile 2: TLS + Basic auth, its CA signing CSRs, HTTP API in process) and
our 1.6 charge point stack (SQLite state file). Through the HTTP API the CSMS installs its root,
triggers a renewal; the CSR the stack makes is signed by the CSMS's CA and installed; with that
certificate the station then connects to a profile-3 CSMS (mutual TLS). A firmware image with a
tampered signature is refused with the right status and security event."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ocppkit.api import create_app
from ocppkit.certificates import CertificateAuthority, load_certificates, make_csr, new_private_key
from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    connected_charge_point,
    wait_accepted,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.csms import Csms
from ocppkit.csms.credentials import hash_password, store_auth
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.security import client_ssl_context, server_ssl_context
from ocppkit.store.sqlite import SqliteStore
from tests.runtime.certs import Pki

IDENTITY = "CP-TLS"
KEY_HEX = "0123456789abcdef0123456789abcdef"  # AuthorizationKey: 16 bytes as hex
IMAGE = b"firmware image bytes " * 500


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 60))


class Charger(ChargerCallbacks):
    """Wakes the test when a certificate is installed; 'downloads' firmware from memory."""

    def __init__(self, cp_image: bytes) -> None:
        self.installed = asyncio.Event()
        self.image = cp_image
        self.verified: asyncio.Queue[bool] = asyncio.Queue()
        self.cp: ChargePoint16 | None = None

    def certificate_installed(self, chain_pem: str) -> None:
        self.installed.set()

    async def update_signed_firmware(self, request: v16.SignedUpdateFirmwareRequest) -> None:
        assert self.cp is not None
        self.cp.signed_firmware_status("Downloaded")
        self.verified.put_nowait(await self.cp.verify_firmware(self.image))


@asynccontextmanager
async def csms_on(
    tmp_path: Path, pki: Pki, profile: int, authority: CertificateAuthority | None = None
) -> AsyncIterator[Csms]:
    store = SqliteStore(tmp_path / f"csms-{profile}.db")
    server_cert, server_key = pki.server_cert, pki.server_key
    ca_file = None
    if profile == 3 and authority is not None:
        ca_file = tmp_path / "station-ca.pem"
        ca_file.write_text(authority.certificate_pem)
    context = server_ssl_context(
        str(server_cert), str(server_key), cafile=str(ca_file) if ca_file else None,
        require_client_cert=profile == 3,
    )  # fmt: skip
    csms = Csms(
        store, security_profile=profile, auth=store_auth(store) if profile == 2 else None,
        certificate_authority=authority,
    )  # fmt: skip
    await csms.start("127.0.0.1", 0, ssl=context)
    if profile == 2:
        await store.set_password(IDENTITY, hash_password(bytes.fromhex(KEY_HEX)))
    try:
        yield csms
    finally:
        await csms.close(grace=1)


def client(csms: Csms, context: ssl.SSLContext, password: bytes | None) -> OcppClient:
    url = f"wss://localhost:{csms.server.port}/{IDENTITY}"
    return OcppClient(url, versions=[OcppVersion.V16], ssl=context, password=password)


def test_a_csr_signed_by_the_csms_ca_is_installed_and_then_used_for_mutual_tls(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        pki = Pki.create(tmp_path / "pki")
        authority = CertificateAuthority.create("CPO CA")
        maker = CertificateAuthority.create("Manufacturer")
        charger = Charger(IMAGE + b"tampered")
        runtime = AsyncioRuntime()
        trust = client_ssl_context(cafile=pki.ca_file)
        settings = {"CpoName": "ACME", "SecurityProfile": "2", "AuthorizationKey": KEY_HEX}
        async with csms_on(tmp_path, pki, 2, authority) as csms:
            link = client(csms, trust, bytes.fromhex(KEY_HEX))
            cp = ChargePoint16(
                store=SqliteStateStore(tmp_path / "cp.db"), link=ClientLink(link), clock=runtime,
                scheduler=runtime, vendor="ocppkit", model="tls", callbacks=charger,
                key_passphrase=b"pass phrase", config_defaults=settings,
            )  # fmt: skip
            charger.cp = cp
            transport = httpx.ASGITransport(app=create_app(csms))
            async with (
                connected_charge_point(cp, link),
                httpx.AsyncClient(transport=transport, base_url="http://api") as http,
            ):
                assert await wait_accepted(cp, timeout=10)

                async def call(action: str, payload: dict[str, Any]) -> Any:
                    answer = await http.post(
                        f"/api/stations/{IDENTITY}/calls/{action}", json=payload
                    )
                    assert answer.status_code == 200, answer.text
                    return answer.json()

                root = {"certificateType": "CentralSystemRootCertificate",
                        "certificate": authority.certificate_pem}  # fmt: skip
                assert await call("InstallCertificate", root) == {"status": "Accepted"}
                trigger = {"requestedMessage": "SignChargePointCertificate"}
                assert await call("ExtendedTriggerMessage", trigger) == {"status": "Accepted"}
                await asyncio.wait_for(charger.installed.wait(), 10)
                cert = cp.certificates.certificate()
                assert cert is not None
                assert cert.issuer == authority.certificate.subject
                assert cert.subject.rfc4514_string() == f"CN={IDENTITY},O=ACME"

                # signed firmware: a valid signing certificate, a signature the image fails
                signer_key = new_private_key()
                signer = load_certificates(authority_sign(maker, signer_key))[0]
                assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
                signature = signer_key.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
                maker_root = {"certificateType": "ManufacturerRootCertificate",
                              "certificate": maker.certificate_pem}  # fmt: skip
                assert await call("InstallCertificate", maker_root) == {"status": "Accepted"}
                update = {
                    "requestId": 4,
                    "firmware": {
                        "location": "https://fw.example/image.bin",
                        "retrieveDateTime": "2020-01-01T00:00:00Z",  # past: now
                        "signingCertificate": pem(signer),
                        "signature": base64.b64encode(signature).decode(),
                    },
                }
                assert await call("SignedUpdateFirmware", update) == {"status": "Accepted"}
                assert await asyncio.wait_for(charger.verified.get(), 10) is False
                kinds = [e["type"] for _, e in cp.security_log.entries]
                assert kinds[-1] == "InvalidFirmwareSignature"
                await runtime.drain()  # the status notifications were answered, so stored
                events = await csms.store.events(IDENTITY, "SignedFirmwareStatusNotification")
                statuses = [e.data["status"] for e in reversed(events)]
                assert statuses == ["Downloaded", "InvalidSignature"]
            chain, key = cp.certificates.client_credentials() or ("", "")

        (tmp_path / "cp-cert.pem").write_text(chain)
        (tmp_path / "cp-key.pem").write_text(key)
        mutual = client_ssl_context(
            cafile=pki.ca_file, certfile=str(tmp_path / "cp-cert.pem"),
            keyfile=str(tmp_path / "cp-key.pem"),
        )  # fmt: skip
        async with csms_on(tmp_path, pki, 3, authority) as strict:
            station = client(strict, mutual, None)
            connected = asyncio.Event()

            async def opened(conn: Any) -> None:
                connected.set()

            station.on_connect = opened
            runner = asyncio.create_task(station.run())
            try:
                await asyncio.wait_for(connected.wait(), 10)
                answer = await station.call(
                    v16.BootNotificationRequest(charge_point_vendor="v", charge_point_model="m")
                )
                assert answer.status == "Accepted"
            finally:
                await station.close()
                runner.cancel()

    run(main)


def authority_sign(authority: CertificateAuthority, key: Any) -> str:
    return authority.sign(make_csr(key, "firmware signer"))


def pem(cert: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return str(cert.public_bytes(serialization.Encoding.PEM).decode())
