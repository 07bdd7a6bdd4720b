"""Mount an ``OcppServer`` in any ASGI application (Starlette, FastAPI, Quart …).

::

    server = OcppServer(routers, auth=check)
    app = Starlette(routes=[Mount("/ocpp", app=OcppAsgiApp(server))])
    # a charge point connects to ws://host/ocpp/CP-1; server.call("CP-1", …) reaches it

The handshake runs the same checks as the built-in listener (``OcppServer.authenticate``) and the
connection joins the same registry. Refusals use the ASGI "websocket.http.response" extension when
the ASGI server offers it (so the charge point sees 400/401/403/404/503); otherwise the websocket is
closed before it opens (most servers then answer 403). TLS facts come from the ASGI ``tls``
extension when present (``client_cert_chain`` for security profile 3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from websockets.datastructures import Headers

from ocppkit.runtime.server import OcppServer, Rejection
from ocppkit.transport import TransportClosed

__all__ = ["AsgiTransport", "OcppAsgiApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiTransport:
    """An accepted ASGI websocket as an OCPP ``Transport``."""

    def __init__(self, receive: Receive, send: Send, subprotocol: str | None) -> None:
        self._receive = receive
        self._send = send
        self._subprotocol = subprotocol
        self._closed: TransportClosed | None = None

    @property
    def subprotocol(self) -> str | None:
        """The accepted subprotocol."""
        return self._subprotocol

    async def send(self, data: bytes) -> None:
        """Send a text message."""
        if self._closed is not None:
            raise self._closed
        try:
            await self._send({"type": "websocket.send", "text": data.decode()})
        except OSError as exc:  # the ASGI server lost the connection
            self._closed = TransportClosed(None, str(exc))
            raise self._closed from None

    async def recv(self) -> bytes | str:
        """The next message; ``TransportClosed`` on disconnect."""
        if self._closed is not None:
            raise self._closed
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                return text if text is not None else bytes(message.get("bytes") or b"")
            if kind == "websocket.disconnect":
                self._closed = TransportClosed(message.get("code"), message.get("reason") or "")
                raise self._closed

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the websocket."""
        if self._closed is None:
            self._closed = TransportClosed(code, reason)
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


class OcppAsgiApp:
    """An ASGI application that serves OCPP websockets for ``server``."""

    def __init__(self, server: OcppServer) -> None:
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: websockets are served, plain HTTP gets 426."""
        if scope["type"] == "http":
            await _http_response(send, 426, "OCPP needs a websocket upgrade")
            return
        if scope["type"] != "websocket":
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = Headers(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])
        )
        if "Sec-WebSocket-Protocol" not in headers and scope.get("subprotocols"):
            headers["Sec-WebSocket-Protocol"] = ", ".join(scope["subprotocols"])
        tls = scope.get("extensions", {}).get("tls")
        try:
            handshake = await self.server.authenticate(
                path=scope.get("root_path", "") + scope["path"],
                headers=headers,
                remote_address=scope.get("client"),
                tls=scope.get("scheme") == "wss" or tls is not None,
                peer_certificate=_peer_certificate(tls),
            )
        except Rejection as exc:
            if "websocket.http.response" in scope.get("extensions", {}):
                await _http_response(send, exc.status, exc.reason, prefix="websocket.")
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": exc.reason[:120]})
            return
        subprotocol = handshake.version.subprotocol
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        await self.server.serve_transport(AsgiTransport(receive, send, subprotocol), handshake)


async def _http_response(send: Send, status: int, text: str, *, prefix: str = "") -> None:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": f"{prefix}http.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}http.response.body", "body": body})


def _peer_certificate(tls: Any) -> dict[str, Any] | None:
    """The ASGI TLS extension's client certificate name, in ``getpeercert()`` form."""
    if not tls or not tls.get("client_cert_name"):
        return None
    name = str(tls["client_cert_name"])  # RFC 4514, e.g. "CN=CP-1,O=Example"
    parts = [p.split("=", 1) for p in name.split(",") if "=" in p]
    subject = tuple(
        ((("commonName" if k.strip().upper() == "CN" else k.strip()), v.strip()),) for k, v in parts
    )
    return {"subject": subject}
