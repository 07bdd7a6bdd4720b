"""The default transport: the ``websockets`` library (asyncio implementation)."""

from __future__ import annotations

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from ocppkit.transport import TransportClosed

__all__ = ["WebsocketsTransport"]


class WebsocketsTransport:
    """A ``websockets`` connection (client or server side) as an OCPP ``Transport``."""

    def __init__(self, ws: Connection) -> None:
        self.ws = ws

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol."""
        return self.ws.subprotocol

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
