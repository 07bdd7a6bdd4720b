"""The CSMS message log: every frame in and out, persisted in batches, with bounded retention.

::

    log = MessageLog(store, keep=10_000)        # Csms(store) makes this one by default
    server = OcppServer(..., on_frame=log.hook)
    log.start()                                 # the writer task (Csms.start does it)
    await log.flush()                           # before reading store.frames(...)
    await log.close()                           # writes what is left (Csms.close does it)

- **Cheap on the hot path.** The per-connection hook only appends ``(station, direction, time,
  frame)`` to an in-memory queue: no parsing, no decoding, no store round trip per frame.
- **One writer.** A background task hands the queued frames to ``store.log_frames`` in one batch
  every ``flush_interval`` seconds, or as soon as ``batch_size`` frames wait, or when someone
  calls :meth:`MessageLog.flush`.
- **Bounded memory.** At most ``max_pending`` frames wait; when the store cannot keep up the
  oldest waiting frames are dropped and counted (:attr:`MessageLog.dropped`).
- **Bounded retention.** Each time a station had ``keep`` frames written since its last prune, it
  is pruned to its newest ``keep`` frames (``store.prune_frames`` of those stations only: the
  cost stays proportional to what was written), so a station holds fewer than ``2 * keep``.
  ``keep=0`` turns the log off: :meth:`MessageLog.hook` gives no hook.
- **Never in the way.** :meth:`MessageLog.flush` waits only for the frames queued before it was
  called, so a busy log never holds a reader back; a store error (a full disk) is logged to the
  ``ocppkit.csms`` logger and the frames of that batch are lost, but the CSMS keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.store import FrameRecord, Store
from ocppkit.store._rules import utc_now

__all__ = ["MessageLog"]

log = logging.getLogger("ocppkit.csms")

_Queued = tuple[str, Literal["in", "out"], datetime, bytes | str]
"""One frame as the hook queues it: station, direction, time, frame as received or sent."""


class MessageLog:
    """Buffers the frames of every connection and writes them to ``store`` in batches.

    ``keep``: frames kept per station (0: no log); ``max_pending``: frames that may wait in
    memory (beyond, the oldest are dropped); ``flush_interval``: seconds between writes;
    ``batch_size``: frames waiting that trigger a write before the interval is over; ``clock``:
    the timestamp of each frame, taken when the hook sees it.
    """

    def __init__(
        self,
        store: Store,
        *,
        keep: int = 10_000,
        max_pending: int = 10_000,
        flush_interval: float = 0.5,
        batch_size: int = 1_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if keep < 0:
            raise ValueError("keep must be >= 0 (0: no message log)")
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not flush_interval > 0:
            raise ValueError("flush_interval must be > 0")
        self.store = store
        self.keep = keep
        self.max_pending = max_pending
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.clock = clock
        self._buffer: deque[_Queued] = deque(maxlen=max_pending)
        self._queued = 0  # frames ever queued; frame n (1-based) is done once written or lost
        self._in_flight = 0  # frames taken from the buffer, being written
        self._dropped = 0
        self._since_prune: dict[str, int] = {}  # frames written per station since its prune
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- state -------------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """False when ``keep`` is 0: the log records nothing."""
        return self.keep > 0

    @property
    def pending(self) -> int:
        """Frames waiting in memory, not yet handed to the store."""
        return len(self._buffer)

    @property
    def dropped(self) -> int:
        """Frames dropped (oldest first) because ``max_pending`` frames were already waiting."""
        return self._dropped

    # -- the hook ----------------------------------------------------------------------------------
    def hook(self, conn: OcppConnection) -> FrameHook | None:
        """The ``on_frame`` hook of one connection (``OcppServer(on_frame=log.hook)``); None when
        the log is off (``keep=0``)."""
        if not self.enabled:
            return None
        identity = conn.identity
        buffer = self._buffer
        limit = self.max_pending
        batch_size = self.batch_size
        clock = self.clock
        wake = self._wake

        def record(direction: Literal["in", "out"], data: bytes | str) -> None:
            if len(buffer) == limit:  # the oldest waiting frame falls out
                self._dropped += 1
            buffer.append((identity, direction, clock(), data))
            self._queued += 1
            if len(buffer) >= batch_size:
                wake.set()

        return record

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background writer (on the running event loop); a no-op if it runs."""
        self._closing = False
        if self.enabled and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="ocppkit message log"
            )

    async def flush(self) -> None:
        """Return once every frame queued before this call is done: written, or lost (dropped
        from a full queue, or a store error). Frames queued meanwhile are left to the writer, so
        a busy log never holds the caller back. Without a running writer, writes them itself."""
        target = self._queued
        if self._done() >= target:
            return
        if self._task is None or self._task.done():  # no writer: write them here
            await self._drain(target)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Stop the writer once it has written what waits, and write what is left."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            await task
        await self._drain(self._queued)
        self._release()

    # -- internals ---------------------------------------------------------------------------------
    def _done(self) -> int:
        """How many of the frames queued so far are written or lost: a prefix of the queue, as
        the buffer holds the newest and drops from its oldest end."""
        return self._queued - len(self._buffer) - self._in_flight

    async def _run(self) -> None:
        try:
            while not self._closing:
                if not self._wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                self._wake.clear()
                await self._drain(None)
            await self._drain(None)
        except BaseException:  # cancelled: no flush may wait for this writer any more
            self._release(everyone=True)
            raise

    async def _drain(self, target: int | None) -> None:
        """Write batches until the first ``target`` frames are done (None: the buffer is empty)."""
        while self._buffer and (target is None or self._done() < target):
            async with self._write_lock:
                if not self._buffer:  # another writer took them meanwhile
                    break
                queued = list(self._buffer)
                self._buffer.clear()
                self._in_flight = len(queued)
                await self._write(queued)

    async def _write(self, queued: list[_Queued]) -> None:
        try:
            batch = [
                FrameRecord(
                    station_id=station,
                    direction=direction,
                    timestamp=timestamp,
                    frame=data if isinstance(data, str) else data.decode("utf-8", "replace"),
                )
                for station, direction, timestamp, data in queued
            ]
            await self.store.log_frames(batch)
            counts = self._since_prune
            for item in queued:
                counts[item[0]] = counts.get(item[0], 0) + 1
            due = [station for station, count in counts.items() if count >= self.keep]
            if due:
                for station in due:
                    del counts[station]
                await self.store.prune_frames(self.keep, due)
        except Exception:  # a full disk must not stop the CSMS: keep serving, say so
            log.exception("message log: writing %d frame(s) failed", len(queued))
        finally:
            self._in_flight = 0
            self._release()

    def _release(self, *, everyone: bool = False) -> None:
        """Wake the flushes whose frames are all done (targets are queued in rising order)."""
        done = self._done()
        waiters = self._waiters
        while waiters and (everyone or waiters[0][0] <= done):
            _, waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
