"""An in-process transport pair: two ends that talk without sockets, for tests."""

from __future__ import annotations

import asyncio

from ocppkit.transport import TransportClosed

__all__ = ["MemoryTransport", "memory_pair"]


class MemoryTransport:
    """One end of an in-memory websocket. Create pairs with ``memory_pair()``."""

    def __init__(self, subprotocol: str | None) -> None:
        self._subprotocol = subprotocol
        self._inbox: asyncio.Queue[bytes | TransportClosed] = asyncio.Queue()
        self.peer: MemoryTransport | None = None
        self.closed: TransportClosed | None = None
        self.sent: list[bytes] = []  # everything this end sent, for assertions

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol both ends agreed on."""
        return self._subprotocol

    async def send(self, data: bytes) -> None:
        """Deliver ``data`` to the peer's ``recv``."""
        if self.closed is not None:
            raise self.closed
        assert self.peer is not None
        self.sent.append(bytes(data))
        self.peer._inbox.put_nowait(bytes(data))

    async def recv(self) -> bytes | str:
        """The next message from the peer."""
        if self.closed is not None and self._inbox.empty():
            raise self.closed
        item = await self._inbox.get()
        if isinstance(item, TransportClosed):
            self.closed = item
            raise item
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close both ends: each one's pending and later ``recv`` raises ``TransportClosed``."""
        if self.closed is not None:
            return
        self.closed = TransportClosed(code, reason)
        self._inbox.put_nowait(self.closed)
        if self.peer is not None and self.peer.closed is None:
            self.peer._inbox.put_nowait(TransportClosed(code, reason))


def memory_pair(subprotocol: str | None = "ocpp1.6") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends (charge point side, CSMS side)."""
    a, b = MemoryTransport(subprotocol), MemoryTransport(subprotocol)
    a.peer, b.peer = b, a
    return a, b
