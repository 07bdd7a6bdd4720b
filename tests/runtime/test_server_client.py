"""OcppServer and OcppClient over real websockets on loopback."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocppkit.messages import v16, v21, v201
from ocppkit.protocol import ConnectionClosedError, OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient, ReconnectPolicy
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.server import Handshake, NotConnectedError, OcppServer, Rejection
from ocppkit.transport.websockets import WebsocketsTransport

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ALL = (OcppVersion.V16, OcppVersion.V201, OcppVersion.V21)


def csms_routers() -> dict[OcppVersion, Router]:
    routers = {v: Router(v) for v in ALL}
    for version, pkg in ((OcppVersion.V16, v16), (OcppVersion.V201, v201), (OcppVersion.V21, v21)):

        async def heartbeat(request: Any, conn: OcppConnection, pkg: Any = pkg) -> Any:
            return pkg.HeartbeatResponse(current_time=NOW)

        routers[version].add(pkg.HeartbeatRequest, heartbeat)
    return routers


@asynccontextmanager
async def running(server: OcppServer) -> AsyncIterator[str]:
    await server.start("127.0.0.1", 0)
    try:
        yield f"ws://127.0.0.1:{server.port}/ocpp"
    finally:
        await server.close(grace=1)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


@pytest.mark.parametrize("version", ALL)
def test_every_version_on_one_endpoint(version: OcppVersion) -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with running(server) as url:
            client = OcppClient(f"{url}/CP-{version.package}", versions=[version])
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            assert conn.version is version
            response = await client.call(heartbeat(version))
            assert response.current_time == NOW
            assert server.get(f"CP-{version.package}") is not None
            await client.close()
            await runner

    run(main)


def heartbeat(version: OcppVersion) -> Any:
    return {OcppVersion.V16: v16, OcppVersion.V201: v201, OcppVersion.V21: v21}[
        version
    ].HeartbeatRequest()


def test_client_preference_order_and_server_choice() -> None:
    async def main() -> None:
        server = OcppServer({v: r for v, r in csms_routers().items() if v is not OcppVersion.V21})
        async with running(server) as url:
            client = OcppClient(
                f"{url}/CP1", versions=[OcppVersion.V21, OcppVersion.V201, OcppVersion.V16]
            )
            conn = await client.connect()
            assert conn.version is OcppVersion.V201
            await client.close()

    run(main)


def test_no_common_subprotocol_refuses_the_upgrade() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers()[OcppVersion.V16])
        async with running(server) as url:
            with pytest.raises(HandshakeError) as info:
                await OcppClient(f"{url}/CP1", versions=[OcppVersion.V201]).connect()
            assert info.value.status == 400
            assert "no supported OCPP subprotocol" in info.value.reason

    run(main)


@pytest.mark.parametrize(
    ("path", "reason"),
    [("x" * 49, "longer than 48"), ("CP%3A1", "':'"), ("CP%20one", "identifierString")],
)
def test_invalid_identities_are_refused(path: str, reason: str) -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with running(server) as url:
            with pytest.raises(HandshakeError) as info:
                await OcppClient(f"{url}/{path}", versions=[OcppVersion.V201]).connect()
            assert info.value.status == 400
            assert reason in info.value.reason

    run(main)


def test_identity_is_percent_decoded_for_1_6() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with running(server) as url:
            client = OcppClient(f"{url}/RDAM%20123", versions=[OcppVersion.V16])
            conn = await client.connect()
            assert conn.identity == "RDAM 123"
            assert "RDAM 123" in server.connections
            await client.close()

    run(main)


def test_auth_hook_sees_the_handshake_and_decides() -> None:
    seen: list[Handshake] = []

    async def auth(hs: Handshake) -> bool:
        seen.append(hs)
        if hs.identity == "unknown":
            raise Rejection(404, "unknown station")
        return hs.password == b"\x00secret\xff"

    async def main() -> None:
        server = OcppServer(csms_routers(), auth=auth, security_profile=1)
        async with running(server) as url:
            good = OcppClient(f"{url}/CP1", password=b"\x00secret\xff")
            await good.connect()
            await good.close()
            for identity, password, status in (
                ("CP1", b"wrong", 401),
                ("unknown", b"x", 404),
                ("CP1", None, 401),
            ):
                with pytest.raises(HandshakeError) as info:
                    await OcppClient(f"{url}/{identity}", password=password).connect()
                assert info.value.status == status
        assert seen[0].identity == "CP1"
        assert seen[0].username == "CP1"
        assert seen[0].version is OcppVersion.V16
        assert not seen[0].tls
        assert len(seen) == 3  # the request without credentials never reached the hook

    run(main)


def test_basic_username_must_be_the_identity() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers(), auth=lambda hs: _true(), security_profile=1)
        async with running(server) as url:
            token = base64.b64encode(b"someone-else:pw").decode()
            with pytest.raises(Exception, match="401"):
                await connect(
                    f"{url}/CP1",
                    subprotocols=[Subprotocol("ocpp1.6")],
                    additional_headers={"Authorization": f"Basic {token}"},
                )

    run(main)


async def _true() -> bool:
    return True


def test_server_call_reaches_the_station_and_unknown_identity_fails() -> None:
    async def main() -> None:
        cp_router = Router(OcppVersion.V16)

        @cp_router.on(v16.ResetRequest)
        async def reset(request: v16.ResetRequest, conn: OcppConnection) -> v16.ResetResponse:
            return v16.ResetResponse(status="Accepted" if request.type == "Soft" else "Rejected")

        server = OcppServer(csms_routers())
        async with running(server) as url:
            client = OcppClient(f"{url}/CP1", cp_router)
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            assert (await server.call("CP1", v16.ResetRequest(type="Soft"))).status == "Accepted"
            with pytest.raises(NotConnectedError):
                await server.call("nobody", v16.ResetRequest(type="Soft"))
            await client.close()
            await runner

    run(main)


def test_reconnect_with_the_same_identity_takes_over() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with running(server) as url:
            first = await OcppClient(f"{url}/CP1").connect()
            first_runner = asyncio.create_task(first.run())
            while "CP1" not in server.connections:
                await asyncio.sleep(0)
            old = server.connections["CP1"]
            second_client = OcppClient(f"{url}/CP1")
            second = await second_client.connect()
            second_runner = asyncio.create_task(second.run())
            await first_runner  # the old connection was closed by the server
            assert first.closed
            await old.wait_closed()
            assert server.connections["CP1"] is not old
            assert (await second.call(v16.HeartbeatRequest())).current_time == NOW
            await second_client.close()
            await second_runner

    run(main)


def test_admission_control_answers_503_when_handshakes_pile_up() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    async def slow_auth(hs: Handshake) -> bool:
        entered.set()
        await gate.wait()
        return True

    async def main() -> None:
        server = OcppServer(csms_routers(), auth=slow_auth, max_concurrent_handshakes=1)
        async with running(server) as url:
            first = asyncio.create_task(OcppClient(f"{url}/CP1").connect())
            await entered.wait()
            with pytest.raises(HandshakeError) as info:
                await OcppClient(f"{url}/CP2").connect()
            assert info.value.status == 503
            gate.set()
            conn = await first
            await conn.close()

    run(main)


def test_malformed_frames_on_one_connection_do_not_disturb_another() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with running(server) as url:
            good_client = OcppClient(f"{url}/GOOD")
            good = await good_client.connect()
            good_runner = asyncio.create_task(good.run())
            async with connect(f"{url}/BAD", subprotocols=[Subprotocol("ocpp1.6")]) as bad:

                async def flood() -> int:
                    for i in range(10_000):
                        await bad.send(
                            ["not json", "[2,", "[7,1]", '[2,"x","Nope",{}]', "[]"][i % 5]
                        )
                    replies = 0
                    await bad.send('[2,"last","Heartbeat",{}]')
                    while True:
                        reply = await bad.recv()
                        replies += 1
                        if '"last"' in reply:
                            return replies

                async def calls() -> int:
                    done = 0
                    for _ in range(200):
                        assert (await good.call(v16.HeartbeatRequest())).current_time == NOW
                        done += 1
                    return done

                replies, done = await asyncio.gather(flood(), calls())
            # 1.6 answers what has a readable id: the 2,000 unknown actions, and the last call
            assert replies == 2_001
            assert done == 200
            await good_client.close()
            await good_runner

    run(main)


def test_graceful_shutdown_lets_handlers_answer_and_fails_pending_calls() -> None:
    started = asyncio.Event()

    async def main() -> None:
        routers = csms_routers()

        @routers[OcppVersion.V16].on(v16.AuthorizeRequest)
        async def authorize(
            request: v16.AuthorizeRequest, conn: OcppConnection
        ) -> v16.AuthorizeResponse:
            started.set()
            await asyncio.sleep(0.05)
            return v16.AuthorizeResponse(id_tag_info=v16.IdTagInfo(status="Accepted"))

        cp_router = Router(OcppVersion.V16)
        hold = asyncio.Event()

        @cp_router.on(v16.ClearCacheRequest)
        async def clear(
            request: v16.ClearCacheRequest, conn: OcppConnection
        ) -> v16.ClearCacheResponse:
            await hold.wait()
            return v16.ClearCacheResponse(status="Accepted")

        server = OcppServer(routers)
        await server.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{server.port}/CP1", cp_router)
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        authorize_call = asyncio.create_task(conn.call(v16.AuthorizeRequest(id_tag="A")))
        await started.wait()
        server_pending = asyncio.create_task(server.call("CP1", v16.ClearCacheRequest()))
        await asyncio.sleep(0)
        await server.close(grace=2)
        assert (await authorize_call).id_tag_info.status == "Accepted"
        with pytest.raises(ConnectionClosedError):
            await server_pending
        hold.set()
        await runner

    run(main)


def test_client_run_reconnects_with_back_off_and_call_waits_for_the_connection() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        await server.start("127.0.0.1", 0)
        port = server.port
        await server.close()
        client = OcppClient(
            f"ws://127.0.0.1:{port}/CP1",
            reconnect=ReconnectPolicy(wait_minimum=0.01, random_range=0.01, repeat_times=2),
            wait_connected=10,
        )
        runner = asyncio.create_task(client.run())
        with pytest.raises(NotConnectedError):
            await OcppClient(f"ws://127.0.0.1:{port}/CP2").call(v16.HeartbeatRequest())
        server2 = OcppServer(csms_routers())
        await server2.start("127.0.0.1", port)
        response = await client.call(v16.HeartbeatRequest())
        assert response.current_time == NOW
        await client.close()
        await runner
        await server2.close()

    run(main)


def test_reconnect_policy_follows_the_2_0_1_back_off() -> None:
    import random

    policy = ReconnectPolicy(wait_minimum=10, random_range=5, repeat_times=3)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(6)]
    bases = [10, 20, 40, 80, 80, 80]
    assert all(b <= d <= b + 5 for d, b in zip(delays, bases, strict=True))


@pytest.mark.parametrize("backend", ["websockets", "picows"])
def test_on_connect_may_call_the_station_and_a_failing_hook_closes_it(backend: str) -> None:
    async def main() -> None:
        cp_router = Router(OcppVersion.V16)

        @cp_router.on(v16.GetConfigurationRequest)
        def get_config(request: v16.GetConfigurationRequest, conn: OcppConnection) -> Any:
            return v16.GetConfigurationResponse(configuration_key=[])

        seen: list[str] = []
        hook_done = asyncio.Event()

        async def on_connect(conn: OcppConnection, hs: Handshake) -> None:
            if hs.identity == "BAD":
                raise RuntimeError("hook failed")
            reply = await conn.call(v16.GetConfigurationRequest())
            seen.append(f"{hs.identity}: {reply.configuration_key}")
            hook_done.set()

        disconnected: list[str] = []

        async def on_disconnect(conn: OcppConnection) -> None:
            disconnected.append(conn.identity)

        server = OcppServer(csms_routers(), on_connect=on_connect, on_disconnect=on_disconnect)
        await server.start("127.0.0.1", 0, backend=backend)  # type: ignore[arg-type]
        url = f"ws://127.0.0.1:{server.port}"
        client = OcppClient(f"{url}/CP1", cp_router)
        conn = await client.connect()
        runner = asyncio.create_task(conn.run())
        assert (await conn.call(v16.HeartbeatRequest())).current_time == NOW
        await hook_done.wait()
        bad = await OcppClient(f"{url}/BAD", cp_router).connect()
        await bad.run()  # the server closes it after the hook failed
        assert bad.closed
        await client.close()
        await runner
        await server.close()
        assert seen == ["CP1: []"]
        assert sorted(disconnected) == ["BAD", "CP1"]

    run(main)


def test_max_message_size_closes_an_oversized_sender_only() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers(), max_message_size=1024)
        async with running(server) as url:
            healthy = OcppClient(f"{url}/OK")
            ok = await healthy.connect()
            ok_runner = asyncio.create_task(ok.run())
            async with connect(f"{url}/BIG", subprotocols=[Subprotocol("ocpp1.6")]) as big:
                payload = '{"vendorId":"' + "x" * 2000 + '"}'
                await big.send(f'[2,"1","DataTransfer",{payload}]')
                with pytest.raises(ConnectionClosed) as info:
                    await big.recv()
                assert info.value.sent is not None
                assert info.value.sent.code == 1009  # message too big
            assert (await ok.call(v16.HeartbeatRequest())).current_time == NOW
            await healthy.close()
            await ok_runner

    run(main)


def test_superseded_connection_is_closed_with_a_clear_reason() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        async with (
            running(server) as url,
            connect(f"{url}/CP1", subprotocols=[Subprotocol("ocpp1.6")]) as first,
        ):
            await first.send('[2,"1","Heartbeat",{}]')
            await first.recv()  # registered and answered
            second = await OcppClient(f"{url}/CP1").connect()
            with pytest.raises(ConnectionClosed) as info:
                await first.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.reason == "superseded by a new connection"
            await second.close()

    run(main)


def test_reconnect_now_reports_its_one_attempt_and_cuts_the_back_off_short() -> None:
    async def main() -> None:
        server = OcppServer(csms_routers())
        await server.start("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.port}/CP1"
        failures: list[Exception] = []
        connected = asyncio.Event()

        async def opened(conn: OcppConnection) -> None:
            connected.set()

        # a back-off of an hour: only reconnect_now can make the next attempt happen in time
        client = OcppClient(
            url, reconnect=ReconnectPolicy(wait_minimum=3600, random_range=0, repeat_times=1),
            on_connect=opened, on_failure=failures.append,
        )  # fmt: skip
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(connected.wait(), 10)
        assert await client.reconnect_now(timeout=10)  # closed, connected again at once
        assert client.connection is not None
        client.url = "ws://127.0.0.1:9/CP1"  # nobody listens: the one attempt fails
        assert not await client.reconnect_now(timeout=10)
        assert isinstance(failures[-1], OSError)
        client.url = url  # back: the hour-long back-off is cut short
        assert await client.reconnect_now(timeout=10)
        waiting = asyncio.create_task(client.reconnect_now(timeout=None))
        await asyncio.sleep(0)  # let it close the connection (a yield, not a wait)
        client.url = "ws://127.0.0.1:9/CP1"
        await client.close()  # wakes the waiter: no attempt will answer it
        assert await asyncio.wait_for(waiting, 10) is False
        await asyncio.wait_for(runner, 10)
        await server.close()

    run(main)


def slow_handshake() -> tuple[asyncio.Event, asyncio.Event, Callable[[Handshake], Awaitable[bool]]]:
    """An auth hook that sets ``entered`` and accepts once ``release`` is set."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(handshake: Handshake) -> bool:
        entered.set()
        await release.wait()
        return True

    return entered, release, slow


def test_reconnect_now_during_a_handshake_ends_on_the_new_settings() -> None:
    async def main() -> None:
        entered, release, slow = slow_handshake()  # the client waits in the middle of connecting

        old = OcppServer(csms_routers(), auth=slow)
        new = OcppServer(csms_routers())
        await old.start("127.0.0.1", 0)
        await new.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{old.port}/CP1")
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(entered.wait(), 10)
        client.url = f"ws://127.0.0.1:{new.port}/CP1"  # new settings while the old attempt runs
        switching = asyncio.create_task(client.reconnect_now(timeout=10))
        await asyncio.sleep(0)  # let it register (a yield, not a wait)
        release.set()  # the old attempt succeeds: it must not count, nor stay
        assert await switching
        assert new.get("CP1") is not None
        response = await client.call(v16.HeartbeatRequest())
        assert response.current_time == NOW
        await client.close()
        await asyncio.wait_for(runner, 10)
        await old.close()
        await new.close()

    run(main)


class RecordedBackOff(ReconnectPolicy):
    """An hour-long back-off that says when the client asked for it."""

    def __init__(self) -> None:
        super().__init__(wait_minimum=3600, random_range=0, repeat_times=1)
        object.__setattr__(self, "asked", asyncio.Event())

    def delay(self, attempt: int, rng: random.Random) -> float:
        self.asked.set()  # type: ignore[attr-defined]
        return super().delay(attempt, rng)


def test_a_drop_after_reconnect_now_during_a_handshake_backs_off() -> None:
    """The reconnect_now made during a handshake is spent by the attempt after it: when that
    connection later drops, the client backs off as usual rather than reconnecting at once."""

    async def main() -> None:
        entered, release, slow = slow_handshake()
        handshakes: list[str] = []

        async def counted(handshake: Handshake) -> bool:
            handshakes.append(handshake.identity)
            return True

        old = OcppServer(csms_routers(), auth=slow)
        new = OcppServer(csms_routers(), auth=counted)
        await old.start("127.0.0.1", 0)
        await new.start("127.0.0.1", 0)
        policy = RecordedBackOff()
        client = OcppClient(f"ws://127.0.0.1:{old.port}/CP1", reconnect=policy)
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(entered.wait(), 10)
        client.url = f"ws://127.0.0.1:{new.port}/CP1"
        switching = asyncio.create_task(client.reconnect_now(timeout=10))
        await asyncio.sleep(0)  # let it register (a yield, not a wait)
        release.set()
        assert await switching
        server_side = new.get("CP1")
        assert server_side is not None
        await server_side.close(1000, "dropped by the test")
        await asyncio.wait_for(policy.asked.wait(), 10)  # type: ignore[attr-defined]
        # an attempt begun now (without the back-off) would reach the server before run() ends
        await client.close()
        await asyncio.wait_for(runner, 10)
        assert handshakes == ["CP1"]
        await old.close()
        await new.close()

    run(main)


def test_reconnect_now_during_on_connect_reports_the_attempt_after_it() -> None:
    """A reconnect_now made while on_connect runs is answered by the attempt it caused, not by
    the connection it closes."""

    async def main() -> None:
        server = OcppServer(csms_routers())
        await server.start("127.0.0.1", 0)
        waiting: list[asyncio.Task[bool]] = []
        asked = asyncio.Event()

        async def opened(conn: OcppConnection) -> None:
            if not waiting:
                client.url = "ws://127.0.0.1:9/CP1"  # nobody listens: the next attempt fails
                waiting.append(asyncio.create_task(client.reconnect_now(timeout=10)))
                await asyncio.sleep(0)  # let it register (a yield, not a wait)
                asked.set()

        client = OcppClient(f"ws://127.0.0.1:{server.port}/CP1", on_connect=opened)
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(asked.wait(), 10)
        assert await waiting[0] is False
        await client.close()
        await asyncio.wait_for(runner, 10)
        await server.close()

    run(main)


def test_close_during_a_handshake_leaves_no_connection_open() -> None:
    async def main() -> None:
        entered, release, slow = slow_handshake()

        server = OcppServer(csms_routers(), auth=slow)
        await server.start("127.0.0.1", 0)
        client = OcppClient(f"ws://127.0.0.1:{server.port}/CP1")
        runner = asyncio.create_task(client.run())
        await asyncio.wait_for(entered.wait(), 10)
        await client.close()
        release.set()  # the handshake completes after close(): run() must close it and end
        await asyncio.wait_for(runner, 10)
        assert client.connection is None
        await server.close()

    run(main)


def test_websockets_transport_writes_at_once_only_while_the_buffer_has_room() -> None:
    """``can_send_nowait`` is True on an open connection, False while the write buffer is
    over its high-water mark (websockets' ``paused``) or once closed; ``send_nowait`` delivers
    a text frame."""

    async def main() -> None:
        received: asyncio.Queue[str | bytes] = asyncio.Queue()

        async def echo(ws: ServerConnection) -> None:
            async for message in ws:
                await received.put(message)

        async with serve(echo, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                transport = WebsocketsTransport(ws)
                assert transport.can_send_nowait()
                transport.send_nowait(b'[2,"1","Heartbeat",{}]')
                assert await received.get() == '[2,"1","Heartbeat",{}]'  # a text frame
                ws.pause_writing()
                assert not transport.can_send_nowait()
                ws.resume_writing()
                assert transport.can_send_nowait()
            assert not transport.can_send_nowait()

    asyncio.run(main())
