"""``MessageLog``: bounded buffer, one writer, flushes that wait only for earlier frames, pruning
per station, errors logged, ``keep=0`` off; and how ``Csms`` owns it. No sleeps: every wait is on
an event the store or the log sets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest

from ocppkit.csms import MessageLog
from ocppkit.csms.role import Csms
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.store import FrameRecord, Store
from ocppkit.store.memory import MemoryStore

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


def hook_of(log: MessageLog, identity: str = "CP") -> FrameHook:
    hook = log.hook(cast(OcppConnection, SimpleNamespace(identity=identity)))
    assert hook is not None
    return hook


class GatedStore:
    """``log_frames`` waits for one gate per call; every call and prune is recorded."""

    def __init__(self, *, gated: bool = True) -> None:
        self.gated = gated
        self.gates: list[asyncio.Event] = []
        self.batches: list[list[str]] = []
        self.records: list[FrameRecord] = []
        self.prunes: list[int] = []
        self.entered = asyncio.Event()
        self.written = asyncio.Event()

    async def log_frames(self, frames: list[FrameRecord]) -> None:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.entered.set()
        if self.gated:
            await gate.wait()
        self.batches.append([f.frame for f in frames])
        self.records.extend(frames)
        self.written.set()

    async def prune_frames(self, keep: int, station_ids: Sequence[str] | None = None) -> int:
        self.prunes.append(keep)
        return 0


def test_flush_waits_only_for_earlier_frames_and_a_full_buffer_drops_the_oldest() -> None:
    async def main() -> None:
        store = GatedStore()
        log = MessageLog(cast(Store, store), max_pending=3, flush_interval=3600)
        log.start()
        record = hook_of(log)
        record("in", "1")
        record("out", "2")
        flushed = asyncio.create_task(log.flush())
        await store.entered.wait()  # the writer is writing the first batch
        store.entered.clear()
        for text in "34567":  # queued meanwhile: at most 3 wait, the oldest are dropped
            record("in", text)
        assert (log.pending, log.dropped) == (3, 2)
        store.gates[0].set()
        await flushed  # done once "1" and "2" are written, while the next batch still waits
        assert store.batches == [["1", "2"]]
        await store.entered.wait()  # the writer goes on with what waits, unasked
        assert log.pending == 0
        later = asyncio.create_task(log.flush())
        store.gates[1].set()
        await later
        assert store.batches == [["1", "2"], ["5", "6", "7"]]
        await log.flush()  # nothing queued: returns at once
        assert len(store.gates) == 2
        await log.close()
        assert log.dropped == 2

    run(main)


def test_a_flush_does_not_wait_for_frames_queued_after_it() -> None:
    async def main() -> None:
        store = GatedStore()
        log = MessageLog(cast(Store, store), flush_interval=3600)
        log.start()
        record = hook_of(log)
        record("in", "a")
        first = asyncio.create_task(log.flush())
        await store.entered.wait()
        store.entered.clear()
        record("out", "b")  # after the first flush: a second flush waits for it
        second = asyncio.create_task(log.flush())
        store.gates[0].set()
        await first
        assert not second.done()
        await store.entered.wait()
        store.gates[1].set()
        await second
        assert store.batches == [["a"], ["b"]]
        await log.close()

    run(main)


def test_the_writer_writes_on_its_interval_and_at_batch_size_unasked() -> None:
    async def main() -> None:
        store = GatedStore(gated=False)
        log = MessageLog(cast(Store, store), batch_size=3, flush_interval=3600)
        log.start()
        record = hook_of(log)
        record("in", "1")
        record("out", "2")
        assert log.pending == 2
        record("in", "3")  # batch_size frames wait: the writer wakes without a flush
        await store.written.wait()
        assert store.batches == [["1", "2", "3"]]
        await log.close()

        store = GatedStore(gated=False)
        log = MessageLog(cast(Store, store), flush_interval=0.001)
        log.start()
        hook_of(log)("in", "x")
        await store.written.wait()  # the interval passed: written without a flush
        assert store.batches == [["x"]]
        await log.close()

    run(main)


def test_frames_keep_their_station_direction_time_and_text() -> None:
    async def main() -> None:
        store = GatedStore(gated=False)
        ticks = iter(T0 + timedelta(seconds=n) for n in range(10))
        log = MessageLog(cast(Store, store), clock=lambda: next(ticks))
        hook_of(log, "A")("in", b'[2,"1","Heartbeat",{}]')
        hook_of(log, "B")("out", '[3,"1",{}]')
        hook_of(log, "A")("in", b"\xff")  # not UTF-8: kept, replaced
        await log.flush()  # no writer started: the flush writes them itself
        assert store.records == [
            FrameRecord(
                station_id="A", direction="in", timestamp=T0, frame='[2,"1","Heartbeat",{}]'
            ),
            FrameRecord(
                station_id="B",
                direction="out",
                timestamp=T0 + timedelta(seconds=1),
                frame='[3,"1",{}]',
            ),
            FrameRecord(
                station_id="A",
                direction="in",
                timestamp=T0 + timedelta(seconds=2),
                frame="\ufffd",
            ),
        ]

    run(main)


def test_each_station_is_pruned_to_keep_each_time_keep_frames_were_written() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.open()
        ticks = iter(T0 + timedelta(seconds=n) for n in range(100))
        log = MessageLog(store, keep=3, clock=lambda: next(ticks))
        a, b = hook_of(log, "A"), hook_of(log, "B")
        a("in", "a1")
        a("out", "a2")
        await log.flush()  # 2 written, fewer than keep: nothing pruned
        b("in", "b1")
        a("in", "a3")
        a("out", "a4")
        assert [f.frame for f in await store.frames("A")] == ["a1", "a2"]
        await log.flush()  # 4 of A written since its last prune: A cut to its newest 3, not B
        assert [f.frame for f in await store.frames("A")] == ["a2", "a3", "a4"]
        assert [f.frame for f in await store.frames("B")] == ["b1"]
        for n in range(5, 7):
            a("in", f"a{n}")
        await log.flush()  # 2 since A's prune: A holds 5 until keep frames more were written
        assert len(await store.frames("A")) == 5
        a("in", "a7")
        await log.flush()
        assert [f.frame for f in await store.frames("A")] == ["a5", "a6", "a7"]
        assert [f.frame for f in await store.frames("B")] == ["b1"]

    run(main)


def test_store_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class FullDisk(GatedStore):
        fail = True

        async def log_frames(self, frames: list[FrameRecord]) -> None:
            if self.fail:
                raise OSError("disk full")
            await super().log_frames(frames)

    async def main() -> None:
        store = FullDisk(gated=False)
        log = MessageLog(cast(Store, store), flush_interval=3600)
        log.start()
        record = hook_of(log)
        record("in", "lost")
        record("out", "lost too")
        with caplog.at_level(logging.ERROR, logger="ocppkit.csms"):
            await log.flush()  # returns: the frames are done, lost
        assert "message log: writing 2 frame(s) failed" in caplog.text
        assert log.pending == 0
        store.fail = False
        record("in", "kept")
        await log.flush()  # the writer still runs
        assert store.batches == [["kept"]]
        store.fail = True
        record("in", "lost at close")
        await log.close()  # logged, not raised
        assert "writing 1 frame(s) failed" in caplog.text

    run(main)


def test_close_writes_what_is_left_and_the_log_can_restart() -> None:
    async def main() -> None:
        store = GatedStore(gated=False)
        log = MessageLog(cast(Store, store), flush_interval=3600)
        record = hook_of(log)
        log.start()
        record("in", "1")
        await log.close()  # the writer writes what waits before it stops
        assert store.batches == [["1"]]
        record("in", "2")
        await log.close()  # no writer: close writes it
        assert store.batches == [["1"], ["2"]]
        log.start()
        record("in", "3")
        await log.flush()
        assert store.batches == [["1"], ["2"], ["3"]]
        await log.close()

    run(main)


def test_keep_0_is_no_log_and_bad_settings_are_refused() -> None:
    async def main() -> None:
        store = GatedStore(gated=False)
        log = MessageLog(cast(Store, store), keep=0)
        assert not log.enabled
        assert log.hook(cast(OcppConnection, SimpleNamespace(identity="CP"))) is None
        log.start()  # nothing to start
        await log.flush()
        await log.close()
        assert (log.pending, log.dropped, store.gates) == (0, 0, [])

    run(main)
    for bad in ({"keep": -1}, {"max_pending": 0}, {"batch_size": 0}, {"flush_interval": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            MessageLog(MemoryStore(), **bad)  # type: ignore[arg-type]


# -- owned by the CSMS -----------------------------------------------------------------------------


def test_csms_has_a_default_log_none_on_request_or_the_one_given() -> None:
    store = MemoryStore()
    default = Csms(store)
    assert isinstance(default.message_log, MessageLog)
    assert default.message_log.keep == 10_000
    assert default.message_log.store is store
    assert default.server.on_frame == default.message_log.hook

    none = Csms(store, message_log=False)
    assert none.message_log is None
    assert none.server.on_frame is None

    given = MessageLog(store, keep=5)
    assert Csms(store, message_log=given).message_log is given

    off = MessageLog(store, keep=0)
    csms = Csms(store, message_log=off)
    assert csms.message_log is off
    assert csms.server.on_frame is None  # a log that is off: no hook at all


def test_csms_close_writes_the_log_after_the_server_and_before_the_store() -> None:
    events: list[str] = []

    class Recording(MemoryStore):
        async def log_frames(self, frames: list[FrameRecord]) -> None:
            events.append(f"log_frames {len(frames)}")
            await super().log_frames(frames)

        async def close(self) -> None:
            events.append("store closed")
            await super().close()

    async def main() -> None:
        store = Recording()
        csms = Csms(store, message_log=MessageLog(store, flush_interval=3600))
        await csms.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{csms.server.port}/CP1", versions=[OcppVersion.V16])
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        await conn.call(
            v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        )
        assert events == []  # nothing written yet: the interval is an hour
        closing = asyncio.create_task(csms.close(grace=1))
        await runner  # the server closed the station's connection
        await closing
        assert events == ["log_frames 2", "store closed"]
        await store.open()
        assert [f.direction for f in await store.frames("CP1")] == ["in", "out"]

    run(main)
