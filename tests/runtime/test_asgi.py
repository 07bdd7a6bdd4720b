"""OcppServer mounted in a Starlette app under uvicorn: same handshake rules, same registry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from ocppkit.messages import v16, v201
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.server import Handshake, OcppServer
from ocppkit.transport.asgi import OcppAsgiApp
from tests.net import free_port

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_mounted_server_serves_authenticates_and_registers() -> None:
    routers = {OcppVersion.V16: Router(OcppVersion.V16), OcppVersion.V201: Router(OcppVersion.V201)}

    @routers[OcppVersion.V16].on(v16.HeartbeatRequest)
    async def hb16(request: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        return v16.HeartbeatResponse(current_time=NOW)

    @routers[OcppVersion.V201].on(v201.HeartbeatRequest)
    async def hb201(request: v201.HeartbeatRequest, conn: OcppConnection) -> v201.HeartbeatResponse:
        return v201.HeartbeatResponse(current_time=NOW)

    async def auth(hs: Handshake) -> bool:
        return hs.password == b"pw"

    server = OcppServer(routers, auth=auth, security_profile=1)
    app = Starlette(routes=[Mount("/ocpp", app=OcppAsgiApp(server))])

    async def main() -> None:
        port = free_port()
        web = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        serving = asyncio.create_task(web.serve())
        while not web.started:
            await asyncio.sleep(0.01)
        try:
            base = f"ws://127.0.0.1:{port}/ocpp"
            cp_router = Router(OcppVersion.V201)

            @cp_router.on(v201.ClearCacheRequest)
            async def clear(
                request: v201.ClearCacheRequest, conn: OcppConnection
            ) -> v201.ClearCacheResponse:
                return v201.ClearCacheResponse(status="Accepted")

            client = OcppClient(f"{base}/CP-1", cp_router, password="pw")
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            assert conn.version is OcppVersion.V201
            assert (await conn.call(v201.HeartbeatRequest())).current_time == NOW
            assert (await server.call("CP-1", v201.ClearCacheRequest())).status == "Accepted"
            with pytest.raises(HandshakeError) as info:
                await OcppClient(f"{base}/CP-2", password="wrong").connect()
            assert info.value.status in (401, 403)  # 401 where uvicorn passes the denial response
            await client.close()
            await runner
        finally:
            web.should_exit = True
            await serving

    asyncio.run(asyncio.wait_for(main(), 30))
