"""Security profile switches on our 1.6 stack over real sockets (Security Whitepaper A05): a
profile-1 CSMS (ws, Basic auth) and a profile-2 CSMS (TLS + Basic auth, certificates made in the
test) on their own ports; the stack manages its client (``manage_security``). Raising
SecurityProfile to 2 with the right root installed moves the station to the TLS CSMS; with a root
that does not match the server's certificate the one attempt fails and the stack falls back to
profile 1 (logged); lowering is Rejected; a new AuthorizationKey makes it reconnect."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    connected_charge_point,
    connection_security_event,
    wait_accepted,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.csms import Csms, Station16
from ocppkit.csms.credentials import hash_password, store_auth
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.security import server_ssl_context
from ocppkit.store.memory import MemoryStore
from tests.runtime.certs import Pki

IDENTITY = "CP-SWITCH"
KEY = "00112233445566778899aabbccddeeff"
NEW_KEY = "ffeeddccbbaa99887766554433221100"


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 60))


class Tracked:
    """A CSMS and a queue of the stations that connected to it."""

    def __init__(self, csms: Csms) -> None:
        self.csms = csms
        self.connected: asyncio.Queue[str] = asyncio.Queue()

        @csms.on_connect
        async def seen(station: Any) -> None:
            self.connected.put_nowait(station.identity)

    async def next_connection(self) -> str:
        return await asyncio.wait_for(self.connected.get(), 20)


@asynccontextmanager
async def serving(profile: int, pki: Pki, passwords: list[str]) -> AsyncIterator[Tracked]:
    store = MemoryStore()
    csms = Csms(store, security_profile=profile, auth=store_auth(store), message_log=False)
    context = None
    if profile == 2:
        context = server_ssl_context(str(pki.server_cert), str(pki.server_key))
    tracked = Tracked(csms)
    await csms.start("127.0.0.1", 0, ssl=context)
    await store.set_password(IDENTITY, hash_password(bytes.fromhex(passwords[0])))
    try:
        yield tracked
    finally:
        await csms.close(grace=1)


@asynccontextmanager
async def switching(
    tmp_path: Path,
) -> AsyncIterator[tuple[Pki, Tracked, Tracked, ChargePoint16, OcppClient, dict[int, str]]]:
    """Both CSMSs and our station on profile 1, booted at the plain one, managing its client."""
    pki = Pki.create(tmp_path / "pki")
    async with serving(1, pki, [KEY]) as plain, serving(2, pki, [KEY]) as tls:
        urls = {
            1: f"ws://127.0.0.1:{plain.csms.server.port}/{IDENTITY}",
            2: f"wss://localhost:{tls.csms.server.port}/{IDENTITY}",
        }
        client = OcppClient(urls[1], versions=[OcppVersion.V16])
        cp = station(tmp_path, client)
        async with connected_charge_point(cp, client, manage_security=True, urls=urls):
            assert await plain.next_connection() == IDENTITY
            assert await wait_accepted(cp, timeout=10)
            yield pki, plain, tls, cp, client, urls


def station(tmp_path: Path, client: OcppClient) -> ChargePoint16:
    runtime = AsyncioRuntime()
    return ChargePoint16(
        store=SqliteStateStore(tmp_path / "cp.db"), link=ClientLink(client), clock=runtime,
        scheduler=runtime, vendor="ocppkit", model="switch",
        config_defaults={"SecurityProfile": "1", "AuthorizationKey": KEY},
    )  # fmt: skip


def station16(tracked: Tracked) -> Station16:
    found = tracked.csms.station(IDENTITY)
    assert isinstance(found, Station16)
    return found


async def install_root(plain: Tracked, pem: str) -> None:
    answer = await station16(plain).install_certificate(
        certificate_type="CentralSystemRootCertificate", certificate=pem
    )
    assert answer.status == "Accepted"


async def change(plain: Tracked, key: str, value: str) -> str:
    answer = await station16(plain).change_configuration(key=key, value=value)
    return str(answer.status)


def test_raising_the_profile_moves_the_station_to_tls(tmp_path: Path) -> None:
    async def main() -> None:
        async with switching(tmp_path) as (pki, plain, tls, cp, client, urls):
            assert await change(plain, "SecurityProfile", "2") == "Rejected"  # no root yet
            await install_root(plain, pki.ca.cert_path.read_text())
            assert await change(plain, "SecurityProfile", "0") == "Rejected"  # never lower
            assert await change(plain, "SecurityProfile", "2") == "Accepted"
            assert await tls.next_connection() == IDENTITY
            assert client.url == urls[2]
            answer = await station16(tls).get_configuration(key=["SecurityProfile"])
            assert answer.configuration_key is not None
            assert answer.configuration_key[0].value == "2"  # answered over TLS
            events = [e["type"] for _, e in cp.security_log.entries]
            assert events[-1] == "ReconfigurationOfSecurityParameters"

    run(main)


def test_a_failing_new_profile_falls_back_to_the_old_one(tmp_path: Path) -> None:
    async def main() -> None:
        async with switching(tmp_path) as (pki, plain, tls, cp, client, urls):
            # a root that did not sign the TLS server's certificate: the handshake fails
            await install_root(plain, pki.untrusted_ca.cert_path.read_text())
            assert await change(plain, "SecurityProfile", "2") == "Accepted"
            assert await plain.next_connection() == IDENTITY  # back on profile 1
            assert tls.connected.empty()
            assert cp.config.get_int("SecurityProfile") == 1
            assert client.url == urls[1]
            await cp.scheduler.drain()
            infos = [e.get("techInfo") for _, e in cp.security_log.entries]
            assert "SecurityProfile 2 failed, back to 1" in infos
            kinds = [e["type"] for _, e in cp.security_log.entries]
            assert kinds.count("InvalidCentralSystemCertificate") == 1

            # the CSMS takes only the new key from now on; the station must reconnect with it
            await plain.csms.store.set_password(IDENTITY, hash_password(bytes.fromhex(NEW_KEY)))
            assert await change(plain, "AuthorizationKey", NEW_KEY) == "Accepted"
            assert await plain.next_connection() == IDENTITY  # reconnected with the new key
            assert client.password == bytes.fromhex(NEW_KEY)

    run(main)


def test_connection_failures_that_are_security_events() -> None:
    verify = ssl.SSLCertVerificationError("certificate verify failed")
    assert connection_security_event(verify) == "InvalidCentralSystemCertificate"
    assert connection_security_event(HandshakeError(401, "unauthorized")) == (
        "FailedToAuthenticateAtCentralSystem"
    )
    old = ssl.SSLError(1, "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol version")
    assert connection_security_event(old) == "InvalidTLSVersion"
    assert connection_security_event(HandshakeError(404, "not found")) is None
    assert connection_security_event(ConnectionRefusedError()) is None
