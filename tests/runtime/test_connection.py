"""OcppConnection over the in-memory transport: calls, handlers, errors, hooks, lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ocppkit.messages import v16, v21
from ocppkit.protocol import (
    CallTimeoutError,
    ConnectionClosedError,
    InternalError,
    NotSupportedError,
    OcppVersion,
    SecurityError,
)
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import AnswerAfter, Router
from ocppkit.transport.memory import memory_pair

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
Scenario = Callable[[OcppConnection, OcppConnection], Awaitable[None]]


def run_pair(
    scenario: Scenario,
    cp_router: Router | None = None,
    csms_router: Router | None = None,
    version: OcppVersion = OcppVersion.V16,
    **kwargs: Any,
) -> None:
    async def main() -> None:
        a, b = memory_pair(version.subprotocol)
        cp = OcppConnection(a, version, cp_router, identity="CP1", **kwargs)
        csms = OcppConnection(b, version, csms_router, identity="CP1", **kwargs)
        runners = [asyncio.create_task(cp.run()), asyncio.create_task(csms.run())]
        try:
            await asyncio.wait_for(scenario(cp, csms), 10)
        finally:
            await cp.close()
            await asyncio.gather(*runners)

    asyncio.run(main())


def csms_router() -> Router:
    router = Router(OcppVersion.V16)

    @router.on(v16.HeartbeatRequest)
    async def heartbeat(
        request: v16.HeartbeatRequest, conn: OcppConnection
    ) -> v16.HeartbeatResponse:
        return v16.HeartbeatResponse(current_time=NOW)

    return router


def test_call_returns_the_typed_response() -> None:
    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        response = await cp.call(v16.HeartbeatRequest())
        assert response == v16.HeartbeatResponse(current_time=NOW)

    run_pair(scenario, csms_router=csms_router())


def test_a_handler_may_call_back_without_deadlock() -> None:
    router = Router(OcppVersion.V16)
    cp_router = Router(OcppVersion.V16)

    @router.on(v16.BootNotificationRequest)
    async def boot(
        request: v16.BootNotificationRequest, conn: OcppConnection
    ) -> v16.BootNotificationResponse:
        config = await conn.call(v16.GetConfigurationRequest(key=["HeartbeatInterval"]))
        assert config.configuration_key is not None
        interval = int(config.configuration_key[0].value or "0")
        return v16.BootNotificationResponse(current_time=NOW, interval=interval, status="Accepted")

    @cp_router.on(v16.GetConfigurationRequest)
    async def get_config(
        request: v16.GetConfigurationRequest, conn: OcppConnection
    ) -> v16.GetConfigurationResponse:
        return v16.GetConfigurationResponse(
            configuration_key=[v16.KeyValue(key="HeartbeatInterval", readonly=False, value="77")]
        )

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        boot_req = v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
        response = await cp.call(boot_req)
        assert (response.status, response.interval) == ("Accepted", 77)

    run_pair(scenario, cp_router=cp_router, csms_router=router)


def test_handler_errors_become_call_errors_and_the_connection_goes_on() -> None:
    router = csms_router()

    @router.on(v16.AuthorizeRequest)
    async def authorize(
        request: v16.AuthorizeRequest, conn: OcppConnection
    ) -> v16.AuthorizeResponse:
        if request.id_tag == "crash":
            raise RuntimeError("database down")
        raise SecurityError("not accepted yet")

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        with pytest.raises(InternalError, match="RuntimeError"):
            await cp.call(v16.AuthorizeRequest(id_tag="crash"))
        with pytest.raises(SecurityError, match="not accepted yet"):
            await cp.call(v16.AuthorizeRequest(id_tag="other"))
        with pytest.raises(NotSupportedError):
            await cp.call(
                v16.StatusNotificationRequest(
                    connector_id=1, error_code="NoError", status="Available"
                )
            )
        assert (await cp.call(v16.HeartbeatRequest())).current_time == NOW

    run_pair(scenario, csms_router=router)


def test_invalid_response_from_a_handler_is_an_internal_error() -> None:
    router = Router(OcppVersion.V16)

    @router.on(v16.HeartbeatRequest)
    async def heartbeat(request: v16.HeartbeatRequest, conn: OcppConnection) -> Any:
        return v16.ClearCacheResponse(status="Accepted")

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        with pytest.raises(InternalError, match="invalid response"):
            await cp.call(v16.HeartbeatRequest())

    run_pair(scenario, csms_router=router)


def test_timeout_and_cancellation() -> None:
    release = asyncio.Event()
    router = Router(OcppVersion.V16)

    @router.on(v16.HeartbeatRequest)
    async def slow(request: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        await release.wait()
        return v16.HeartbeatResponse(current_time=NOW)

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        with pytest.raises(CallTimeoutError):
            await cp.call(v16.HeartbeatRequest(), timeout=0.01)
        task = asyncio.create_task(cp.call(v16.HeartbeatRequest()))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await csms.drain()

    run_pair(scenario, csms_router=router)


def test_close_fails_pending_calls() -> None:
    router = Router(OcppVersion.V16)
    entered = asyncio.Event()

    @router.on(v16.HeartbeatRequest)
    async def never(request: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        pending = asyncio.create_task(cp.call(v16.HeartbeatRequest()))
        await entered.wait()
        await csms.close()
        with pytest.raises(ConnectionClosedError):
            await pending
        with pytest.raises(ConnectionClosedError):
            await cp.call(v16.HeartbeatRequest())

    run_pair(scenario, csms_router=router)


def test_after_hook_runs_once_the_response_is_sent_and_frames_are_seen() -> None:
    router = csms_router()
    order: list[str] = []

    @router.after(v16.HeartbeatRequest)
    async def follow_up(request: Any, response: Any, conn: OcppConnection) -> None:
        # the hook's exceptions are only logged: the assertion counts through ``order``
        assert any(b'"currentTime"' in f for f in conn.transport.sent)  # type: ignore[attr-defined]
        order.append("after")

    frames: list[tuple[str, bytes | str]] = []

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        csms.on_frame = lambda direction, data: frames.append((direction, data))
        await cp.call(v16.HeartbeatRequest())
        await csms.drain()
        assert order == ["after"]
        assert [d for d, _ in frames] == ["in", "out"]

    run_pair(scenario, csms_router=router)


def test_crossing_calls_in_both_directions() -> None:
    cp_router = Router(OcppVersion.V16)

    @cp_router.on(v16.ClearCacheRequest)
    async def clear(request: v16.ClearCacheRequest, conn: OcppConnection) -> v16.ClearCacheResponse:
        return v16.ClearCacheResponse(status="Accepted")

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        results = await asyncio.gather(
            *(cp.call(v16.HeartbeatRequest()) for _ in range(20)),
            *(csms.call(v16.ClearCacheRequest()) for _ in range(20)),
        )
        assert len(results) == 40
        first, last = results[0], results[-1]
        assert isinstance(first, v16.HeartbeatResponse)
        assert first.current_time == NOW
        assert isinstance(last, v16.ClearCacheResponse)
        assert last.status == "Accepted"

    run_pair(scenario, cp_router=cp_router, csms_router=csms_router())


def test_send_in_2_1_reaches_the_handler_and_gets_no_answer() -> None:
    router = Router(OcppVersion.V21)
    got: list[float] = []

    @router.on(v21.NotifyPeriodicEventStreamRequest)
    async def stream(request: v21.NotifyPeriodicEventStreamRequest, conn: OcppConnection) -> None:
        got.append(request.data[0].t)

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        data = [v21.StreamDataElementType(t=1.5, v="7")]
        await cp.send(
            v21.NotifyPeriodicEventStreamRequest(id=1, pending=0, basetime=NOW, data=data)
        )
        while not got:
            await asyncio.sleep(0)
        await csms.drain()
        assert got == [1.5]
        assert csms.transport.sent == []  # type: ignore[attr-defined]

    run_pair(scenario, csms_router=router, version=OcppVersion.V21)


def test_plain_function_handlers_answer_inline_with_the_same_rules() -> None:
    router = Router(OcppVersion.V16)
    after: list[str] = []

    ran_in: list[asyncio.Task[Any] | None] = []

    @router.on(v16.HeartbeatRequest)
    def heartbeat(request: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        ran_in.append(asyncio.current_task())
        return v16.HeartbeatResponse(current_time=NOW)

    @router.on(v16.AuthorizeRequest)
    def authorize(request: v16.AuthorizeRequest, conn: OcppConnection) -> v16.AuthorizeResponse:
        if request.id_tag == "crash":
            raise RuntimeError("boom")
        raise SecurityError("nope")

    @router.after(v16.HeartbeatRequest)
    async def follow_up(request: Any, response: Any, conn: OcppConnection) -> None:
        assert any(b'"currentTime"' in f for f in conn.transport.sent)  # type: ignore[attr-defined]
        after.append("after")

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        assert (await cp.call(v16.HeartbeatRequest())).current_time == NOW
        await cp.call(v16.HeartbeatRequest())
        # inline: both ran in the connection's reader task, not in a task per call
        assert ran_in[0] is ran_in[1]
        assert ran_in[0] is not None
        with pytest.raises(InternalError, match="RuntimeError"):
            await cp.call(v16.AuthorizeRequest(id_tag="crash"))
        with pytest.raises(SecurityError, match="nope"):
            await cp.call(v16.AuthorizeRequest(id_tag="x"))
        await csms.drain()
        assert after == ["after", "after"]

    run_pair(scenario, csms_router=router)


def test_answer_after_answers_once_the_future_is_done() -> None:
    """A plain handler returning ``AnswerAfter``: no task; the answer goes out when the future
    is done (before that: nothing), its exception is the CALLERROR, a cancelled future an
    InternalError; ``drain`` waits for it; the after-hook runs after the answer."""
    router = Router(OcppVersion.V16)
    pending: dict[str, asyncio.Future[None]] = {}
    after: list[str] = []

    @router.on(v16.AuthorizeRequest)
    def authorize(
        request: v16.AuthorizeRequest, conn: OcppConnection
    ) -> AnswerAfter[v16.AuthorizeResponse]:
        future = pending[request.id_tag] = asyncio.get_running_loop().create_future()
        return AnswerAfter(
            future, v16.AuthorizeResponse(id_tag_info=v16.IdTagInfo(status="Accepted"))
        )

    @router.after(v16.AuthorizeRequest)
    async def follow_up(request: Any, response: Any, conn: OcppConnection) -> None:
        assert b'"Accepted"' in conn.transport.sent[-1]  # type: ignore[attr-defined]
        after.append(request.id_tag)

    async def answered(cp: OcppConnection, tag: str) -> Any:
        """Send Authorize ``tag``; once its handler ran, check it is not answered yet, let the
        test settle the future, and return the call (a task) for the caller to await."""
        call = asyncio.create_task(cp.call(v16.AuthorizeRequest(id_tag=tag)))
        while tag not in pending:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not call.done()
        return call

    async def scenario(cp: OcppConnection, csms: OcppConnection) -> None:
        sent = csms.transport.sent  # type: ignore[attr-defined]
        call = await answered(cp, "ok")
        assert sent == []
        drained = asyncio.create_task(csms.drain())
        await asyncio.sleep(0)
        assert not drained.done()  # drain waits for the future
        pending["ok"].set_result(None)
        await drained
        assert len(sent) == 1
        assert (await call).id_tag_info.status == "Accepted"
        call = await answered(cp, "fails")
        pending["fails"].set_exception(RuntimeError("disk on fire"))
        with pytest.raises(InternalError, match="RuntimeError"):
            await call
        call = await answered(cp, "refused")
        pending["refused"].set_exception(SecurityError("not you"))
        with pytest.raises(SecurityError, match="not you"):
            await call
        call = await answered(cp, "cancelled")
        pending["cancelled"].cancel()
        with pytest.raises(InternalError, match="cancelled"):
            await call
        await csms.drain()
        assert after == ["ok"]

    run_pair(scenario, csms_router=router)


class WriteNowTransport:
    """A transport that can write at once, unless ``room`` is False; ``send`` waits for
    ``release`` (a full write buffer draining)."""

    subprotocol = "ocpp1.6"

    def __init__(self) -> None:
        self.room = True
        self.release = asyncio.Event()
        self.written: list[tuple[str, bytes]] = []

    def can_send_nowait(self) -> bool:
        return self.room

    def send_nowait(self, data: bytes) -> None:
        self.written.append(("now", data))

    async def send(self, data: bytes) -> None:
        await self.release.wait()
        self.written.append(("awaited", data))

    async def recv(self) -> bytes | str:
        await asyncio.Event().wait()
        raise AssertionError

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


def test_answer_after_on_a_closed_connection_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A write done after the connection closed answers nothing (the transport here would
    still take a frame) and is no error: the CALL it answers went with the connection."""

    async def main() -> None:
        transport = WriteNowTransport()
        router = Router(OcppVersion.V16)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        router.add(
            v16.HeartbeatRequest,
            lambda request, conn: AnswerAfter(future, v16.HeartbeatResponse(current_time=NOW)),
        )
        csms = OcppConnection(transport, OcppVersion.V16, router, identity="CP1")
        csms.receive(b'[2,"1","Heartbeat",{}]')
        await csms.close()
        future.set_result(None)
        await csms.drain()  # the answer's callback has run
        await csms.drain()  # and anything it started
        assert transport.written == []

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_frames_are_written_at_once_while_there_is_room_and_in_order_when_not() -> None:
    """With room, answers are written synchronously; without it they wait for ``send``, and a
    frame produced meanwhile is not written ahead of them, even once there is room again."""

    async def main() -> None:
        transport = WriteNowTransport()
        router = Router(OcppVersion.V16)
        router.add(
            v16.HeartbeatRequest, lambda request, conn: v16.HeartbeatResponse(current_time=NOW)
        )
        conn = OcppConnection(transport, OcppVersion.V16, router, identity="CP1")
        conn.receive(b'[2,"1","Heartbeat",{}]')
        assert [(how, data[:6]) for how, data in transport.written] == [("now", b'[3,"1"')]
        transport.room = False
        conn.receive(b'[2,"2","Heartbeat",{}]')
        flushing = asyncio.create_task(conn._flush())
        await asyncio.sleep(0)  # "2" is being sent and waits for room
        transport.room = True
        conn.receive(b'[2,"3","Heartbeat",{}]')  # must not overtake "2"
        assert len(transport.written) == 1
        transport.release.set()
        await flushing
        await conn._flush()  # "3", written at once now that nothing waits before it
        order = [(how, data[:6]) for how, data in transport.written]
        assert order == [("now", b'[3,"1"'), ("awaited", b'[3,"2"'), ("now", b'[3,"3"')]

    asyncio.run(main())
