"""``ocppkit cp`` against our CSMS over loopback: commands in, a session in the CSMS's store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    follow_ping_interval,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.cli import main
from ocppkit.cli.cp import run_cp
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station16
from ocppkit.runtime.client import OcppClient
from ocppkit.store import IdTokenRecord
from ocppkit.store.memory import MemoryStore


async def lines(*commands: str | Callable[[], Awaitable[None]]) -> AsyncIterator[str]:
    """Command lines; a coroutine function in between runs (on the CSMS side) instead."""
    for command in commands:
        if isinstance(command, str):
            yield command + "\n"
        else:
            await command()


def changing_heartbeat(csms: Csms) -> Callable[[], Awaitable[None]]:
    async def change() -> None:
        station = csms.station("CP-CLI")
        assert isinstance(station, Station16)
        answer = await station.change_configuration(key="HeartbeatInterval", value="77")
        assert answer.status == "Accepted"

    return change


def test_a_scripted_session_reaches_the_csms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def main_() -> None:
        store = MemoryStore()
        csms = Csms(store)
        await csms.start("127.0.0.1", 0)
        await store.put_token(IdTokenRecord(token="TAG1"))
        try:
            await run_cp(
                f"ws://127.0.0.1:{csms.server.port}/CP-CLI",
                connectors=2,
                db=str(tmp_path / "cp.db"),
                lines=lines(
                    "plug 1  # a comment",
                    "swipe NOPE",
                    "swipe TAG1",
                    "meter 1 1500",
                    "fault 2 GroundFailure",
                    "clear 2",
                    "plug 7",
                    "dance",
                    "status",
                    changing_heartbeat(csms),
                    "swipe TAG1",
                    "unplug 1",
                    "quit",
                    "plug 2",  # after quit: never run
                ),
            )
            txs = await store.list_transactions("CP-CLI")
            assert [(t.id_token, t.meter_start, t.meter_stop, t.stop_reason) for t in txs] == [
                ("TAG1", 0.0, 1500.0, "Local")
            ]
            statuses = {(s.connector_id, s.status) for s in await store.current_statuses("CP-CLI")}
            assert statuses == {(0, "Available"), (1, "Available"), (2, "Available")}
        finally:
            await csms.close(grace=1)

    asyncio.run(asyncio.wait_for(main_(), 30))
    out = capsys.readouterr().out.splitlines()
    assert "boot Accepted (interval 300 s)" in out
    assert "token NOPE: refused" in out
    assert "connector 1: transaction started by TAG1, meter 0 Wh" in out
    assert "connector 2: Faulted (GroundFailure)" in out
    assert "error: no connector 7 (connectors 1..2)" in out
    assert "error: unknown command 'dance'" in out
    assert "connector 1: transaction stopped (Local), 1500 Wh" in out
    assert "  connector 1: Charging, transaction by TAG1" in out
    assert 'CSMS asks ChangeConfiguration {"key":"HeartbeatInterval","value":"77"}' in out
    assert "configuration HeartbeatInterval = 77" in out
    assert (tmp_path / "cp.db.frames.log").read_text().count("StartTransaction") == 1


def test_offline_unknown_tokens_are_refused_and_queued_messages_stay_for_the_next_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cp.db")

    async def queue_one() -> None:  # a security event stored by an earlier life, undelivered
        runtime = AsyncioRuntime()
        cp = ChargePoint16(
            store=SqliteStateStore(db),
            link=ClientLink(OcppClient("ws://127.0.0.1:9/CP-OFF")),
            clock=runtime,
            scheduler=runtime,
            vendor="v",
            model="m",
        )
        await cp.start()
        await cp.security_event("TamperDetectionActivated")
        await cp.close()

    async def offline() -> None:  # nobody listens on port 9: connection refused at once
        await run_cp(
            "ws://127.0.0.1:9/CP-OFF",
            connectors=1,
            db=db,
            boot_wait=0.01,
            drain=0.01,
            lines=lines("plug 1", "swipe ANY", "unplug 1"),
        )

    async def still_queued() -> list[Any]:
        store = SqliteStateStore(db)
        await store.open()
        try:
            return [value["action"] for _, value in await store.queued()]
        finally:
            await store.close()

    asyncio.run(asyncio.wait_for(queue_one(), 30))
    asyncio.run(asyncio.wait_for(offline(), 30))
    out = capsys.readouterr().out
    assert "running offline" in out
    assert "token ANY: refused" in out  # unknown ids are refused offline by default
    # the tamper event and a StartupOfTheDevice (critical) from each start
    assert "delivering 3 queued message(s)" in out
    assert "3 message(s) stay queued in" in out
    assert asyncio.run(still_queued()) == ["SecurityEventNotification"] * 3


def test_the_command_is_listed_and_documents_its_options() -> None:
    result = CliRunner().invoke(main, ["cp", "--help"])
    assert result.exit_code == 0
    for option in ("--connectors", "--db", "--password", "--drain", "--boot-wait"):
        assert option in result.output
    assert "cp" in CliRunner().invoke(main, ["--help"]).output


def test_websocket_ping_interval_follows_the_configuration(tmp_path: Path) -> None:
    async def main_() -> None:
        client = OcppClient("ws://127.0.0.1:9/CP")
        runtime = AsyncioRuntime()
        cp = ChargePoint16(
            store=SqliteStateStore(tmp_path / "cp.db"),
            link=ClientLink(client),
            clock=runtime,
            scheduler=runtime,
            vendor="v",
            model="m",
            config_defaults={"WebSocketPingInterval": "25"},
        )
        await cp.start()
        follow_ping_interval(cp, client)
        assert client.ping_interval == 25
        assert await cp.config.change("WebSocketPingInterval", "0") == "Accepted"
        assert client.ping_interval is None
        assert await cp.config.change("WebSocketPingInterval", "-5") == "Rejected"
        assert client.ping_interval is None
        await cp.close()

    asyncio.run(main_())


def test_tls_files_need_a_wss_url(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    result = CliRunner().invoke(main, ["cp", "ws://127.0.0.1:9/CP", "--cacert", str(ca)])
    assert result.exit_code == 2
    assert "--cacert, --cert and --key need a wss:// URL" in result.output
