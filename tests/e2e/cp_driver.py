"""A charge point process for the durability test: charging sessions, one line per durable step.

``python cp_driver.py URL DB RUN [SESSIONS]``: runs the 1.6 stack on the SQLite file DB against
URL and charges session after session on connector 1 (SESSIONS of them, then it waits until
everything is delivered and prints ``done``; forever when absent). Session k of run RUN starts at
meter ``RUN * 1_000_000 + k * 1_000`` Wh. Each line is printed only after the stack call it
reports has returned, i.e. after its message was stored:

    start BASE          StartTransaction queued (meterStart BASE)
    sample BASE VALUE   MeterValues with VALUE queued
    stop BASE VALUE     StopTransaction queued (meterStop VALUE)
"""

from __future__ import annotations

import asyncio
import sys

from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    connected_charge_point,
    wait_accepted,
    wait_delivered,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import OcppClient, ReconnectPolicy


def say(*words: object) -> None:
    print(*words, flush=True)


async def main(url: str, db: str, run: int, sessions: int | None) -> None:
    client = OcppClient(
        url,
        versions=[OcppVersion.V16],
        reconnect=ReconnectPolicy(wait_minimum=0.05, random_range=0.05, repeat_times=2),
    )
    runtime = AsyncioRuntime()
    cp = ChargePoint16(
        store=SqliteStateStore(db),
        link=ClientLink(client),
        clock=runtime,
        scheduler=runtime,
        vendor="ocppkit",
        model="durability",
        config_defaults={
            "MeterValueSampleInterval": "0",
            "TransactionMessageRetryInterval": "1",
            "TransactionMessageAttempts": "100",
        },
    )
    async with connected_charge_point(cp, client, frames=db + ".frames.log"):
        await wait_accepted(cp)
        k = 0
        while sessions is None or k < sessions:
            k += 1
            base = run * 1_000_000 + k * 1_000
            cp.meter(1, [Reading(float(base))])
            await cp.plug_in(1)
            assert await cp.present_token("TAG")
            say("start", base)
            value = base
            for step in range(1, 4):
                value = base + step * 10
                cp.meter(1, [Reading(float(value))])
                await cp.sample_meter(1)
                say("sample", base, value)
            await cp.present_token("TAG")
            say("stop", base, value)
            await cp.plug_out(1)
        await wait_delivered(cp, 30)
        say("done")


if __name__ == "__main__":
    url, db, run = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(main(url, db, run, int(sys.argv[4]) if len(sys.argv) > 4 else None))
