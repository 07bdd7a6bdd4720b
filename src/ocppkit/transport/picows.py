"""The picows transport (Cython websockets): the fastest server backend, with two limits.

``OcppServer.start(..., backend="picows")`` serves through picows instead of websockets
(benchmarks/RESULTS.md has the figures). Frames are pushed into the connection from picows's
callbacks and answers are written synchronously, so a plain-function handler's whole round trip
runs inside one callback, with no task and no await.

Limits, because picows decides the upgrade synchronously:

- the ``auth`` hook must be a plain function (e.g. a lookup in an in-memory credential table);
  ``start`` refuses a coroutine hook;
- security profile 3: the client certificate is only visible after the upgrade, so a CN that does
  not match the identity closes the websocket with 1008 instead of answering HTTP 403 (the chain
  itself is still verified by TLS before any HTTP);
- ``Handshake.remote_address`` is None.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)
from websockets.datastructures import Headers

from ocppkit.runtime.security import certificate_common_name
from ocppkit.transport import TransportClosed

if TYPE_CHECKING:
    from ocppkit.runtime.server import Handshake, OcppServer

__all__ = ["PicowsTransport", "start_picows_server"]


class PicowsTransport:
    """A picows websocket as a push ``Transport`` (``attach`` + ``send_nowait``)."""

    def __init__(self, ws: WSTransport, subprotocol: str | None) -> None:
        self.ws = ws
        self._subprotocol = subprotocol
        self._sink: Callable[[bytes], None] | None = None
        self._on_close: Callable[[], None] | None = None
        self._early: list[bytes] = []  # frames that arrived before ``attach``
        self._fragments: list[bytes] = []
        self._closed: TransportClosed | None = None

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol."""
        return self._subprotocol

    def send_nowait(self, data: bytes) -> None:
        """Write a text frame now."""
        if self._closed is not None:
            raise self._closed
        self.ws.send(WSMsgType.TEXT, data)

    async def send(self, data: bytes) -> None:
        """Write a text frame (synchronously; awaitable for the ``Transport`` protocol)."""
        self.send_nowait(data)

    async def recv(self) -> bytes | str:
        """Not used: picows pushes frames through ``attach``."""
        raise NotImplementedError("PicowsTransport is a push transport: use attach()")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and disconnect."""
        if self._closed is None:
            self.ws.send_close(WSCloseCode(code), reason.encode())
            self.ws.disconnect()
            self._disconnected(code, reason)

    def attach(self, sink: Callable[[bytes], None], on_close: Callable[[], None]) -> None:
        """Deliver every complete message to ``sink``; call ``on_close`` when disconnected."""
        self._sink, self._on_close = sink, on_close
        early, self._early = self._early, []
        for data in early:
            sink(data)
        if self._closed is not None:
            on_close()

    # -- called by the listener ----------------------------------------------------------------
    def frame(self, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY or kind is WSMsgType.CONTINUATION:
            if not frame.fin or self._fragments:  # reassemble a fragmented message
                self._fragments.append(frame.get_payload_as_bytes())
                if not frame.fin:
                    return
                data = b"".join(self._fragments)
                self._fragments = []
            else:
                data = frame.get_payload_as_bytes()
            if self._sink is not None:
                self._sink(data)
            else:
                self._early.append(data)
        elif kind is WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.ws.send_close(code)
            self.ws.disconnect()
            self._disconnected(code.value, frame.get_close_message() or b"")

    def _disconnected(self, code: int | None = None, reason: bytes | str = b"") -> None:
        if self._closed is None:
            text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
            self._closed = TransportClosed(code, text)
            if self._on_close is not None:
                self._on_close()


class _Listener(WSListener):
    def __init__(
        self, server: OcppServer, handshake: Handshake, tasks: set[asyncio.Task[None]]
    ) -> None:
        self.server = server
        self.handshake = handshake
        self.tasks = tasks
        self.transport: PicowsTransport | None = None

    def on_ws_connected(self, ws: WSTransport) -> None:
        self.transport = PicowsTransport(ws, self.handshake.version.subprotocol)
        if self.server.security_profile == 3:  # the certificate is only known now
            ssl_object = ws.underlying_transport.get_extra_info("ssl_object")
            cert = ssl_object.getpeercert() if ssl_object is not None else None
            if certificate_common_name(cert) != self.handshake.identity:
                ws.send_close(WSCloseCode.POLICY_VIOLATION, b"client certificate CN does not match")
                ws.disconnect()
                return
        task = asyncio.get_running_loop().create_task(
            self.server.serve_transport(self.transport, self.handshake)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_ws_frame(self, ws: WSTransport, frame: WSFrame) -> None:
        if self.transport is not None:
            self.transport.frame(frame)

    def on_ws_disconnected(self, ws: WSTransport) -> None:
        if self.transport is not None:
            self.transport._disconnected()


async def start_picows_server(
    server: OcppServer,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    open_timeout: float,
    ping_interval: float | None,
    ping_timeout: float | None,
    max_message_size: int,
) -> asyncio.Server:
    """Listen with picows for ``server`` (see the module docstring for the limits)."""
    if server.auth is not None and inspect.iscoroutinefunction(server.auth):
        raise ValueError("the picows backend needs a plain-function auth hook (not async)")
    tasks: set[asyncio.Task[None]] = set()

    def factory(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        headers = Headers((str(k), str(v)) for k, v in request.headers.items())
        try:
            handshake = server.check_handshake(
                path=request.path.decode("latin-1"),
                headers=headers,
                remote_address=None,
                tls=ssl_context is not None,
                check_certificate=False,
            )
            if server.auth is not None and not _sync_verdict(server.auth(handshake)):
                raise _rejection(401, "unauthorized")
        except Exception as exc:
            status, reason = getattr(exc, "status", 500), getattr(exc, "reason", str(exc))
            extra = {"WWW-Authenticate": 'Basic realm="ocpp"'} if status == 401 else None
            response = WSUpgradeResponse.create_error_response(
                status, (reason + "\n").encode(), extra
            )
            return WSUpgradeResponseWithListener(response, None)
        response = WSUpgradeResponse.create_101_response(
            extra_headers={"Sec-WebSocket-Protocol": handshake.version.subprotocol}
        )
        return WSUpgradeResponseWithListener(response, _Listener(server, handshake, tasks))

    options: dict[str, Any] = {
        "max_frame_size": max_message_size,
        "websocket_handshake_timeout": open_timeout,
    }
    if ping_interval is not None:
        options.update(
            enable_auto_ping=True,
            auto_ping_idle_timeout=ping_interval,
            auto_ping_reply_timeout=ping_timeout or ping_interval,
        )
    return await ws_create_server(factory, host, port, ssl=ssl_context, **options)


def _sync_verdict(verdict: Any) -> bool:
    if inspect.isawaitable(verdict):
        if inspect.iscoroutine(verdict):
            verdict.close()
        raise _rejection(500, "the picows backend needs a plain-function auth hook")
    return bool(verdict)


def _rejection(status: int, reason: str) -> Exception:
    from ocppkit.runtime.server import Rejection

    return Rejection(status, reason)
