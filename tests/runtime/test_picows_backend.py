"""OcppServer on the picows backend: same handshake rules, same registry, push transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocppkit.messages import v16, v201
from ocppkit.protocol import ConnectionClosedError, OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.security import client_ssl_context, server_ssl_context
from ocppkit.runtime.server import Handshake, OcppServer
from tests.runtime.certs import Pki

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def routers() -> dict[OcppVersion, Router]:
    r16, r201 = Router(OcppVersion.V16), Router(OcppVersion.V201)

    @r16.on(v16.HeartbeatRequest)
    def hb16(request: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        return v16.HeartbeatResponse(current_time=NOW)

    @r201.on(v201.HeartbeatRequest)
    async def hb201(request: v201.HeartbeatRequest, conn: OcppConnection) -> v201.HeartbeatResponse:
        return v201.HeartbeatResponse(current_time=NOW)

    return {OcppVersion.V16: r16, OcppVersion.V201: r201}


@asynccontextmanager
async def picows_server(server: OcppServer, **kwargs: Any) -> AsyncIterator[str]:
    await server.start("127.0.0.1", 0, backend="picows", **kwargs)
    try:
        scheme = "wss" if kwargs.get("ssl") else "ws"
        yield f"{scheme}://127.0.0.1:{server.port}/ocpp"
    finally:
        await server.close(grace=1)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
def test_calls_both_ways_plain_and_async_handlers(version: OcppVersion) -> None:
    async def main() -> None:
        server = OcppServer(routers())
        async with picows_server(server) as url:
            pkg: Any = v16 if version is OcppVersion.V16 else v201
            cp_router = Router(version)
            cp_router.add(
                pkg.ClearCacheRequest,
                lambda request, conn: pkg.ClearCacheResponse(status="Accepted"),
            )
            client = OcppClient(f"{url}/CP1", cp_router, versions=[version])
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            for _ in range(3):
                assert (await conn.call(pkg.HeartbeatRequest())).current_time == NOW
            assert (await server.call("CP1", pkg.ClearCacheRequest())).status == "Accepted"
            await client.close()
            await runner

    run(main)


def test_sync_auth_hook_and_handshake_refusals() -> None:
    seen: list[Handshake] = []

    def auth(hs: Handshake) -> bool:
        seen.append(hs)
        return hs.password == b"pw"

    async def main() -> None:
        server = OcppServer(routers(), auth=auth, security_profile=1)
        async with picows_server(server) as url:
            good = OcppClient(f"{url}/CP1", password="pw")
            await (await good.connect()).close()
            for path, password, versions, status in (
                ("CP1", "bad", [OcppVersion.V16], 401),
                ("CP1", None, [OcppVersion.V16], 401),
                ("CP1", "pw", [OcppVersion.V21], 400),
                ("CP%3A1", "pw", [OcppVersion.V16], 400),
            ):
                with pytest.raises(HandshakeError) as info:
                    await OcppClient(
                        f"{url}/{path}", password=password, versions=versions
                    ).connect()
                assert info.value.status == status
        assert [hs.identity for hs in seen] == ["CP1", "CP1"]

    run(main)


def test_async_auth_hook_is_refused_at_start() -> None:
    async def auth(hs: Handshake) -> bool:
        return True

    async def main() -> None:
        server = OcppServer(routers(), auth=auth)
        with pytest.raises(ValueError, match="plain-function auth hook"):
            await server.start("127.0.0.1", 0, backend="picows")

    run(main)


def test_reconnect_takes_over_and_shutdown_fails_pending_calls() -> None:
    async def main() -> None:
        hold = asyncio.Event()
        cp_router = Router(OcppVersion.V16)

        @cp_router.on(v16.ClearCacheRequest)
        async def clear(
            request: v16.ClearCacheRequest, conn: OcppConnection
        ) -> v16.ClearCacheResponse:
            await hold.wait()
            return v16.ClearCacheResponse(status="Accepted")

        server = OcppServer(routers())
        await server.start("127.0.0.1", 0, backend="picows")
        url = f"ws://127.0.0.1:{server.port}/CP1"
        first = await OcppClient(url).connect()
        first_runner = asyncio.create_task(first.run())
        second = await OcppClient(url, cp_router).connect()
        second_runner = asyncio.create_task(second.run())
        await first_runner  # superseded: closed by the server
        assert (await second.call(v16.HeartbeatRequest())).current_time == NOW
        pending = asyncio.create_task(server.call("CP1", v16.ClearCacheRequest()))
        await asyncio.sleep(0)
        await server.close(grace=0.05)
        with pytest.raises(ConnectionClosedError):
            await pending
        hold.set()
        await second_runner

    run(main)


def test_malformed_frames_and_fragmented_messages() -> None:
    async def main() -> None:
        server = OcppServer(routers())
        async with (
            picows_server(server) as url,
            connect(f"{url}/RAW", subprotocols=[Subprotocol("ocpp1.6")]) as ws,
        ):
            for bad in ("not json", "[2,", '[2,"x","Nope",{}]'):
                await ws.send(bad)
            assert '"NotImplemented"' in str(await ws.recv())  # only the readable id is answered
            await ws.send(iter(['[2,"frag","Heart', 'beat",{}]']))  # one message in two frames
            reply = str(await ws.recv())
            assert reply.startswith('[3,"frag",{"currentTime"')

    run(main)


def test_profile_3_cn_mismatch_closes_with_policy_violation(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)

    async def main() -> None:
        context = server_ssl_context(
            str(pki.server_cert), str(pki.server_key), cafile=pki.ca_file, require_client_cert=True
        )
        server = OcppServer(routers(), security_profile=3)
        async with picows_server(server, ssl=context) as url:
            certfile, keyfile = pki.client("CP1")
            good = OcppClient(
                f"{url}/CP1",
                ssl=client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile),
            )
            conn = await good.connect()
            runner = asyncio.create_task(conn.run())
            assert (await conn.call(v16.HeartbeatRequest())).current_time == NOW
            await good.close()
            await runner
            other_ssl = client_ssl_context(pki.ca_file, certfile=certfile, keyfile=keyfile)
            async with connect(
                f"{url}/CP2", subprotocols=[Subprotocol("ocpp1.6")], ssl=other_ssl
            ) as ws:
                with pytest.raises(ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd is not None
                assert info.value.rcvd.code == 1008

    run(main)
