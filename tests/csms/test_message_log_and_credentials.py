"""The CSMS message log (every frame, batched, bounded) and station passwords (profile 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from ocppkit.csms.credentials import hash_password, store_auth, verify_password
from ocppkit.csms.message_log import MessageLog
from ocppkit.csms.role import Csms
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion, SecurityError
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.store.memory import MemoryStore


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


def test_every_frame_in_and_out_is_logged_in_order_and_pruned() -> None:
    # keep=3: the 4 frames (2 calls, 2 replies) are written in one batch, >= keep since the last
    # prune, so the station is cut to its newest 3
    async def exact() -> None:
        store = MemoryStore()
        csms = Csms(store, message_log=MessageLog(store, keep=3, flush_interval=3600))
        await csms.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/CP1", versions=[OcppVersion.V16])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        await conn.call(v16.HeartbeatRequest())
        assert csms.message_log is not None
        await csms.message_log.flush()
        frames = await store.frames("CP1", limit=10)
        assert [
            (f.direction, f.frame.split(",")[2][1:-1] if f.direction == "in" else "")
            for f in frames
        ] == [
            ("out", ""),
            ("in", "Heartbeat"),
            ("out", ""),
        ]
        await client.close()
        await runner
        await csms.close()

    run(exact)


def test_default_log_keeps_both_directions_of_every_call() -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store)  # the default MessageLog(store)
        await csms.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/CP1", versions=[OcppVersion.V16])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        for _ in range(5):
            with pytest.raises(SecurityError):  # not booted yet: refused, and logged both ways
                await conn.call(v16.HeartbeatRequest())
        await client.close()
        await runner
        assert csms.message_log is not None
        await csms.message_log.flush()
        frames = await store.frames("CP1", limit=100)
        assert [f.direction for f in frames] == ["in", "out"] * 5
        assert all(f.frame.startswith("[2,") for f in frames[::2])
        assert all(f.frame.startswith("[4,") for f in frames[1::2])  # SecurityError: not booted
        await csms.close()

    run(main)


def test_password_hashes_verify_only_the_right_password() -> None:
    stored = hash_password(b"\x00secret\xff")
    assert stored.startswith("scrypt$")
    assert verify_password(b"\x00secret\xff", stored)
    assert not verify_password(b"secret", stored)
    assert not verify_password(b"x", "plain-text")
    assert hash_password("pw") != hash_password("pw")  # salted


@pytest.mark.parametrize(
    ("identity", "password", "status"), [("CP1", "wrong", 401), ("NOBODY", "pw", 404)]
)
def test_profile_1_with_store_credentials(identity: str, password: str, status: int) -> None:
    async def main() -> None:
        store = MemoryStore()
        csms = Csms(store, auth=store_auth(store), security_profile=1)
        await csms.start("127.0.0.1", 0)
        await store.set_password("CP1", hash_password("pw"))
        url = f"ws://127.0.0.1:{csms.server.port}"
        good = await OcppClient(f"{url}/CP1", password="pw").connect()
        await good.close()
        with pytest.raises(HandshakeError) as info:
            await OcppClient(f"{url}/{identity}", password=password).connect()
        assert info.value.status == status
        await csms.close()

    run(main)
