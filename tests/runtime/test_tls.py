"""Security profiles 2 and 3 over real TLS on loopback (certificates made by ``certs.Pki``)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from ocppkit.messages import v16, v201
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.security import client_ssl_context, server_ssl_context
from ocppkit.runtime.server import Handshake, OcppServer
from tests.runtime.certs import Pki

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = b"0123456789abcdef0123"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def csms_routers() -> dict[OcppVersion, Router]:
    r16, r201 = Router(OcppVersion.V16), Router(OcppVersion.V201)

    @r16.on(v16.HeartbeatRequest)
    async def heartbeat16(req: v16.HeartbeatRequest, conn: OcppConnection) -> Any:
        return v16.HeartbeatResponse(current_time=NOW)

    @r201.on(v201.HeartbeatRequest)
    async def heartbeat201(req: v201.HeartbeatRequest, conn: OcppConnection) -> Any:
        return v201.HeartbeatResponse(current_time=NOW)

    return {OcppVersion.V16: r16, OcppVersion.V201: r201}


class AuthLog:
    """An auth hook that records every handshake and checks the profile-2 password."""

    def __init__(self) -> None:
        self.seen: list[Handshake] = []

    async def __call__(self, hs: Handshake) -> bool:
        self.seen.append(hs)
        return hs.password in (None, PASSWORD)  # None: profile 3 (no Basic credentials)


@asynccontextmanager
async def tls_server(
    pki: Pki, profile: int, auth: AuthLog, *, require_client_cert: bool = False
) -> AsyncIterator[tuple[OcppServer, int]]:
    server = OcppServer(csms_routers(), auth=auth, security_profile=profile)
    context = server_ssl_context(
        str(pki.server_cert),
        str(pki.server_key),
        cafile=pki.ca_file if require_client_cert else None,
        require_client_cert=require_client_cert,
    )
    await server.start("127.0.0.1", 0, ssl=context)
    try:
        yield server, server.port
    finally:
        await server.close(grace=1)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


async def heartbeat_round_trip(client: OcppClient) -> OcppConnection:
    """Connect, check one Heartbeat, close."""
    conn = await client.connect()
    runner = asyncio.create_task(conn.run())
    if conn.version is OcppVersion.V201:
        assert (await client.call(v201.HeartbeatRequest())).current_time == NOW
    else:
        assert (await client.call(v16.HeartbeatRequest())).current_time == NOW
    await client.close()
    await runner
    return conn


# -- profile 2: Basic auth over TLS -------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # IP and DNS subjectAltName
def test_profile_2_basic_auth_over_tls(pki: Pki, host: str) -> None:
    auth = AuthLog()

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (_, port):
            client = OcppClient(
                f"wss://{host}:{port}/ocpp/CP1",
                versions=[OcppVersion.V201],
                password=PASSWORD,
                ssl=client_ssl_context(cafile=pki.ca_file),
            )
            conn = await heartbeat_round_trip(client)
            assert conn.version is OcppVersion.V201
            assert conn.closed
        (hs,) = auth.seen
        assert hs.identity == "CP1"
        assert hs.username == "CP1"
        assert hs.password == PASSWORD
        assert hs.tls is True
        assert hs.peer_certificate is None  # profile 2: no client certificate asked for

    run(main)


def test_profile_2_wrong_or_missing_password_is_401(pki: Pki) -> None:
    auth = AuthLog()

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (server, port):
            url = f"wss://127.0.0.1:{port}/ocpp/CP1"
            context = client_ssl_context(cafile=pki.ca_file)
            with pytest.raises(HandshakeError) as wrong:
                await OcppClient(url, password=b"not the key", ssl=context).connect()
            assert wrong.value.status == 401
            with pytest.raises(HandshakeError) as missing:
                await OcppClient(url, ssl=context).connect()
            assert missing.value.status == 401
            assert missing.value.reason == "HTTP Basic credentials required"
            assert server.connections == {}
        # the request without credentials was refused by the profile check, before the hook
        assert [hs.password for hs in auth.seen] == [b"not the key"]

    run(main)


@pytest.mark.parametrize("profile", [2, 3])
def test_profile_2_and_3_servers_need_an_ssl_context(profile: int) -> None:
    async def main() -> None:
        server = OcppServer(csms_routers(), security_profile=profile)
        with pytest.raises(ValueError, match=f"security profile {profile} needs an SSL context"):
            await server.start("127.0.0.1", 0)

    run(main)


def test_plain_ws_client_to_a_tls_server_fails(pki: Pki) -> None:
    auth = AuthLog()

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (server, port):
            client = OcppClient(f"ws://127.0.0.1:{port}/ocpp/CP1", password=PASSWORD)
            with pytest.raises(HandshakeError) as info:
                await client.connect()
            assert info.value.status == 0  # no HTTP response: the TLS server drops the bytes
            assert server.connections == {}
        assert auth.seen == []

    run(main)


def test_client_refuses_a_server_certificate_from_an_untrusted_ca(pki: Pki) -> None:
    auth = AuthLog()

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (_, port):
            client = OcppClient(
                f"wss://127.0.0.1:{port}/ocpp/CP1",
                password=PASSWORD,
                ssl=client_ssl_context(cafile=str(pki.untrusted_ca.cert_path)),
            )
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.connect()
        assert auth.seen == []

    run(main)


# -- profile 3: mutual TLS ------------------------------------------------------------------------


def test_profile_3_client_certificate_with_the_identity_as_cn(pki: Pki) -> None:
    auth = AuthLog()
    certfile, keyfile = pki.client("CP1")

    async def main() -> None:
        cp_router = Router(OcppVersion.V16)

        @cp_router.on(v16.ResetRequest)
        async def reset(req: v16.ResetRequest, conn: OcppConnection) -> v16.ResetResponse:
            return v16.ResetResponse(status="Accepted" if req.type == "Soft" else "Rejected")

        async with tls_server(pki, 3, auth, require_client_cert=True) as (server, port):
            client = OcppClient(
                f"wss://localhost:{port}/ocpp/CP1",
                cp_router,
                ssl=client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile),
            )
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            assert (await client.call(v16.HeartbeatRequest())).current_time == NOW
            # and the other way, CSMS -> charge point, over the same TLS connection
            response = await server.call("CP1", v16.ResetRequest(type="Soft"))
            assert response == v16.ResetResponse(status="Accepted")
            await client.close()
            await runner

        (hs,) = auth.seen
        assert hs.tls is True
        assert hs.identity == "CP1"
        assert hs.password is None  # profile 3 needs no Basic credentials
        assert hs.peer_certificate is not None
        assert (("commonName", "CP1"),) in hs.peer_certificate["subject"]
        assert (("commonName", "ocppkit test CA"),) in hs.peer_certificate["issuer"]
        assert hs.peer_certificate_der is not None
        der = x509.load_der_x509_certificate(hs.peer_certificate_der)
        cn = der.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert [a.value for a in cn] == ["CP1"]
        assert der == x509.load_pem_x509_certificate(Path(certfile).read_bytes())

    run(main)


def test_profile_3_cn_mismatch_is_403(pki: Pki) -> None:
    auth = AuthLog()
    certfile, keyfile = pki.client("CP2")

    async def main() -> None:
        async with tls_server(pki, 3, auth, require_client_cert=True) as (server, port):
            client = OcppClient(
                f"wss://127.0.0.1:{port}/ocpp/CP1",
                ssl=client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile),
            )
            with pytest.raises(HandshakeError) as info:
                await client.connect()
            assert info.value.status == 403
            assert info.value.reason == "client certificate CN does not match the identity"
            assert server.connections == {}
        assert auth.seen == []

    run(main)


def test_profile_3_server_whose_context_asks_no_certificate_answers_403(pki: Pki) -> None:
    auth = AuthLog()
    certfile, keyfile = pki.client("CP1")

    async def main() -> None:
        # a misconfigured profile-3 server: TLS without CERT_REQUIRED, so no client certificate
        async with tls_server(pki, 3, auth, require_client_cert=False) as (server, port):
            client = OcppClient(
                f"wss://127.0.0.1:{port}/ocpp/CP1",
                ssl=client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile),
            )
            with pytest.raises(HandshakeError) as info:
                await client.connect()
            assert info.value.status == 403
            assert info.value.reason == "client certificate required"
            assert server.connections == {}
        assert auth.seen == []

    run(main)


@pytest.mark.parametrize("certificate", ["none", "untrusted CA"])
def test_profile_3_without_a_trusted_client_certificate_is_refused(
    pki: Pki, certificate: str
) -> None:
    auth = AuthLog()
    good_cert, good_key = pki.client("CP1")
    if certificate == "none":
        bad_context = client_ssl_context(pki.ca_file)
    else:
        certfile, keyfile = pki.untrusted_client("CP1")
        bad_context = client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile)

    async def main() -> None:
        async with tls_server(pki, 3, auth, require_client_cert=True) as (server, port):
            url = f"wss://127.0.0.1:{port}/ocpp/CP1"
            # CERT_REQUIRED: the server ends the TLS handshake with an alert. Under TLS 1.3 the
            # client has already sent its HTTP request, so what it sees is the connection closing
            # before any HTTP response: HandshakeError with status 0 (no HTTP status).
            with pytest.raises(HandshakeError) as info:
                await OcppClient(url, ssl=bad_context).connect()
            assert info.value.status == 0
            assert server.connections == {}
            assert auth.seen == []
            # the listener is unharmed: a good certificate still gets in
            good = OcppClient(
                url, ssl=client_ssl_context(pki.ca_file, certfile=good_cert, keyfile=good_key)
            )
            await heartbeat_round_trip(good)
        assert [hs.identity for hs in auth.seen] == ["CP1"]

    run(main)


# -- TLS versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_accepted(pki: Pki, version: ssl.TLSVersion) -> None:
    auth = AuthLog()

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (server, port):
            context = client_ssl_context(pki.ca_file)
            context.minimum_version = context.maximum_version = version
            client = OcppClient(f"wss://127.0.0.1:{port}/ocpp/CP1", password=PASSWORD, ssl=context)
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            assert server.get("CP1") is not None
            assert (await client.call(v16.HeartbeatRequest())).current_time == NOW
            await client.close()
            await runner
        assert len(auth.seen) == 1

    run(main)


def tls_1_1_client_context(cafile: str) -> ssl.SSLContext:
    """A client context that offers only TLS 1.1 (skips if OpenSSL cannot build one)."""
    if not ssl.HAS_TLSv1_1:
        pytest.skip("this OpenSSL was built without TLS 1.1")
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        # OpenSSL 3 refuses TLS < 1.2 at security level >= 1: drop to 0 so that the client
        # really offers TLS 1.1 and the refusal below is the server's
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"local OpenSSL cannot build a TLS 1.1 client context: {exc}")
    return context


async def negotiates_tls_1_1(pki: Pki, client_context: ssl.SSLContext) -> bool:
    """Control: does this client context complete TLS 1.1 with a server that allows it?"""
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    try:
        permissive.minimum_version = ssl.TLSVersion.TLSv1_1
        permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return False

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=permissive)
    try:
        port = server.sockets[0].getsockname()[1]
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        except (ssl.SSLError, OSError):
            return False
        version = writer.get_extra_info("ssl_object").version()
        writer.close()
        return bool(version == "TLSv1.1")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_1_is_refused(pki: Pki) -> None:
    auth = AuthLog()
    context = tls_1_1_client_context(pki.ca_file)
    if not asyncio.run(negotiates_tls_1_1(pki, context)):
        pytest.skip("local OpenSSL cannot negotiate TLS 1.1 even with a permissive server")

    async def main() -> None:
        async with tls_server(pki, 2, auth) as (server, port):
            client = OcppClient(f"wss://127.0.0.1:{port}/ocpp/CP1", password=PASSWORD, ssl=context)
            # the server (minimum TLS 1.2) ends the handshake: an alert or a reset, not HTTP
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await client.connect()
            assert server.connections == {}
        assert auth.seen == []

    run(main)
