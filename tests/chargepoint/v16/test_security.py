"""The Security Whitepaper on the 1.6 charge point stack: the security log and its events,
GetLog, ExtendedTriggerMessage, certificates (install, delete, list, renew) and signed firmware —
on a fake clock, with certificates made in the test."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocppkit.certificates import (
    CertificateAuthority,
    hash_data,
    load_certificates,
    make_csr,
    new_private_key,
)
from ocppkit.chargepoint.asyncio_runtime import _tls
from ocppkit.messages import v16
from tests.chargepoint.v16.harness import T0, FakeCsms, Harness, Recorder, make

PASSPHRASE = b"correct horse battery staple"


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


class SecurityRecorder(Recorder):
    """Also answers GetLog and remembers signed firmware updates."""

    def __init__(self) -> None:
        super().__init__()
        self.logs: list[tuple[str, str | None]] = []
        self.signed: list[v16.SignedUpdateFirmwareRequest] = []

    async def upload_log(self, request: v16.GetLogRequest, security_log: str | None) -> str | None:
        self.logs.append((request.log_type, security_log))
        return f"{request.log_type}-{request.request_id}.log"

    async def update_signed_firmware(self, request: v16.SignedUpdateFirmwareRequest) -> None:
        self.signed.append(request)


def stack(csms: FakeCsms | None = None, **kwargs: Any) -> tuple[Harness, SecurityRecorder]:
    h = make(
        csms=csms or FakeCsms(boot_interval=864_000), identity="CP-SEC",
        key_passphrase=PASSPHRASE, **kwargs,
    )  # fmt: skip
    recorder = SecurityRecorder()
    h.cp.callbacks = h.callbacks = recorder
    return h, recorder


async def booted(h: Harness) -> None:
    """The boot, the first statuses and the StartupOfTheDevice event."""
    await h.csms.next("BootNotification")
    for n in range(h.cp.connector_count + 1):
        assert (await h.csms.next("StatusNotification")).connector_id == n
    startup = await h.csms.next("SecurityEventNotification")
    assert startup.type == "StartupOfTheDevice"
    await h.settle()


def ca(name: str = "test CA") -> CertificateAuthority:
    """A CA valid on the stack's fake clock."""
    return CertificateAuthority.create(name, now=T0)


def sign(authority: CertificateAuthority, csr: str) -> str:
    return authority.sign(csr, now=T0)


def logged(h: Harness) -> list[str]:
    return [entry["type"] for _, entry in h.cp.security_log.entries]


def pem(ca: CertificateAuthority) -> str:
    return ca.certificate_pem


# -- the security log -----------------------------------------------------------------------------
def test_critical_events_are_sent_the_others_only_logged_and_the_log_is_bounded() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        h.cp.security_log.capacity = 3
        async with h.online():
            await booted(h)
            answer = await h.call(v16.ChangeConfigurationRequest(key="CpoName", value="ACME"))
            assert answer.status == "Accepted"
            await h.settle()  # ReconfigurationOfSecurityParameters: logged, not critical
            assert await h.call(v16.ResetRequest(type="Soft")) is not None
            reset = await h.csms.next("SecurityEventNotification")
            assert (reset.type, reset.tech_info) == ("ResetOrReboot", "Soft reset by the CSMS")
            await h.cp.security_event("InvalidMessages", "bad frame")
            await h.settle()
            assert h.csms.pending("SecurityEventNotification") == 0
            assert logged(h) == [
                "ReconfigurationOfSecurityParameters",
                "ResetOrReboot",
                "InvalidMessages",
            ]  # the oldest (StartupOfTheDevice) dropped: capacity 3
            assert len(await h.store.load("security_log")) == 3
        await h.cp.close()
        again, _ = stack(store=h.store, clock=h.clock)
        await again.cp.start()
        assert logged(again) == [
            "ReconfigurationOfSecurityParameters",
            "ResetOrReboot",
            "InvalidMessages",
            "StartupOfTheDevice",  # the new start's
        ]
        await again.cp.close()

    run(main)


def test_a_large_clock_change_from_the_csms_is_a_setting_system_time_event() -> None:
    async def main() -> None:
        h, _ = stack()
        h.clock.set_time(T0 - timedelta(hours=2))  # the charger's clock is 2 h behind
        await h.cp.start()
        async with h.online():
            await h.csms.next("BootNotification")
            first = await h.csms.next("SecurityEventNotification")
            second = await h.csms.next("SecurityEventNotification")
            assert {first.type, second.type} == {"StartupOfTheDevice", "SettingSystemTime"}
            moved = first if first.type == "SettingSystemTime" else second
            assert moved.tech_info == "moved by 7200 s"

    run(main)


def test_get_log_hands_the_security_log_over_and_reports_progress() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            await h.cp.security_event("TamperDetectionActivated", "lid")
            await h.csms.next("SecurityEventNotification")
            answer = await h.call(
                v16.GetLogRequest(
                    log_type="SecurityLog",
                    request_id=5,
                    log=v16.LogParametersType(remote_location="ftp://logs.example/"),
                )
            )
            assert (answer.status, answer.filename) == ("Accepted", "SecurityLog-5.log")
            kind, text = rec.logs[0]
            assert kind == "SecurityLog"
            assert text is not None
            assert text.splitlines()[-1].endswith("TamperDetectionActivated lid")
            h.cp.log_status("Uploading", 5)
            progress = await h.csms.next("LogStatusNotification")
            assert (progress.status, progress.request_id) == ("Uploading", 5)
            again = await h.call(
                v16.GetLogRequest(
                    log_type="DiagnosticsLog",
                    request_id=6,
                    log=v16.LogParametersType(remote_location="ftp://logs.example/"),
                )
            )
            assert again.status == "AcceptedCanceled"  # an upload was running
            assert rec.logs[1] == ("DiagnosticsLog", None)
            trigger = v16.ExtendedTriggerMessageRequest(requested_message="LogStatusNotification")
            assert (await h.call(trigger)).status == "Accepted"
            assert (await h.csms.next("LogStatusNotification")).status == "Uploading"
            h.cp.log_status("Uploaded", 6)
            assert (await h.csms.next("LogStatusNotification")).status == "Uploaded"
            await h.call(trigger)
            idle = await h.csms.next("LogStatusNotification")
            assert (idle.status, idle.request_id) == ("Idle", None)

    run(main)


def test_extended_trigger_sends_the_core_messages_and_rejects_unknown_connectors() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        async with h.online():
            await booted(h)
            status = v16.ExtendedTriggerMessageRequest(
                requested_message="StatusNotification", connector_id=2
            )
            assert (await h.call(status)).status == "Accepted"
            assert (await h.csms.next("StatusNotification")).connector_id == 2
            wrong = v16.ExtendedTriggerMessageRequest(
                requested_message="StatusNotification", connector_id=3
            )
            assert (await h.call(wrong)).status == "Rejected"

    run(main)


# -- certificates ---------------------------------------------------------------------------------
def test_install_list_and_delete_root_certificates() -> None:
    async def main() -> None:
        h, _ = stack(config={"CertificateStoreMaxLength": "2"})
        await h.cp.start()
        csms_root, maker = ca("CSMS root"), ca()
        async with h.online():
            await booted(h)

            async def install(kind: Any, text: str) -> str:
                answer = await h.call(
                    v16.InstallCertificateRequest(certificate_type=kind, certificate=text)
                )
                return str(answer.status)

            assert await install("CentralSystemRootCertificate", pem(csms_root)) == "Accepted"
            assert await install("CentralSystemRootCertificate", pem(csms_root)) == "Accepted"
            leaf = sign(csms_root, make_csr(new_private_key(), "not a root"))
            assert await install("ManufacturerRootCertificate", leaf) == "Rejected"
            assert await install("ManufacturerRootCertificate", "garbage") == "Rejected"
            assert await install("ManufacturerRootCertificate", pem(maker)) == "Accepted"
            third = ca("one too many")
            assert await install("ManufacturerRootCertificate", pem(third)) == "Rejected"

            ids = await h.call(
                v16.GetInstalledCertificateIdsRequest(
                    certificate_type="CentralSystemRootCertificate"
                )
            )
            expected = hash_data(csms_root.certificate)
            assert ids.status == "Accepted"
            [got] = ids.certificate_hash_data
            assert (got.issuer_name_hash, got.issuer_key_hash, got.serial_number) == (
                expected.issuer_name_hash,
                expected.issuer_key_hash,
                expected.serial_number,
            )
            upper = v16.CertificateHashDataType(
                hash_algorithm="SHA256",
                issuer_name_hash=got.issuer_name_hash.upper(),
                issuer_key_hash=got.issuer_key_hash.upper(),
                serial_number=got.serial_number.upper(),
            )
            deleted = await h.call(v16.DeleteCertificateRequest(certificate_hash_data=upper))
            assert deleted.status == "Accepted"
            gone = await h.call(v16.DeleteCertificateRequest(certificate_hash_data=upper))
            assert gone.status == "NotFound"
            none = await h.call(
                v16.GetInstalledCertificateIdsRequest(
                    certificate_type="CentralSystemRootCertificate"
                )
            )
            assert none.status == "NotFound"
            assert len(await h.store.load("certificates")) == 1

    run(main)


def test_the_last_csms_root_stays_while_tls_needs_it() -> None:
    async def main() -> None:
        h, _ = stack(config={"SecurityProfile": "2", "AuthorizationKey": "00" * 16})
        await h.cp.start()
        root = ca()
        async with h.online():
            await booted(h)
            await h.call(
                v16.InstallCertificateRequest(
                    certificate_type="CentralSystemRootCertificate", certificate=pem(root)
                )
            )
            data = hash_data(root.certificate)
            wire = v16.CertificateHashDataType(
                hash_algorithm="SHA256", issuer_name_hash=data.issuer_name_hash,
                issuer_key_hash=data.issuer_key_hash, serial_number=data.serial_number,
            )  # fmt: skip
            answer = await h.call(v16.DeleteCertificateRequest(certificate_hash_data=wire))
            assert answer.status == "Failed"

    run(main)


def test_renewal_signs_a_csr_and_installs_the_matching_chain_with_an_encrypted_key() -> None:
    async def main() -> None:
        h, _ = stack(config={"CpoName": "ACME CPO"})
        await h.cp.start()
        root = ca("CPO root")
        async with h.online():
            await booted(h)
            await h.call(
                v16.InstallCertificateRequest(
                    certificate_type="CentralSystemRootCertificate", certificate=pem(root)
                )
            )
            trigger = v16.ExtendedTriggerMessageRequest(
                requested_message="SignChargePointCertificate"
            )
            assert (await h.call(trigger)).status == "Accepted"
            csr = (await h.csms.next("SignCertificate")).csr
            assert "CERTIFICATE REQUEST" in csr
            pending = (await h.store.load("cp_certificate"))["pending"]
            assert "ENCRYPTED PRIVATE KEY" in pending

            stranger = ca("not our CPO")
            wrong_ca = await h.call(
                v16.CertificateSignedRequest(certificate_chain=sign(stranger, csr))
            )
            assert wrong_ca.status == "Rejected"
            other_key = sign(root, make_csr(new_private_key(), "CP-SEC"))
            wrong_key = await h.call(v16.CertificateSignedRequest(certificate_chain=other_key))
            assert wrong_key.status == "Rejected"
            await h.settle()
            assert logged(h)[-2:] == ["InvalidChargePointCertificate"] * 2

            chain = sign(root, csr)
            signed = await h.call(v16.CertificateSignedRequest(certificate_chain=chain))
            assert signed.status == "Accepted"
            cert = h.cp.certificates.certificate()
            assert cert is not None
            assert cert.subject.rfc4514_string() == "CN=CP-SEC,O=ACME CPO"
            own = await h.store.load("cp_certificate")
            assert set(own) == {"key", "chain"}
            assert load_certificates(own["chain"])[0] == cert
            credentials = h.cp.certificates.client_credentials()
            assert credentials is not None
            assert "BEGIN PRIVATE KEY" in credentials[1]
            # profile 2 presents no client certificate: a key that does not decrypt is no
            # matter there; profile 3 needs it
            h.cp.certificates.passphrase = b"not the passphrase"
            assert _tls(h.cp, 2, None).minimum_version is ssl.TLSVersion.TLSv1_2
            with pytest.raises(ValueError, match="password"):
                _tls(h.cp, 3, None)

    run(main)


# -- signed firmware ------------------------------------------------------------------------------
def test_signed_firmware_checks_the_certificate_then_the_signature() -> None:
    async def main() -> None:
        h, rec = stack()
        await h.cp.start()
        maker = ca("Manufacturer root")
        signer_key = new_private_key()
        signer = sign(maker, make_csr(signer_key, "firmware signer"))
        signing_pem = load_certificates(signer)[0].public_bytes(serialization.Encoding.PEM).decode()
        image = b"\x7fELF firmware" * 100
        assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
        signature = base64.b64encode(signer_key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()

        def update(
            cert: str, at: Any = T0 + timedelta(minutes=5)
        ) -> v16.SignedUpdateFirmwareRequest:
            return v16.SignedUpdateFirmwareRequest(
                request_id=9,
                firmware=v16.FirmwareType(
                    location="https://fw.example/image.bin", retrieve_date_time=at,
                    signing_certificate=cert, signature=signature,
                ),
            )  # fmt: skip

        async with h.online():
            await booted(h)
            untrusted = await h.call(update(signing_pem))  # no manufacturer root installed yet
            assert untrusted.status == "InvalidCertificate"
            await h.settle()
            assert logged(h)[-1] == "InvalidFirmwareSigningCertificate"
            await h.call(
                v16.InstallCertificateRequest(
                    certificate_type="ManufacturerRootCertificate", certificate=pem(maker)
                )
            )
            assert (await h.call(update(signing_pem))).status == "Accepted"
            assert (await h.call(update(signing_pem))).status == "AcceptedCanceled"
            assert rec.signed == []
            h.clock.advance(300)
            await h.settle()
            assert [r.request_id for r in rec.signed] == [9]
            assert not await h.cp.verify_firmware(image + b"tampered")
            bad = await h.csms.next("SignedFirmwareStatusNotification")
            assert (bad.status, bad.request_id) == ("InvalidSignature", 9)
            await h.settle()
            assert logged(h)[-1] == "InvalidFirmwareSignature"
            assert await h.cp.verify_firmware(image)
            good = await h.csms.next("SignedFirmwareStatusNotification")
            assert (good.status, good.request_id) == ("SignatureVerified", 9)
            h.cp.signed_firmware_status("Installed")
            assert (await h.csms.next("SignedFirmwareStatusNotification")).status == "Installed"
            trigger = v16.ExtendedTriggerMessageRequest(
                requested_message="FirmwareStatusNotification"
            )
            await h.call(trigger)
            idle = await h.csms.next("SignedFirmwareStatusNotification")
            assert (idle.status, idle.request_id) == ("Idle", None)

    run(main)


def test_an_expiring_certificate_is_renewed_and_an_expiring_root_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        root = CertificateAuthority.create("short root", now=T0, lifetime=timedelta(days=20))
        async with h.online():
            await booted(h)
            install = v16.InstallCertificateRequest(
                certificate_type="CentralSystemRootCertificate", certificate=pem(root)
            )
            assert (await h.call(install)).status == "Accepted"
            trigger = v16.ExtendedTriggerMessageRequest(
                requested_message="SignChargePointCertificate"
            )
            await h.call(trigger)
            csr = (await h.csms.next("SignCertificate")).csr
            brief = dataclasses.replace(root, validity=timedelta(days=10))
            chain = brief.sign(csr, now=T0)
            assert (await h.call(v16.CertificateSignedRequest(certificate_chain=chain))).status == (
                "Accepted"
            )
            await h.settle()
            assert h.csms.pending("SignCertificate") == 0
            caplog.clear()
            h.clock.advance(86_400)  # the daily check: 9 days left < 30
            await h.settle()
            renewal = await h.csms.next("SignCertificate")
            assert "CERTIFICATE REQUEST" in renewal.csr
            assert "expires" in caplog.text
            assert "CentralSystemRootCertificate" in caplog.text

    run(main)


def test_a_signed_update_accepted_before_a_restart_is_started_after_it() -> None:
    async def main() -> None:
        h, _ = stack()
        await h.cp.start()
        maker = ca("Manufacturer root")
        chain = sign(maker, make_csr(new_private_key(), "signer"))
        signer = load_certificates(chain)[0].public_bytes(serialization.Encoding.PEM).decode()
        async with h.online():
            await booted(h)
            install = v16.InstallCertificateRequest(
                certificate_type="ManufacturerRootCertificate", certificate=pem(maker)
            )
            await h.call(install)
            update = v16.SignedUpdateFirmwareRequest(
                request_id=3,
                firmware=v16.FirmwareType(
                    location="https://fw.example/a.bin", retrieve_date_time=T0 + timedelta(hours=1),
                    signing_certificate=signer, signature=base64.b64encode(b"x").decode(),
                ),
            )  # fmt: skip
            assert (await h.call(update)).status == "Accepted"
        await h.cp.close()
        again, rec = stack(store=h.store, clock=h.clock)
        await again.cp.start()
        assert rec.signed == []
        h.clock.advance(3600)
        await again.settle()
        assert [r.request_id for r in rec.signed] == [3]
        assert (await again.store.load("signed_firmware")) == {}
        await again.cp.close()

    run(main)


def test_a_charge_point_without_certificates_never_imports_cryptography_nor_2_x_messages() -> None:
    script = """
import asyncio, sys
from ocppkit.chargepoint.asyncio_runtime import AsyncioRuntime
from ocppkit.chargepoint.state import MemoryStateStore
from ocppkit.chargepoint.v16.stack import ChargePoint16

class Offline:
    connected = False
    async def call(self, request, *, timeout=None):
        raise ConnectionError

async def main():
    runtime = AsyncioRuntime()
    cp = ChargePoint16(store=MemoryStateStore(), link=Offline(), clock=runtime,
                       scheduler=runtime, vendor="v", model="m")
    await cp.start()
    assert cp.has_certificates
    await cp.close()

asyncio.run(main())
heavy = ("cryptography", "ocppkit.messages.v201", "ocppkit.messages.v21")
print(sorted(m for m in sys.modules if m.startswith(heavy)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # none of the heavy modules is imported at start-up
