"""Plug & Charge messages on the 1.6 stack (fake clock, scripted CSMS): the V2G certificate is
installed only when it chains to an installed V2G root and matches the pending SECC key; listed
with the hash data the CSMS computes, and never deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization

from ocppkit.certificates import (
    CertificateAuthority,
    hash_data,
    load_certificates,
    make_csr,
    new_private_key,
)
from ocppkit.iso15118 import TO_CSMS, unwrap, unwrap_response, wrap
from ocppkit.messages import v201
from ocppkit.messages._base import OcppRequest, OcppStruct
from tests.chargepoint.v16.harness import T0, FakeCsms, Harness, Recorder, make


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


class Secc(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.installed: list[str] = []

    def v2g_certificate_installed(self, chain_pem: str, key_pem: str) -> None:
        self.installed.append(chain_pem)


R = TypeVar("R", bound=OcppStruct)


async def tunnel(h: Harness, request: OcppRequest[Any], expected: type[R]) -> R:
    """A CSMS -> station Plug & Charge message and its 2.0.1 answer."""
    return unwrap_response(await h.call(wrap(request)), expected)


async def secc_stack() -> tuple[Harness, Secc]:
    """A started stack (identity SECC-1, encrypted keys) whose ISO 15118 side is ``Secc``."""
    h = make(csms=FakeCsms(boot_interval=864_000), identity="SECC-1", key_passphrase=b"k")
    secc = Secc()
    h.cp.callbacks = h.callbacks = secc
    await h.cp.start()
    return h, secc


async def v2g_csr(h: Harness, root: CertificateAuthority) -> v201.SignCertificateRequest:
    """Install ``root`` as V2G root, trigger SignV2GCertificate: the SECC's CSR."""
    install = v201.InstallCertificateRequest(
        certificate_type="V2GRootCertificate", certificate=root.certificate_pem
    )
    assert (await tunnel(h, install, v201.InstallCertificateResponse)).status == "Accepted"
    trigger = v201.TriggerMessageRequest(requested_message="SignV2GCertificate")
    assert (await tunnel(h, trigger, v201.TriggerMessageResponse)).status == "Accepted"
    sent = await h.csms.next("DataTransfer")  # the scripted CSMS answers without data
    request = unwrap(sent, TO_CSMS)
    assert isinstance(request, v201.SignCertificateRequest)
    assert request.certificate_type == "V2GCertificate"
    await h.settle()
    return request


def test_the_v2g_certificate_must_chain_to_a_v2g_root_and_match_the_pending_key() -> None:
    async def main() -> None:
        h, secc = await secc_stack()
        root = CertificateAuthority.create("V2G root", now=T0)
        other = CertificateAuthority.create("not V2G", now=T0)
        async with h.online():
            await h.csms.next("BootNotification")
            await h.settle()
            request = await v2g_csr(h, root)

            def signed(chain: str) -> v201.CertificateSignedRequest:
                return v201.CertificateSignedRequest(
                    certificate_chain=chain, certificate_type="V2GCertificate"
                )

            foreign_key = root.sign(make_csr(new_private_key(), "SECC-1"), now=T0)
            foreign_root = other.sign(request.csr, now=T0)
            for chain in (foreign_key, foreign_root):
                refused = await tunnel(h, signed(chain), v201.CertificateSignedResponse)
                assert refused.status == "Rejected"
            assert secc.installed == []
            good = root.sign(request.csr, now=T0)
            accepted = await tunnel(h, signed(good), v201.CertificateSignedResponse)
            assert accepted.status == "Accepted"
            assert secc.installed == [good]
            events = [e["type"] for _, e in h.cp.security_log.entries]
            assert events.count("InvalidChargePointCertificate") == 2

    run(main)


def test_a_v2g_leaf_sent_alone_is_listed_with_its_root_as_issuer_and_is_not_deleted() -> None:
    """A CertificateSigned chain may be the leaf alone (the root is installed): its hash data
    names the root's key, as the CSMS computes it, and DeleteCertificate of it is refused."""

    async def main() -> None:
        h, _ = await secc_stack()
        root = CertificateAuthority.create("V2G root", now=T0)
        async with h.online():
            await h.csms.next("BootNotification")
            await h.settle()
            request = await v2g_csr(h, root)
            leaf = load_certificates(root.sign(request.csr, now=T0))[0]
            alone = leaf.public_bytes(serialization.Encoding.PEM).decode()
            signed = v201.CertificateSignedRequest(
                certificate_chain=alone, certificate_type="V2GCertificate"
            )
            assert (await tunnel(h, signed, v201.CertificateSignedResponse)).status == "Accepted"

            asked = v201.GetInstalledCertificateIdsRequest(certificate_type=["V2GCertificateChain"])
            ids = await tunnel(h, asked, v201.GetInstalledCertificateIdsResponse)
            [entry] = ids.certificate_hash_data_chain or []
            expected = hash_data(leaf, root.certificate)
            listed = entry.certificate_hash_data
            assert (listed.issuer_key_hash, listed.serial_number) == (
                expected.issuer_key_hash,
                expected.serial_number,
            )
            delete = v201.DeleteCertificateRequest(certificate_hash_data=listed)
            refused = await tunnel(h, delete, v201.DeleteCertificateResponse)
            assert refused.status == "Failed"
            again = await tunnel(h, asked, v201.GetInstalledCertificateIdsResponse)
            assert again.status == "Accepted"

    run(main)
