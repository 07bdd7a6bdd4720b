"""The OCPP client (charge point side): connect, stay connected, call.

::

    client = OcppClient("ws://csms.example/ocpp/CP-1", router, versions=[OcppVersion.V201])
    asyncio.create_task(client.run())           # connects, reconnects with back-off
    response = await client.call(BootNotificationRequest(...))

- versions are offered in the given order of preference; the server's choice must be one of them
  (and a server that picks none is refused);
- reconnects follow OCPP 2.0.1 Part 4 §5.3: ``wait_minimum * 2**min(n, repeat_times)`` plus a
  fresh random ``uniform(0, random_range)`` for attempt ``n``, reset after a connection that
  opened; the same policy serves 1.6 (which leaves the algorithm open);
- ``call()`` while disconnected waits up to ``wait_connected`` seconds for the connection
  (default 0: fail fast with ``NotConnectedError``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import NotConnectedError, OcppError
from ocppkit.protocol.session import DEFAULT_CALL_TIMEOUT, ValidationPolicy
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.transport.websockets import WebsocketsTransport

__all__ = ["HandshakeError", "OcppClient", "ReconnectPolicy"]

R = TypeVar("R")
log = logging.getLogger("ocppkit.client")


@dataclass(frozen=True)
class ReconnectPolicy:
    """Back-off between connection attempts (OCPP 2.0.1 ``RetryBackOff*`` variables)."""

    wait_minimum: float = 10.0
    random_range: float = 10.0
    repeat_times: int = 5

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt`` (0-based) after a failure."""
        base: float = self.wait_minimum * 2 ** min(attempt, self.repeat_times)
        return base + rng.uniform(0, self.random_range)


class HandshakeError(OcppError):
    """The server refused the websocket (``status``: HTTP status, 0 if it was not HTTP)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status
        self.reason = reason


class OcppClient:
    """A charge point's connection to its CSMS, re-established when it drops."""

    def __init__(
        self,
        url: str,
        routers: Mapping[OcppVersion, Router] | Router | None = None,
        *,
        versions: Sequence[OcppVersion] | None = None,
        password: str | bytes | None = None,
        ssl: ssl.SSLContext | None = None,
        reconnect: ReconnectPolicy | None = None,
        wait_connected: float = 0.0,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        validation: ValidationPolicy | None = None,
        ping_interval: float | None = 20,
        open_timeout: float = 10,
        on_connect: Callable[[OcppConnection], Awaitable[None]] | None = None,
        on_disconnect: Callable[[OcppConnection], Awaitable[None]] | None = None,
        on_frame: FrameHook | None = None,
        on_failure: Callable[[Exception], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(routers, Router):
            routers = {routers.version: routers}
        routers = dict(routers or {})
        self.versions = list(versions or routers or [OcppVersion.V16])
        self.routers = {v: routers.get(v) or Router(v) for v in self.versions}
        self.url = url
        # the last path segment, decoded but not judged: the server decides what it accepts
        location = url.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
        if "/" not in location:
            raise ValueError(f"no charge point identity in {url!r} (the last URL path segment)")
        self.identity = unquote(location.rsplit("/", 1)[-1])
        self.password = password.encode() if isinstance(password, str) else password
        self.ssl = ssl
        self.reconnect = reconnect or ReconnectPolicy()
        self.wait_connected = wait_connected
        self.call_timeout = call_timeout
        self.validation = validation
        self.ping_interval = ping_interval
        self.open_timeout = open_timeout
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_frame = on_frame
        self.on_failure = on_failure
        """Called with the error of every failed connection attempt (``HandshakeError``,
        ``ssl.SSLError``, ``OSError``, ``TimeoutError``)."""
        self._rng = rng or random.Random()
        self.connection: OcppConnection | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._generation = 0  # reconnect_now requests so far
        # set by reconnect_now (and close): the next attempt without waiting; cleared as each
        # attempt begins, so a request made during an attempt is kept for the one after it
        self._wake = asyncio.Event()
        self._outcome: asyncio.Future[bool] | None = None

    async def connect(self) -> OcppConnection:
        """Open one connection (no retry) and start serving it. Raises ``HandshakeError`` or
        ``OSError``."""
        headers: dict[str, str] = {}
        if self.password is not None:
            token = base64.b64encode(self.identity.encode() + b":" + self.password).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            ws = await connect(
                self.url,
                subprotocols=[v.subprotocol for v in self.versions],  # type: ignore[misc]
                additional_headers=headers,
                ssl=self.ssl,
                ping_interval=self.ping_interval,
                open_timeout=self.open_timeout,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
            raise HandshakeError(status, body or http_reason(status)) from None
        except InvalidHandshake as exc:
            reason = f"{exc} ({exc.__cause__})" if exc.__cause__ else str(exc)
            if self.ssl is not None:  # a TLS server drops a client it refuses mid-handshake
                reason += "; over TLS: the server may have refused our certificate"
            raise HandshakeError(0, reason) from exc
        if ws.subprotocol is None:
            await ws.close(1002, "no OCPP subprotocol agreed")
            raise HandshakeError(0, "the server agreed no OCPP subprotocol")
        version = OcppVersion.from_subprotocol(ws.subprotocol)
        conn = OcppConnection(
            WebsocketsTransport(ws),
            version,
            self.routers[version],
            identity=self.identity,
            call_timeout=self.call_timeout,
            validation=self.validation,
            on_frame=self.on_frame,
        )
        self.connection = conn
        self._connected.set()
        return conn

    async def run(self) -> None:
        """Stay connected until ``close()``: connect, serve, back off and reconnect."""
        attempt = 0
        while not self._stopping:
            generation = self._generation
            self._wake.clear()  # this attempt is the one a reconnect_now asked for
            try:
                conn = await self.connect()
            except (HandshakeError, OSError, TimeoutError) as exc:
                if self.on_failure is not None:
                    try:
                        self.on_failure(exc)
                    except Exception:
                        log.exception("%s: on_failure failed", self.identity)
                if generation == self._generation:  # else: begun before reconnect_now
                    self._tell(False)
                delay = self.reconnect.delay(attempt, self._rng)
                log.warning(
                    "%s: connection failed (%s); retrying in %.1f s", self.identity, exc, delay
                )
                attempt += 1
                await self._pause(delay)
                continue
            attempt = 0
            # closed meanwhile, or begun with the settings reconnect_now replaced
            if self._stopping or generation != self._generation:
                await conn.close(1000, "client closing" if self._stopping else "reconnecting")
                self.connection = None
                self._connected.clear()
                continue
            runner = asyncio.create_task(conn.run())
            if self.on_connect is not None:
                try:
                    await self.on_connect(conn)
                except Exception:
                    log.exception("%s: on_connect failed", self.identity)
            if generation == self._generation:  # else: reconnect_now came during on_connect
                self._tell(True)
            await runner
            self._connected.clear()
            self.connection = None
            if self.on_disconnect is not None:
                try:
                    await self.on_disconnect(conn)
                except Exception:
                    log.exception("%s: on_disconnect failed", self.identity)
            if not self._stopping:
                delay = self.reconnect.delay(0, self._rng)
                if not self._wake.is_set():
                    log.warning("%s: disconnected; reconnecting in %.1f s", self.identity, delay)
                await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds before the next attempt, or until ``reconnect_now``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _tell(self, connected: bool) -> None:
        outcome, self._outcome = self._outcome, None
        if outcome is not None and not outcome.done():
            outcome.set_result(connected)

    async def reconnect_now(self, timeout: float | None = None) -> bool:
        """Close the current connection and connect again at once (with the current ``url``,
        ``ssl`` and ``password``); True when that one attempt connected (``run`` must be
        running; after a failure it goes on retrying as usual)."""
        self._tell(False)  # an earlier waiter: superseded
        outcome = self._outcome = asyncio.get_running_loop().create_future()
        self._generation += 1  # an attempt already under way does not count
        self._wake.set()
        if self.connection is not None:
            await self.connection.close(1000, "reconnecting")
        try:
            return await asyncio.wait_for(asyncio.shield(outcome), timeout)
        except TimeoutError:
            return False

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        """Send a CALL on the current connection (waiting up to ``wait_connected`` for one)."""
        conn = self.connection
        if conn is None or conn.closed:
            if self.wait_connected > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._connected.wait(), self.wait_connected)
            conn = self.connection
            if conn is None or conn.closed:
                raise NotConnectedError(f"{self.identity} is not connected to {self.url}")
        return await conn.call(request, timeout=timeout)

    async def close(self) -> None:
        """Stop reconnecting and close the current connection."""
        self._stopping = True
        self._tell(False)
        self._wake.set()
        if self.connection is not None:
            await self.connection.close(1000, "client closing")


def http_reason(status: int) -> str:
    """The standard reason phrase of an HTTP status."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "refused"
