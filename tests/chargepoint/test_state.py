"""The charge point's ``StateStore`` contract, on the in-memory fake and on SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.state import MemoryStateStore, StateStore

Factory = Callable[[], StateStore]


@pytest.fixture(params=["memory", "sqlite"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """New store objects on the same storage (one memory object, or one file)."""
    if request.param == "memory":
        memory = MemoryStateStore()
        return lambda: memory
    return lambda: SqliteStateStore(tmp_path / "cp.db")


def run(factory: Factory, body: Callable[[StateStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = factory()
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_state_items_per_namespace_survive_reopening(factory: Factory) -> None:
    async def write(store: StateStore) -> None:
        await store.put("config", "HeartbeatInterval", "300")
        await store.put("config", "HeartbeatInterval", "60")  # replaces
        await store.put("tx", "1", {"idTag": "A", "samples": [1.5, {"x": None}]})
        await store.put_many("list", {"A": 1, "B": 2})
        await store.delete("list", "A")
        await store.delete("list", "missing")  # no error

    async def read(store: StateStore) -> None:
        assert await store.load("config") == {"HeartbeatInterval": "60"}
        assert await store.load("tx") == {"1": {"idTag": "A", "samples": [1.5, {"x": None}]}}
        assert await store.load("list") == {"B": 2}
        assert await store.load("nothing") == {}
        await store.put_many("list", {"C": 3}, replace=True)
        assert await store.load("list") == {"C": 3}

    run(factory, write)
    run(factory, read)


def test_queue_keeps_order_updates_and_removes(factory: Factory) -> None:
    async def write(store: StateStore) -> None:
        ids = [await store.enqueue({"n": n}) for n in range(4)]
        assert ids == sorted(ids)
        assert len(set(ids)) == 4
        await store.update(ids[1], {"n": 1, "patched": True})
        await store.dequeue(ids[0])
        await store.dequeue(ids[0])  # twice: no error
        await store.update(ids[0], {"gone": True})  # gone: no effect

    async def read(store: StateStore) -> None:
        queued = await store.queued()
        assert [value for _, value in queued] == [{"n": 1, "patched": True}, {"n": 2}, {"n": 3}]
        newer = await store.enqueue({"n": 4})
        assert newer > queued[-1][0]

    run(factory, write)
    run(factory, read)


def test_enqueue_applies_state_changes_with_the_message(factory: Factory) -> None:
    async def body(store: StateStore) -> None:
        await store.put("transactions", "1", {"open": True})
        await store.enqueue(
            {"action": "StopTransaction"},
            state={("transactions", "1"): None, ("meta", "last"): {"stopped": "1"}},
        )
        assert await store.load("transactions") == {}
        assert await store.load("meta") == {"last": {"stopped": "1"}}
        assert [v for _, v in await store.queued()] == [{"action": "StopTransaction"}]

    run(factory, body)


def test_values_come_back_as_copies(factory: Factory) -> None:
    async def body(store: StateStore) -> None:
        value = {"list": [1]}
        await store.put("ns", "k", value)
        value["list"].append(2)  # the caller's object changes after the write
        loaded = await store.load("ns")
        assert loaded == {"k": {"list": [1]}}
        loaded["k"]["list"].append(3)
        assert await store.load("ns") == {"k": {"list": [1]}}

    run(factory, body)


def test_sqlite_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    import sqlite3

    from ocppkit.store.sqlite_migrations import SchemaVersionError

    path = tmp_path / "cp.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()

    async def main() -> None:
        with pytest.raises(SchemaVersionError, match="newer"):
            await SqliteStateStore(path).open()

    asyncio.run(main())
