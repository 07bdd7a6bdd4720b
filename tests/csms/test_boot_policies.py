"""Boot policies (rate limit against boot storms) and per-station heartbeat intervals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ocppkit.csms import Csms, boot_rate_limit, known_only
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.store import StationRecord
from ocppkit.store.memory import MemoryStore


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


def test_rate_limit_answers_pending_beyond_the_window_then_accepts_again() -> None:
    now = [0.0]
    policy = boot_rate_limit(2, 60, clock=lambda: now[0])

    async def main() -> None:
        decisions = [await policy(f"CP{i}", None) for i in range(3)]
        assert decisions == ["Accepted", "Accepted", "Pending"]
        now[0] = 59.9
        assert await policy("CP3", None) == "Pending"
        now[0] = 60.0  # the first two boots left the window
        assert await policy("CP3", None) == "Accepted"
        assert await policy("CP4", None) == "Accepted"
        assert await policy("CP5", None) == "Pending"

    run(main)


def test_rate_limit_passes_the_boots_it_lets_through_to_the_inner_policy() -> None:
    policy = boot_rate_limit(10, 1, then=known_only, clock=lambda: 0.0)

    async def main() -> None:
        assert await policy("KNOWN", StationRecord(id="KNOWN")) == "Accepted"
        assert await policy("STRANGER", None) == "Rejected"

    run(main)


def test_rate_limit_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="max_boots"):
        boot_rate_limit(0, 1)
    with pytest.raises(ValueError, match="per_seconds"):
        boot_rate_limit(1, 0)


def test_pending_boots_get_the_retry_interval_over_the_wire() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore(), boot_policy=boot_rate_limit(1, 3600), pending_interval=45)
        await csms.start("127.0.0.1", 0)
        replies: list[Any] = []
        for identity in ("CP1", "CP2"):
            client = OcppClient(
                f"ws://127.0.0.1:{csms.server.port}/{identity}", versions=[OcppVersion.V16]
            )
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            replies.append(
                await conn.call(
                    v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
                )
            )
            await client.close()
            await runner
        assert [(r.status, r.interval) for r in replies] == [("Accepted", 300), ("Pending", 45)]
        await csms.close()

    run(main)


def test_per_station_heartbeat_interval() -> None:
    async def main() -> None:
        csms = Csms(MemoryStore(), heartbeat_interval=300)
        csms.set_heartbeat_interval("FAST", 30)
        await csms.start("127.0.0.1", 0)
        intervals = {}
        for identity in ("FAST", "SLOW"):
            client = OcppClient(
                f"ws://127.0.0.1:{csms.server.port}/{identity}", versions=[OcppVersion.V16]
            )
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            reply = await conn.call(
                v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
            )
            intervals[identity] = reply.interval
            await client.close()
            await runner
        assert intervals == {"FAST": 30, "SLOW": 300}
        csms.set_heartbeat_interval("FAST", None)
        assert csms.context.interval("Accepted", "FAST") == 300
        with pytest.raises(ValueError, match="at least 1 second"):
            csms.set_heartbeat_interval("FAST", 0)
        await csms.close()

    run(main)
