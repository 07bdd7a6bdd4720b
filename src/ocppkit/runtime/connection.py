"""One OCPP connection on asyncio: the sans-I/O session driven over a ``Transport``.

- ``await conn.call(request)`` returns the typed response or raises: a ``CallError`` subclass for
  the peer's CALLERROR, ``PayloadValidationError`` for an invalid CALLRESULT, ``CallTimeoutError``,
  ``ConnectionClosedError``. It never returns ``None``. Cancelling the awaiting task cancels the
  call.
- every incoming CALL to an ``async`` handler runs in its own task, so a handler may itself
  ``await conn.call(...)``; a plain handler runs inline, and one returning ``AnswerAfter`` is
  answered when its future is done; a handler's exception becomes a CALLERROR
  (``InternalError``, or the ``CallError`` it raised) and never closes the connection; an
  action without a handler is answered ``NotSupported``.
- frames go out in the order the session produced them, written at once where the transport
  can (``send_nowait``; ``can_send_nowait()`` False makes it wait for ``send``); timeouts run on
  the event loop's clock.
- every frame in and out goes to the ``ocppkit.wire`` logger (DEBUG) and the optional
  ``on_frame(direction, data)`` hook; every ``ProtocolIssue`` to ``ocppkit.protocol`` (WARNING)
  and the optional ``on_issue`` hook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Literal, TypeVar

from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import (
    CallError,
    ConnectionClosedError,
    InternalError,
    LocalProtocolError,
    NotSupportedError,
    PayloadValidationError,
)
from ocppkit.protocol.events import (
    CallCompleted,
    CallFailed,
    CallReceived,
    Event,
    ProtocolIssue,
    SendReceived,
)
from ocppkit.protocol.session import DEFAULT_CALL_TIMEOUT, OcppSession, ValidationPolicy
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.router import AfterHook, AnswerAfter, Route, Router
from ocppkit.transport import Transport, TransportClosed

__all__ = ["FrameHook", "IssueHook", "OcppConnection"]

R = TypeVar("R")

FrameHook = Callable[[Literal["in", "out"], bytes | str], None]
"""Called with every frame received (``"in"``) and sent (``"out"``)."""
IssueHook = Callable[[ProtocolIssue], None]
"""Called with every protocol issue the session reports."""

wire_log = logging.getLogger("ocppkit.wire")
protocol_log = logging.getLogger("ocppkit.protocol")


class OcppConnection:
    """An open OCPP connection: send CALLs, answer the peer's CALLs through a ``Router``."""

    def __init__(
        self,
        transport: Transport,
        version: OcppVersion,
        router: Router | None = None,
        *,
        identity: str = "",
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        validation: ValidationPolicy | None = None,
        on_frame: FrameHook | None = None,
        on_issue: IssueHook | None = None,
    ) -> None:
        if router is not None and router.version is not version:
            raise LocalProtocolError(
                f"router is for OCPP {router.version}, connection speaks {version}"
            )
        self.transport = transport
        self.version = version
        self.router = router or Router(version)
        self.identity = identity
        self.on_frame = on_frame
        self.on_issue = on_issue
        self._session = OcppSession(version, call_timeout=call_timeout, validation=validation)
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Future[Any]] = set()  # AnswerAfter futures not yet done
        self._send_lock = asyncio.Lock()
        # transports that can write synchronously (picows, websockets) skip the lock and the
        # await, while ``can_send_nowait()`` (if they have it) says the write buffer has room
        self._send_now: Callable[[bytes], None] | None = getattr(transport, "send_nowait", None)
        self._can_send_now: Callable[[], bool] | None = getattr(transport, "can_send_nowait", None)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<OcppConnection {self.identity!r} OCPP {self.version}>"

    @property
    def closed(self) -> bool:
        """True once the connection has ended."""
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        """Wait until the connection has ended."""
        await self._closed.wait()

    # -- outgoing ----------------------------------------------------------------------------
    async def call(self, request: OcppRequest[R], *, timeout: float | None = None) -> R:
        """Send a CALL and return its typed response (see the module docstring for errors).

        ``timeout`` (seconds, queue time included) overrides the connection's call timeout.
        """
        if self.closed:
            raise ConnectionClosedError(f"connection to {self.identity!r} is closed")
        uid = self._session.send_call(request, self._loop.time(), timeout=timeout)
        waiter: asyncio.Future[R] = self._loop.create_future()
        self._waiters[uid] = waiter
        await self._flush()
        self._arm_timer()
        try:
            return await waiter
        except asyncio.CancelledError:
            self._waiters.pop(uid, None)
            self._session.cancel_call(uid)
            raise

    async def send(self, request: OcppRequest[None]) -> None:
        """Send a 2.1 SEND-type message (no response)."""
        if self.closed:
            raise ConnectionClosedError(f"connection to {self.identity!r} is closed")
        self._session.send(request)
        self._dispatch(self._session.events_received())
        await self._flush()

    # -- lifecycle -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Receive and process frames until the transport closes; then fail what is pending.

        A push transport (one with ``attach``, e.g. picows) delivers frames through ``receive``
        from its own callbacks; ``run`` then only waits for the end of the connection.
        """
        attach = getattr(self.transport, "attach", None)
        try:
            if attach is not None:
                attach(self.receive, self._shutdown)
                await self._closed.wait()
                return
            while True:
                self.receive(await self.transport.recv())
                await self._flush()
        except TransportClosed:
            pass
        finally:
            self._shutdown()

    def receive(self, data: bytes | str) -> None:
        """Process one incoming frame now (push transports call this from their callbacks)."""
        if self.on_frame is not None:
            self.on_frame("in", data)
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s <- %s", self.identity, _text(data))
        self._session.receive_data(data, self._loop.time())
        self._dispatch(self._session.events_received())
        if self._session.has_data_to_send and self._writable_now():
            self._flush_now()
        self._arm_timer()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; pending calls fail with ``ConnectionClosedError``."""
        await self.transport.close(code, reason)
        self._shutdown()

    async def drain(self) -> None:
        """Wait until every handler running now has finished (and sent its answer)."""
        while self._tasks or self._answering:
            await asyncio.wait([*self._tasks, *self._answering])

    def _shutdown(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._timer is not None:
            self._timer.cancel()
        self._session.connection_lost()
        self._dispatch(self._session.events_received())

    # -- internals ----------------------------------------------------------------------------
    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if type(event) is CallCompleted:
                self._resolve(event.unique_id, event.response, None)
            elif type(event) is CallFailed:
                self._resolve(event.unique_id, None, event.error)
            elif type(event) is CallReceived or type(event) is SendReceived:
                route = self.router.route(event.action)
                if route is not None and route.is_async:
                    self._spawn(self._handle(event, route))
                else:  # plain handler or none: answered inline, flushed by whoever dispatched
                    self._handle_inline(event, route)
            elif type(event) is ProtocolIssue:
                protocol_log.warning("%s: %s: %s", self.identity, event.kind, event.description)
                if self.on_issue is not None:
                    self.on_issue(event)
            else:  # CallResultErrorReceived (2.1)
                protocol_log.warning("%s: peer rejected our CALLRESULT: %s", self.identity, event)

    def _resolve(self, uid: str, response: Any, error: Exception | None) -> None:
        waiter = self._waiters.pop(uid, None)
        if waiter is None or waiter.done():
            return
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(response)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _handle_inline(self, event: CallReceived | SendReceived, route: Route | None) -> None:
        if route is None:
            if type(event) is CallReceived:
                unsupported = NotSupportedError(f"{event.action} is not supported here")
                self._answer(event.unique_id, None, unsupported)
            return
        error: CallError | None = None
        response: Any = None
        try:
            response = route.handler(event.request, self)
        except Exception as exc:
            error = self._failure(event.action, exc)
        else:
            if type(response) is AnswerAfter:
                future = response.future
                self._answering.add(future)
                future.add_done_callback(partial(self._answer_after, event, route, response))
                return
        if type(event) is CallReceived:
            self._reply(event, route, response, error)  # flushed by whoever dispatched

    def _answer_after(
        self,
        event: CallReceived | SendReceived,
        route: Route,
        answer: AnswerAfter[Any],
        future: asyncio.Future[Any],
    ) -> None:
        """An ``AnswerAfter`` future is done: answer (or fail) the CALL and write it out."""
        self._answering.discard(future)
        error: CallError | None = None
        if future.cancelled():
            error = InternalError(f"{event.action} failed: cancelled")
        else:
            exc = future.exception()
            if exc is not None:
                error = self._failure(event.action, exc)
        if (
            type(event) is CallReceived
            and not self.closed
            and not self._reply(event, route, answer.response, error)
        ):
            self._flush_soon()

    async def _handle(self, event: CallReceived | SendReceived, route: Route) -> None:
        error: CallError | None = None
        response: Any = None
        try:
            response = await route.handler(event.request, self)
        except Exception as exc:
            error = self._failure(event.action, exc)
        if (
            type(event) is CallReceived
            and not self.closed
            and not self._reply(event, route, response, error)
        ):
            await self._flush()

    def _reply(
        self, event: CallReceived, route: Route, response: Any, error: CallError | None
    ) -> bool:
        """Queue the answer to ``event``; True if it was a CALLRESULT and the route has an
        after-hook, which then runs in a task of its own (writing the answer out first)."""
        if self._answer(event.unique_id, response, error) and route.after is not None:
            self._spawn(self._after(route.after, event.request, response))
            return True
        return False

    async def _after(self, hook: AfterHook, request: Any, response: Any) -> None:
        await self._flush()  # the response goes out before the hook runs
        try:
            await hook(request, response, self)
        except Exception:
            protocol_log.exception("%s: after-hook failed", self.identity)

    def _failure(self, action: str, exc: BaseException) -> CallError:
        """A handler's exception -> the CALLERROR to send (its own, or InternalError)."""
        if isinstance(exc, CallError):
            return exc
        protocol_log.error("%s: %s handler failed", self.identity, action, exc_info=exc)
        return InternalError(f"{action} failed: {type(exc).__name__}")

    def _answer(self, uid: str, response: Any, error: CallError | None) -> bool:
        """Queue the CALLRESULT (True) or CALLERROR (False) for the peer's CALL ``uid``."""
        if error is None:
            try:
                self._session.send_result(uid, response)
            except (LocalProtocolError, PayloadValidationError) as exc:
                protocol_log.error("%s: invalid response from handler: %s", self.identity, exc)
                error = InternalError(f"invalid response: {exc}")
            else:
                self._dispatch(self._session.events_received())
                return True
        self._session.send_error(uid, error)
        return False

    def _outgoing(self, data: bytes) -> None:
        """A frame is about to be written: the frame hook and the wire log see it."""
        if self.on_frame is not None:
            self.on_frame("out", data)
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s -> %s", self.identity, _text(data))

    def _writable_now(self) -> bool:
        """True if pending frames may be written synchronously now: the transport can, its
        write buffer has room, and no ``await send`` is under way (it would be overtaken)."""
        return (
            self._send_now is not None
            and not self._send_lock.locked()
            and (self._can_send_now is None or self._can_send_now())
        )

    def _flush_now(self) -> None:
        """Write pending frames synchronously (see ``_writable_now``)."""
        assert self._send_now is not None
        for data in self._session.data_to_send():
            self._outgoing(data)
            try:
                self._send_now(data)
            except TransportClosed:
                self._shutdown()
                return

    def _flush_soon(self) -> None:
        """Write pending frames now if the transport can, else in a task (``_flush``)."""
        if self._writable_now():
            self._flush_now()
        elif self._session.has_data_to_send:
            self._spawn(self._flush())

    async def _flush(self) -> None:
        if not self._session.has_data_to_send:
            return
        if self._writable_now():
            self._flush_now()
            return
        async with self._send_lock:
            for data in self._session.data_to_send():
                self._outgoing(data)
                try:
                    await self.transport.send(data)
                except TransportClosed:
                    self._shutdown()
                    return

    def _arm_timer(self) -> None:
        deadline = self._session.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None if deadline is None else self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self._session.tick(self._loop.time())
        self._dispatch(self._session.events_received())
        self._arm_timer()
        self._flush_soon()  # a queued CALL may now go out


def _text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
