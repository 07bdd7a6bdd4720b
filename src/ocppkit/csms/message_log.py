"""The CSMS message log: every frame in and out, persisted in batches, with bounded retention.

Frames are buffered by a cheap per-connection hook and written by one background task every
``flush_interval`` seconds (or as soon as ``batch_size`` frames wait), so logging never adds a
store round trip to a call. Every ``prune_every`` flushes, each station is cut to ``keep`` frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.store import FrameRecord, Store

__all__ = ["MessageLog"]

log = logging.getLogger("ocppkit.csms")


class MessageLog:
    """Buffers frames of every connection and writes them to the store in batches."""

    def __init__(
        self,
        store: Store,
        *,
        keep: int = 10_000,
        flush_interval: float = 0.5,
        batch_size: int = 1_000,
        prune_every: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.keep = keep
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.prune_every = prune_every
        self.clock = clock
        self._buffer: list[FrameRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushes = 0

    def hook(self, conn: OcppConnection) -> FrameHook:
        """The ``on_frame`` hook for one connection (give ``OcppServer(on_frame=log.hook)``)."""
        identity = conn.identity
        buffer = self._buffer

        def record(direction: Literal["in", "out"], data: bytes | str) -> None:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            buffer.append(
                FrameRecord(
                    station_id=identity, direction=direction, timestamp=self.clock(), frame=text
                )
            )
            if len(buffer) >= self.batch_size:
                self._wake.set()

        return record

    def start(self) -> None:
        """Start the background writer."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Write what is buffered now."""
        if not self._buffer:
            return
        batch, self._buffer[:] = list(self._buffer), []
        await self.store.log_frames(batch)
        self._flushes += 1
        if self._flushes % self.prune_every == 0:
            await self.store.prune_frames(self.keep)

    async def close(self) -> None:
        """Stop the writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # a full disk must not stop the CSMS: keep serving, say so
                log.exception("message log: writing frames failed")
