"""A CSMS and a charge point on real websockets, in one process.

Run: python examples/quickstart_runtime.py
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime import OcppClient, OcppConnection, OcppServer, Router

# --- the CSMS: answers BootNotification, can reach any connected charge point -----------------
csms = Router(OcppVersion.V16)


@csms.on(v16.BootNotificationRequest)
async def boot(
    request: v16.BootNotificationRequest, conn: OcppConnection
) -> v16.BootNotificationResponse:
    print(f"CSMS: boot from {conn.identity} ({request.charge_point_model})")
    return v16.BootNotificationResponse(
        current_time=datetime.now(UTC), interval=300, status="Accepted"
    )


# --- the charge point: answers Reset ------------------------------------------------------------
station = Router(OcppVersion.V16)


@station.on(v16.ResetRequest)
async def reset(request: v16.ResetRequest, conn: OcppConnection) -> v16.ResetResponse:
    print(f"CP:   asked for a {request.type} reset")
    return v16.ResetResponse(status="Accepted")


async def main() -> None:
    server = OcppServer(csms)
    await server.start("127.0.0.1", 0)
    client = OcppClient(f"ws://127.0.0.1:{server.port}/ocpp/CP-1", station)
    conn = await client.connect()
    runner = asyncio.create_task(conn.run())

    response = await client.call(
        v16.BootNotificationRequest(charge_point_vendor="ACME", charge_point_model="X1")
    )
    print(f"CP:   boot {response.status}, heartbeat every {response.interval} s")
    reply = await server.call("CP-1", v16.ResetRequest(type="Soft"))
    print(f"CSMS: reset {reply.status}")

    await client.close()
    await runner
    await server.close()


if __name__ == "__main__":
    asyncio.run(main())
