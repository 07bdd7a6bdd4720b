"""The charge point stack on asyncio and a real websocket: clock, scheduler, link, runner.

::

    store = SqliteStateStore("cp.db")
    runtime = AsyncioRuntime()
    client = OcppClient("ws://csms:9000/CP-1", versions=[OcppVersion.V16])
    cp = ChargePoint16(store=store, link=ClientLink(client), clock=runtime,
                       scheduler=runtime, vendor="ACME", model="Box", connectors=2)
    await run_charge_point(cp, client)          # until cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.connection import FrameHook, OcppConnection

__all__ = [
    "AsyncioRuntime",
    "ClientLink",
    "connected_charge_point",
    "follow_ping_interval",
    "frame_log",
    "run_charge_point",
    "wait_accepted",
    "wait_delivered",
]

R = TypeVar("R")
log = logging.getLogger("ocppkit.chargepoint")


class AsyncioRuntime:
    """``Clock`` and ``Scheduler`` on the running event loop. The wall clock follows the CSMS's
    time by an offset (the system clock is left alone: set it in ``set_system_time``)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        """System time plus the offset to the CSMS's time, UTC."""
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def set_time(self, now: datetime) -> None:
        """Follow the CSMS's clock from now on."""
        self._offset = now - datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        """``loop.call_later``."""
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """A task whose failure is logged; kept referenced until it ends."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def lock(self) -> asyncio.Lock:
        """An ``asyncio.Lock``."""
        return asyncio.Lock()

    async def drain(self) -> None:
        """Wait for the background tasks running now (and those they start)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class ClientLink:
    """``Link`` over an ``OcppClient``."""

    def __init__(self, client: OcppClient) -> None:
        self.client = client

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        conn = self.client.connection
        return conn is not None and not conn.closed

    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        """Send on the current connection (``NotConnectedError`` when there is none)."""
        return await self.client.call(request, timeout=timeout)


async def wait_accepted(cp: ChargePoint16, timeout: float | None = None) -> bool:
    """Wait until the CSMS accepted the boot; False when ``timeout`` seconds passed first."""
    return await _wait(cp.boot.when_accepted, timeout)


async def wait_delivered(cp: ChargePoint16, timeout: float | None = None) -> bool:
    """Wait until the outbox is empty (every transaction message delivered or discarded);
    False when ``timeout`` seconds passed first."""
    return await _wait(cp.outbox.when_empty, timeout)


async def _wait(when: Callable[[Callable[[], None]], object], timeout: float | None) -> bool:
    """Register an event's setter with ``when``; wait for it, False after ``timeout``."""
    done = asyncio.Event()
    when(done.set)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        return False
    return True


def frame_log(path: str, *, max_bytes: int = 1_000_000, backups: int = 3) -> FrameHook:
    """A frame hook (``OcppClient(on_frame=...)``) writing every frame in and out, one readable
    line each, to ``path``, rotated: at most ``(backups + 1) * max_bytes`` bytes on disk. For
    support cases."""
    from logging.handlers import RotatingFileHandler

    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger(f"ocppkit.frames.{path}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)

    def record(direction: Literal["in", "out"], data: bytes | str) -> None:
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        logger.info("%s %s", "<-" if direction == "in" else "->", text)

    return record


def follow_ping_interval(cp: ChargePoint16, client: OcppClient) -> None:
    """The client pings every ``WebSocketPingInterval`` seconds (0: no pings); a change applies
    from the next connection."""

    def apply(value: str | None = None) -> None:
        seconds = cp.config.get_int("WebSocketPingInterval")
        client.ping_interval = seconds if seconds else None

    apply()
    cp.config.on_change("WebSocketPingInterval", apply)


def apply_security(
    cp: ChargePoint16,
    client: OcppClient,
    base_url: str,
    cafile: str | None = None,
    urls: Mapping[int, str] | None = None,
) -> None:
    """Point ``client`` at the stack's security settings (Security Whitepaper profiles 0–3):
    the URL of the profile in ``urls``, else ``base_url`` with ``ws://`` for 0 and 1 and
    ``wss://`` for 2 and 3 (a CSMS may serve each profile on its own port); the
    ``AuthorizationKey`` bytes as Basic-auth password for 1 and 2; for 2 and 3 TLS trusting the
    installed CentralSystemRootCertificates (none installed: ``cafile``, else the system's);
    for 3 the charge point's own certificate and key as client certificate."""
    profile = cp.config.get_int("SecurityProfile") or 0
    key = cp.config.get("AuthorizationKey") or ""
    client.password = bytes.fromhex(key) if profile in (1, 2) and key else None
    rest = base_url.split("://", 1)[-1]
    client.url = (urls or {}).get(profile) or f"{'wss' if profile >= 2 else 'ws'}://{rest}"
    client.ssl = _tls(cp, profile, cafile) if profile >= 2 else None


def _tls(cp: ChargePoint16, profile: int, cafile: str | None) -> ssl.SSLContext:
    roots = cp.certificates.roots_pem() if cp.has_certificates else ""
    context = (
        ssl.create_default_context(cadata=roots)
        if roots
        else ssl.create_default_context(cafile=cafile)
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # the key is decrypted only when profile 3 presents it
    credentials = (
        cp.certificates.client_credentials() if profile == 3 and cp.has_certificates else None
    )
    if credentials is not None:
        with tempfile.TemporaryDirectory() as directory:  # ssl loads chains from files only
            chain, key = Path(directory, "chain.pem"), Path(directory, "key.pem")
            chain.write_text(credentials[0])
            key.touch(0o600)
            key.write_text(credentials[1])
            context.load_cert_chain(chain, key)
    return context


def connection_security_event(exc: Exception) -> str | None:
    """The Security Whitepaper event a failed connection attempt is (None: not one): the CSMS's
    certificate did not verify, the CSMS refused our credentials (HTTP 401), TLS too old."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "InvalidCentralSystemCertificate"
    if isinstance(exc, HandshakeError) and exc.status == 401:
        return "FailedToAuthenticateAtCentralSystem"
    if isinstance(exc, ssl.SSLError) and "VERSION" in str(exc).upper():
        return "InvalidTLSVersion"
    return None


@contextlib.asynccontextmanager
async def connected_charge_point(
    cp: ChargePoint16,
    client: OcppClient,
    *,
    frames: str | None = None,
    manage_security: bool = False,
    cafile: str | None = None,
    urls: Mapping[int, str] | None = None,
) -> AsyncIterator[asyncio.Task[None]]:
    """Start ``cp`` and keep ``client`` connected for it in the background (the task running the
    client is what ``async with`` gives); at the end close the client, then ``cp``.
    ``frames``: a file for the frame log (``frame_log``), for support cases.
    ``manage_security``: the stack's configuration decides the client's scheme, password and TLS
    (``apply_security``), at start and whenever it reconnects — after a SecurityProfile or
    AuthorizationKey change, or a new certificate on profile 3 (one attempt with the new
    settings; the stack falls back to the old profile when it fails); ``urls``: the CSMS's URL
    per security profile, ``cafile``: TLS roots while none is installed (``apply_security``)."""
    if OcppVersion.V16 not in client.routers:
        raise ValueError("the client must offer OCPP 1.6")
    client.routers[OcppVersion.V16] = cp.router
    if cp.identity is None:
        cp.identity = client.identity
    if frames is not None:
        client.on_frame = frame_log(frames)

    failures: set[str] = set()  # security events raised since the last good connection

    async def opened(conn: OcppConnection) -> None:
        failures.clear()
        cp.connected()

    def failed(exc: Exception) -> None:
        kind = connection_security_event(exc)
        if kind is not None and kind not in failures:  # once per streak of failures
            failures.add(kind)
            cp.scheduler.spawn(cp.security_event(kind, str(exc)[:255]), "ocppkit security event")

    async def closed(conn: OcppConnection) -> None:
        cp.disconnected()

    client.on_connect = opened
    client.on_disconnect = closed
    client.on_failure = failed
    await cp.start()
    base_url = client.url

    async def reconnect() -> bool:
        if manage_security:
            apply_security(cp, client, base_url, cafile, urls)
        return await client.reconnect_now(timeout=client.open_timeout + 5)

    cp.context.reconnect = reconnect
    if manage_security:
        apply_security(cp, client, base_url, cafile, urls)
    follow_ping_interval(cp, client)
    runner = asyncio.get_running_loop().create_task(client.run())
    try:
        yield runner
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        cp.disconnected()
        await cp.close()


async def run_charge_point(
    cp: ChargePoint16, client: OcppClient, *, frames: str | None = None
) -> None:
    """Start ``cp`` and keep ``client`` connected for it until cancelled (or the client is
    closed); then close both."""
    async with connected_charge_point(cp, client, frames=frames) as runner:
        await runner
