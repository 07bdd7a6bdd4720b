"""Keys, CSRs, hash data (against cryptography's own OCSP CertID), chains, the CA and signed
firmware — with certificates made in the test."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from ocppkit.certificates import (
    CertificateAuthority,
    ChainError,
    FirmwareCheckError,
    HashData,
    dump_private_key,
    hash_data,
    is_self_signed,
    load_certificates,
    load_csr,
    load_private_key,
    make_csr,
    matches_key,
    new_private_key,
    verify_chain,
    verify_firmware,
)
from ocppkit.certificates.hashdata import HashAlgorithm
from ocppkit.certificates.keys import KeyType, PrivateKey

NOW = datetime.now(UTC)


def leaf_of(
    ca: CertificateAuthority, cn: str = "CP-1", kind: KeyType = "EC"
) -> tuple[x509.Certificate, PrivateKey]:
    key = new_private_key(kind)
    chain = load_certificates(ca.sign(make_csr(key, cn, "CPO")))
    return chain[0], key


def sub_ca(root: CertificateAuthority) -> CertificateAuthority:
    """An intermediate CA issued by ``root``."""
    key = new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sub CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(hours=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


@pytest.mark.parametrize("kind", ["EC", "RSA"])
def test_keys_round_trip_encrypted_and_refuse_a_wrong_passphrase(kind: KeyType) -> None:
    key = new_private_key(kind)
    pem = dump_private_key(key, b"secret")
    assert "ENCRYPTED PRIVATE KEY" in pem
    again = load_private_key(pem, b"secret")
    assert again.private_numbers() == key.private_numbers()
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography says only ValueError
        load_private_key(pem, b"wrong")
    assert "BEGIN PRIVATE KEY" in dump_private_key(key, None)


def test_a_csr_names_the_charge_point_and_the_cpo() -> None:
    key = new_private_key()
    csr = x509.load_pem_x509_csr(make_csr(key, "CP-7", "ACME CPO").encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-7"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME CPO"
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
@pytest.mark.parametrize("kind", ["EC", "RSA"])
def test_hash_data_is_the_ocsp_cert_id(algorithm: HashAlgorithm, kind: KeyType) -> None:
    ca = CertificateAuthority.create(kind=kind)
    leaf, _ = leaf_of(ca)
    digest = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
    request = (
        ocsp.OCSPRequestBuilder().add_certificate(leaf, ca.certificate, digest[algorithm]).build()
    )
    ours = hash_data(leaf, ca.certificate, algorithm)
    assert ours.issuer_name_hash == request.issuer_name_hash.hex()
    assert ours.issuer_key_hash == request.issuer_key_hash.hex()
    assert ours.serial_number == format(request.serial_number, "x")  # lower case, no padding
    root = hash_data(ca.certificate)  # self-signed: its own key
    root_request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(ca.certificate, ca.certificate, hashes.SHA256())
        .build()
    )
    assert root.issuer_key_hash == root_request.issuer_key_hash.hex()


def test_hash_data_serial_is_hex_without_leading_zeros_and_compares_ignoring_case() -> None:
    a = HashData("SHA256", "AB", "CD", "fff")
    assert a.same_as(HashData("SHA256", "ab", "cd", "0FFF"))
    assert not a.same_as(HashData("SHA384", "ab", "cd", "fff"))
    assert not a.same_as(HashData("SHA256", "ab", "cd", "ffe"))


def test_chains_verify_to_their_root_through_a_sub_ca() -> None:
    root = CertificateAuthority.create()
    sub = sub_ca(root)
    leaf, key = leaf_of(sub)
    chain = load_certificates(sub.sign(make_csr(key, "CP-1")))
    assert len(chain) == 2
    assert verify_chain(chain, [root.certificate], NOW) == root.certificate
    assert matches_key(chain[0], key)
    assert not matches_key(chain[0], new_private_key())
    assert is_self_signed(root.certificate)
    assert not is_self_signed(leaf)


def test_chain_errors_say_why() -> None:
    root, other = CertificateAuthority.create(), CertificateAuthority.create()
    leaf, _ = leaf_of(root)
    with pytest.raises(ChainError, match="installed root"):
        verify_chain([leaf], [other.certificate], NOW)
    with pytest.raises(ChainError, match="no trusted root"):
        verify_chain([leaf], [], NOW)
    with pytest.raises(ChainError, match="expired"):
        verify_chain([leaf], [root.certificate], NOW + timedelta(days=400))
    with pytest.raises(ChainError, match="not valid before"):
        verify_chain([leaf], [root.certificate], NOW - timedelta(days=1))
    fake_sub, key = leaf_of(root, "not a CA")
    impostor = CertificateAuthority(fake_sub, key)
    grandchild, _ = leaf_of(impostor)
    with pytest.raises(ChainError, match="not a CA"):
        verify_chain([grandchild, fake_sub], [root.certificate], NOW)
    with pytest.raises(ChainError, match="PEM"):
        load_certificates("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    der = bytearray(
        x509.load_pem_x509_csr(make_csr(new_private_key(), "CP").encode()).public_bytes(
            serialization.Encoding.DER
        )
    )
    der[-1] ^= 0x01  # the last byte of the signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(ChainError, match="signature does not verify"):
        root.sign(forged)
    with pytest.raises(ChainError, match="signature does not verify"):
        load_csr(forged)
    assert load_csr(make_csr(new_private_key(), "CP")).subject == x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "CP")]
    )


def test_firmware_signatures_rsa_pss_and_ecdsa() -> None:
    maker = CertificateAuthority.create("Manufacturer root")
    data = b"firmware image " * 1000
    for kind in ("RSA", "EC"):
        signer, key = leaf_of(maker, "signer", kind)
        pem = signer.public_bytes(serialization.Encoding.PEM).decode()
        if isinstance(key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
            raw = key.sign(data, pss, hashes.SHA256())
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            raw = key.sign(data, ec.ECDSA(hashes.SHA256()))
        signature = base64.b64encode(raw).decode()
        verify_firmware(data, signature, pem, [maker.certificate], NOW)
        with pytest.raises(FirmwareCheckError) as tampered:
            verify_firmware(data + b"!", signature, pem, [maker.certificate], NOW)
        assert tampered.value.kind == "InvalidSignature"
        stranger = CertificateAuthority.create("someone else")
        with pytest.raises(FirmwareCheckError) as untrusted:
            verify_firmware(data, signature, pem, [stranger.certificate], NOW)
        assert untrusted.value.kind == "InvalidCertificate"
    with pytest.raises(FirmwareCheckError, match="base64"):
        verify_firmware(data, "***", pem, [maker.certificate], NOW)
