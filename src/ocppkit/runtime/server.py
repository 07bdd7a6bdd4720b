"""The OCPP server (CSMS side): every version on one endpoint, authentication, a registry.

::

    server = OcppServer({OcppVersion.V16: router16, OcppVersion.V201: router201}, auth=check)
    await server.start("0.0.0.0", 9000)
    response = await server.call("CP-1", v16.ResetRequest(type="Soft"))

Handshake, in order:

The checks (``authenticate``) and the connection lifecycle (``serve_transport``) are shared by the
built-in websockets listener (``start``) and the ASGI adapter (``ocppkit.transport.asgi``).

1. the ``Sec-WebSocket-Protocol`` offer: the first token (in the charge point's order of
   preference) the server serves is chosen. **No acceptable token: HTTP 400, no websocket**
   (what OCTT TC_B_58 expects; Part 4's "accept, then close" is not used);
2. identity = last URL path segment, percent-decoded; invalid -> HTTP 400 (see
   ``security.identity_from_path``);
3. admission: more than ``max_concurrent_handshakes`` in authentication -> HTTP 503;
4. security profile checks (Basic credentials present, username = identity, TLS, client
   certificate CN = identity) -> HTTP 401 / 403;
5. the ``auth`` hook with the whole ``Handshake``: return True to accept, False for 401, or raise
   ``Rejection(status, reason)`` (e.g. 404 for an unknown station).

When a charge point connects again with the same identity, the newest connection wins: it is
registered, and the older one is closed with reason ``superseded by a new connection``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import LocalProtocolError, NotConnectedError
from ocppkit.protocol.session import DEFAULT_CALL_TIMEOUT, ValidationPolicy
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.security import certificate_common_name, identity_from_path, parse_basic_auth
from ocppkit.transport import Transport
from ocppkit.transport.websockets import WebsocketsTransport

__all__ = ["AuthHook", "Handshake", "NotConnectedError", "OcppServer", "Rejection"]

R = TypeVar("R")
log = logging.getLogger("ocppkit.server")

_PREFERENCE = (OcppVersion.V21, OcppVersion.V201, OcppVersion.V16)


@dataclass(frozen=True)
class Handshake:
    """Everything the auth hook may look at."""

    identity: str
    version: OcppVersion
    path: str
    headers: Headers
    remote_address: Any
    username: str | None
    password: bytes | None
    """The Basic-auth password as sent (bytes: 1.6 keys may be raw bytes)."""
    tls: bool
    peer_certificate: dict[str, Any] | None = None
    """The client certificate (``ssl.SSLSocket.getpeercert()`` form) under mutual TLS."""
    peer_certificate_der: bytes | None = field(default=None, repr=False)


class Rejection(Exception):
    """Raise from the auth hook to refuse a handshake with an HTTP status."""

    def __init__(self, status: int = 401, reason: str = "unauthorized") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


AuthHook = Callable[[Handshake], Awaitable[bool] | bool]
"""``(async) (handshake) -> accept``; the picows backend needs a plain function."""
ConnectHook = Callable[[OcppConnection, Handshake], Awaitable[None]]
DisconnectHook = Callable[[OcppConnection], Awaitable[None]]


class OcppServer:
    """Serves charge points on one websocket endpoint, every configured OCPP version."""

    def __init__(
        self,
        routers: Mapping[OcppVersion, Router] | Router,
        *,
        auth: AuthHook | None = None,
        security_profile: int = 0,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        validation: ValidationPolicy | None = None,
        on_connect: ConnectHook | None = None,
        on_disconnect: DisconnectHook | None = None,
        on_frame: Callable[[OcppConnection], FrameHook | None] | None = None,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        open_timeout: float = 10,
        max_message_size: int = 2**20,
        max_concurrent_handshakes: int = 100,
    ) -> None:
        if isinstance(routers, Router):
            routers = {routers.version: routers}
        for version, router in routers.items():
            if router.version is not version:
                raise LocalProtocolError(f"router for {router.version} registered as {version}")
        if security_profile not in (0, 1, 2, 3):
            raise ValueError("security_profile is 0, 1, 2 or 3")
        self.routers = dict(routers)
        self.versions = [v for v in _PREFERENCE if v in self.routers]
        self.auth = auth
        self.security_profile = security_profile
        self.call_timeout = call_timeout
        self.validation = validation
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_frame = on_frame
        self._ws_options: dict[str, Any] = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "open_timeout": open_timeout,
            "max_size": max_message_size,
        }
        self.max_concurrent_handshakes = max_concurrent_handshakes
        self._authenticating = 0
        self._handshakes: dict[ServerConnection, Handshake] = {}
        self._connections: dict[str, OcppConnection] = {}
        self._server: Server | asyncio.Server | None = None

    # -- registry ----------------------------------------------------------------------------
    @property
    def connections(self) -> Mapping[str, OcppConnection]:
        """The connected charge points by identity."""
        return self._connections

    def get(self, identity: str) -> OcppConnection | None:
        """The connection of ``identity``, if connected."""
        return self._connections.get(identity)

    async def call(
        self, identity: str, request: OcppRequest[R], *, timeout: float | None = None
    ) -> R:
        """Send a CALL to a connected charge point; raises ``NotConnectedError`` if it is not."""
        conn = self._connections.get(identity)
        if conn is None:
            raise NotConnectedError(f"{identity!r} is not connected")
        return await conn.call(request, timeout=timeout)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        ssl: ssl.SSLContext | None = None,
        backend: Literal["websockets", "picows"] = "websockets",
    ) -> None:
        """Start listening (``port=0`` picks a free port: see ``port``).

        ``backend="picows"`` serves through picows: less CPU per call, but the ``auth`` hook must
        be a plain function (see ``ocppkit.transport.picows`` for its limits).
        """
        if self.security_profile >= 2 and ssl is None:
            raise ValueError(f"security profile {self.security_profile} needs an SSL context")
        if backend == "picows":
            from ocppkit.transport.picows import start_picows_server

            self._server = await start_picows_server(
                self,
                host,
                port,
                ssl_context=ssl,
                open_timeout=self._ws_options["open_timeout"],
                ping_interval=self._ws_options["ping_interval"],
                ping_timeout=self._ws_options["ping_timeout"],
                max_message_size=self._ws_options["max_size"],
            )
            return
        self._server = await serve(
            self._handle,
            host,
            port,
            ssl=ssl,
            subprotocols=[v.subprotocol for v in self.versions],  # type: ignore[misc]
            select_subprotocol=self._select_subprotocol,
            process_request=self._process_request,
            **self._ws_options,
        )

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._server is not None, "not started"
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, let running handlers answer (``grace`` s), close every connection."""
        if self._server is None:
            return
        if isinstance(self._server, Server):
            self._server.close(close_connections=False)
        else:
            self._server.close()
        conns = list(self._connections.values())
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.drain()) for c in conns], timeout=grace)
            await asyncio.gather(
                *(c.close(1001, "server shutting down") for c in conns), return_exceptions=True
            )
        await self._server.wait_closed()
        self._server = None

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    # -- handshake -----------------------------------------------------------------------------
    async def authenticate(
        self,
        *,
        path: str,
        headers: Headers,
        remote_address: Any,
        ssl_object: ssl.SSLObject | None = None,
        peer_certificate: dict[str, Any] | None = None,
        tls: bool | None = None,
    ) -> Handshake:
        """Run the handshake checks (module docstring) for any transport; raises ``Rejection``.

        ``ssl_object`` gives TLS and the client certificate; adapters without one (ASGI) pass
        ``tls`` and ``peer_certificate`` when their server exposes them.
        """
        if self._authenticating >= self.max_concurrent_handshakes:
            raise Rejection(503, "too many handshakes in progress")
        self._authenticating += 1
        try:
            handshake = self.check_handshake(
                path=path,
                headers=headers,
                remote_address=remote_address,
                ssl_object=ssl_object,
                peer_certificate=peer_certificate,
                tls=tls,
            )
            if self.auth is not None:
                verdict: Any = self.auth(handshake)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if not verdict:  # False (or None) refuses
                    raise Rejection(401, "unauthorized")
        except Rejection as exc:
            log.info("refused %s from %s: %s %s", path, remote_address, exc.status, exc.reason)
            raise
        finally:
            self._authenticating -= 1
        return handshake

    def check_handshake(
        self,
        *,
        path: str,
        headers: Headers,
        remote_address: Any,
        ssl_object: ssl.SSLObject | None = None,
        peer_certificate: dict[str, Any] | None = None,
        tls: bool | None = None,
        check_certificate: bool = True,
    ) -> Handshake:
        """The synchronous part of ``authenticate``: subprotocol, identity and security profile
        (not the ``auth`` hook). ``check_certificate=False`` defers the profile 3 CN check to an
        adapter that only sees the certificate after the upgrade (picows)."""
        offered = [
            t.strip() for h in headers.get_all("Sec-WebSocket-Protocol") for t in h.split(",")
        ]
        served = {v.subprotocol: v for v in self.versions}
        version = next((served[t] for t in offered if t in served), None)
        if version is None:
            names = ", ".join(served)
            raise Rejection(400, f"no supported OCPP subprotocol offered (served: {names})")
        try:
            identity = identity_from_path(path, version)
        except ValueError as exc:
            raise Rejection(400, f"invalid charge point identity: {exc}") from None
        credentials = parse_basic_auth(headers.get("Authorization"))
        if ssl_object is not None:
            peer_certificate = ssl_object.getpeercert() or None
        handshake = Handshake(
            identity=identity,
            version=version,
            path=path,
            headers=headers,
            remote_address=remote_address,
            username=credentials[0] if credentials else None,
            password=credentials[1] if credentials else None,
            tls=ssl_object is not None if tls is None else tls,
            peer_certificate=peer_certificate,
            peer_certificate_der=ssl_object.getpeercert(binary_form=True) if ssl_object else None,
        )
        self._check_profile(handshake, check_certificate=check_certificate)
        return handshake

    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        ssl_object = ws.transport.get_extra_info("ssl_object") if ws.transport else None
        try:
            handshake = await self.authenticate(
                path=request.path,
                headers=request.headers,
                remote_address=ws.remote_address,
                ssl_object=ssl_object,
            )
        except Rejection as exc:
            return _reject(ws, exc.status, exc.reason, basic=exc.status == 401)
        self._handshakes[ws] = handshake
        return None

    def _check_profile(self, hs: Handshake, *, check_certificate: bool = True) -> None:
        profile = self.security_profile
        if profile in (1, 2):
            if hs.password is None:
                raise Rejection(401, "HTTP Basic credentials required")
            if hs.username != hs.identity:
                raise Rejection(401, "Basic username must be the charge point identity")
        if profile >= 2 and not hs.tls:
            raise Rejection(403, "TLS required")
        if profile == 3 and check_certificate:
            common_name = certificate_common_name(hs.peer_certificate)
            if common_name is None:
                raise Rejection(403, "client certificate required")
            if common_name != hs.identity:
                raise Rejection(403, "client certificate CN does not match the identity")

    def _select_subprotocol(self, ws: ServerConnection, offered: Sequence[str]) -> Any:
        handshake = self._handshakes.get(ws)
        return handshake.version.subprotocol if handshake else None

    # -- connections ---------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        await self.serve_transport(WebsocketsTransport(ws), self._handshakes.pop(ws))

    async def serve_transport(self, transport: Transport, handshake: Handshake) -> None:
        """Serve one accepted connection until it ends: register it (newest wins), run hooks."""
        conn = OcppConnection(
            transport,
            handshake.version,
            self.routers[handshake.version],
            identity=handshake.identity,
            call_timeout=self.call_timeout,
            validation=self.validation,
        )
        if self.on_frame is not None:
            conn.on_frame = self.on_frame(conn)
        old = self._connections.get(handshake.identity)
        self._connections[handshake.identity] = conn
        if old is not None:
            log.info("%s reconnected: closing its previous connection", handshake.identity)
            await old.close(1000, "superseded by a new connection")
        log.info(
            "%s connected (OCPP %s) from %s",
            handshake.identity,
            handshake.version,
            handshake.remote_address,
        )
        try:
            if self.on_connect is None:
                await conn.run()  # one task per connection when there is no hook
            else:
                await self._run_with_hook(conn, handshake, self.on_connect)
        finally:
            if self._connections.get(handshake.identity) is conn:
                del self._connections[handshake.identity]
            log.info("%s disconnected", handshake.identity)
            if self.on_disconnect is not None:
                await self.on_disconnect(conn)

    async def _run_with_hook(
        self, conn: OcppConnection, handshake: Handshake, hook: ConnectHook
    ) -> None:
        runner = asyncio.create_task(conn.run())  # reading already, so on_connect may call()
        try:
            await hook(conn, handshake)
            await runner
        finally:
            if not runner.done():
                await conn.close(1011, "on_connect failed")
                await runner


def _reject(ws: ServerConnection, status: int, reason: str, *, basic: bool = False) -> Response:
    response = ws.respond(status, reason + "\n")
    if basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
    return response
