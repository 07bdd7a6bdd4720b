"""The default transport: the ``websockets`` library (asyncio implementation)."""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ocppkit.transport import TransportClosed

__all__ = ["WebsocketsTransport"]

_READ_SIZE = 64 * 1024


class WebsocketsTransport:
    """A ``websockets`` connection (client or server side) as an OCPP ``Transport``."""

    def __init__(self, ws: Connection) -> None:
        self.ws = ws
        # asyncio reads into a fresh 256 KiB buffer per message, which glibc serves with mmap /
        # mremap / munmap: ~25% of the server's CPU per call (benchmarks/RESULTS.md). OCPP
        # messages are small; 64 KiB reads remove the churn. ``max_size`` is an attribute of
        # asyncio's selector transport (not public API): set only where it exists.
        transport = ws.transport
        if getattr(transport, "max_size", 0) > _READ_SIZE:
            transport.max_size = _READ_SIZE  # type: ignore[attr-defined]

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol."""
        return self.ws.subprotocol

    def can_send_nowait(self) -> bool:
        """True if ``send_nowait`` may write now: the connection is open, no fragmented message
        is being sent and the write buffer is below its high-water mark (else ``send`` waits)."""
        ws = self.ws
        return ws.protocol.state is State.OPEN and not ws.paused and not ws.send_in_progress

    def send_nowait(self, data: bytes) -> None:
        """Write ``data`` as a text frame now, when ``can_send_nowait()`` is True: what
        ``send`` does for a message that needs no waiting, without its coroutine (under load,
        one coroutine, async context manager and drain check per frame fewer)."""
        self.ws.protocol.send_text(data)
        self.ws.send_data()

    async def send(self, data: bytes) -> None:
        """Send ``data`` (UTF-8 JSON) as a text frame, without decoding it first."""
        try:
            await self.ws.send(data, text=True)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> bytes | str:
        """The next message, as bytes (text frames are not decoded: the parser takes bytes)."""
        try:
            return await self.ws.recv(decode=False)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a close frame (``code``, ``reason``)."""
        await self.ws.close(code, reason)


def _closed(exc: ConnectionClosed) -> TransportClosed:
    frame = exc.rcvd or exc.sent
    return TransportClosed(frame.code if frame else None, frame.reason if frame else "")
