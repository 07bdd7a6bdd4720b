"""`ocppkit stations`, `ocppkit logs` and `ocppkit csms` on a real SQLite file."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from ocppkit.cli import main
from ocppkit.cli.csms import GC_YOUNG_THRESHOLD, server_gc, serving_csms
from ocppkit.cli.logs import _Cursor, _new_frames
from ocppkit.messages import v16
from ocppkit.protocol import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.store import FrameRecord
from ocppkit.store.sqlite import SqliteStore
from tests.net import free_port


def test_stations_add_list_remove(tmp_path: Path) -> None:
    db = str(tmp_path / "csms.db")
    runner = CliRunner()
    assert runner.invoke(main, ["stations", "list", "--db", db]).output.strip() == "no stations"
    added = runner.invoke(main, ["stations", "add", "CP-1", "--password", "pw", "--db", db])
    assert added.exit_code == 0, added.output
    runner.invoke(main, ["stations", "add", "CP-2", "--db", db])
    listing = runner.invoke(main, ["stations", "list", "--db", db]).output.splitlines()
    assert listing[0].split() == ["identity", "ocpp", "boot", "password", "last", "seen"]
    assert [line.split()[0] for line in listing[1:]] == ["CP-1", "CP-2"]
    assert listing[1].split()[3] == "yes"
    assert listing[2].split()[3] == "no"
    assert runner.invoke(main, ["stations", "remove", "CP-2", "--db", db]).exit_code == 0
    gone = runner.invoke(main, ["stations", "remove", "CP-2", "--db", db])
    assert gone.exit_code == 1
    assert "unknown station" in gone.output


def test_logs_prints_a_stations_frames_readably(tmp_path: Path) -> None:
    db = str(tmp_path / "csms.db")
    t0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)

    async def fill() -> None:
        store = SqliteStore(db)
        await store.open()
        await store.log_frames(
            [
                FrameRecord(
                    station_id="CP-1", direction="in", timestamp=t0, frame='[2,"1","Heartbeat",{}]'
                ),
                FrameRecord(station_id="CP-1", direction="out", timestamp=t0, frame='[3,"1",{}]'),
                FrameRecord(station_id="CP-2", direction="in", timestamp=t0, frame="other"),
            ]
        )
        await store.close()

    asyncio.run(fill())
    result = CliRunner().invoke(main, ["logs", "CP-1", "--db", db])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        '2025-03-04T05:06:07.000+00:00 <- [2,"1","Heartbeat",{}]',
        '2025-03-04T05:06:07.000+00:00 -> [3,"1",{}]',
    ]


def test_logs_follow_shows_frames_logged_later_with_the_same_timestamp(tmp_path: Path) -> None:
    """``--follow`` looks again from where it was: frames logged between two looks with the
    timestamp of the last frame shown are shown too, once each, in order."""
    t0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    t1 = datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC)

    def frame(text: str, when: datetime) -> FrameRecord:
        return FrameRecord(station_id="CP-1", direction="in", timestamp=when, frame=text)

    async def main() -> None:
        async with SqliteStore(tmp_path / "csms.db") as store:
            cursor = _Cursor()
            await store.log_frames([frame("a", t0), frame("b", t0)])
            assert [f.frame for f in await _new_frames(store, "CP-1", cursor)] == ["a", "b"]
            assert await _new_frames(store, "CP-1", cursor) == []
            await store.log_frames([frame("c", t0), frame("d", t1)])
            assert [f.frame for f in await _new_frames(store, "CP-1", cursor)] == ["c", "d"]
            await store.log_frames([frame("e", t1), frame("f", t1)])
            assert [f.frame for f in await _new_frames(store, "CP-1", cursor)] == ["e", "f"]
            assert await _new_frames(store, "CP-1", cursor) == []

    asyncio.run(asyncio.wait_for(main(), 30))


@pytest.mark.parametrize(
    ("options", "logged"),
    [
        (["--no-api"], ["in", "out"]),
        (["--api-port", "API_PORT"], ["in", "out"]),  # the CSMS logs, with or without the API
        (["--no-api", "--log-keep", "0"], []),
        (["--api-port", "API_PORT", "--log-keep", "1"], ["out"]),
    ],
    ids=["no-api", "api", "log-off", "keep-1"],
)
def test_csms_command_serves_stores_and_stops_cleanly_on_sigterm(
    tmp_path: Path, options: list[str], logged: list[str]
) -> None:
    db = str(tmp_path / "csms.db")
    assert (
        CliRunner()
        .invoke(main, ["stations", "add", "CP-1", "--password", "pw", "--db", db])
        .exit_code
        == 0
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocppkit",
            "csms",
            "--port",
            str(port),
            *[str(free_port()) if option == "API_PORT" else option for option in options],
            "--db",
            db,
            "--security-profile",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        ready = process.stderr.readline()  # the "OCPP on ws://..." line: listening
        assert f"OCPP on ws://127.0.0.1:{port}" in ready

        async def station() -> None:
            url = f"ws://127.0.0.1:{port}/CP-1"
            with pytest.raises(HandshakeError) as refused:
                await OcppClient(url, password="wrong", versions=[OcppVersion.V16]).connect()
            assert refused.value.status == 401
            client = OcppClient(url, password="pw", versions=[OcppVersion.V16])
            conn = await client.connect()
            runner = asyncio.create_task(conn.run())
            boot = await conn.call(
                v16.BootNotificationRequest(charge_point_vendor="ACME", charge_point_model="X1")
            )
            assert boot.status == "Accepted"
            await client.close()
            await runner

        asyncio.run(station())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        output = process.stderr.read()
        assert "CP-1 booted (OCPP 1.6, ACME X1): Accepted" in output
        assert "shutting down" in output
    finally:
        if process.poll() is None:
            process.kill()

    async def check() -> None:
        store = SqliteStore(db)
        await store.open()
        record = await store.get_station("CP-1")
        frames = await store.frames("CP-1", limit=100)
        await store.close()
        assert record is not None
        assert (record.vendor, record.boot_status) == ("ACME", "Accepted")
        assert [f.direction for f in frames] == logged  # the log was flushed at shutdown

    asyncio.run(check())


def test_csms_command_refuses_a_negative_log_keep() -> None:
    result = CliRunner().invoke(main, ["csms", "--log-keep", "-1"])
    assert result.exit_code == 2
    assert "--log-keep" in result.output


@pytest.mark.parametrize(
    ("args", "extra"),
    [(["csms"], "ocppkit[csms]"), (["demo", "--duration", "1"], "ocppkit[demo]")],
)
def test_without_the_api_libraries_the_command_names_the_extra(
    args: list[str], extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "prometheus_client" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "needs prometheus_client" in result.output
    assert f'pip install "{extra}"' in result.output
    assert isinstance(result.exception, SystemExit)  # a usage error, not a traceback


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux and two CPUs: pinning to the only CPU allowed would show nothing",
)
def test_pin_to_cpu_pins_the_process_and_the_threads_it_starts_later() -> None:
    """In a child process (pinning the test run would slow it): every thread, the ones it
    already has and the ones it starts afterwards, runs on the chosen CPU only; a CPU the
    process may not use is refused."""
    cpu = max(os.sched_getaffinity(0))
    script = f"""
import os, threading, click
from ocppkit.cli.csms import pin_to_cpu
early = threading.Thread(target=threading.Event().wait, daemon=True)
early.start()
pin_to_cpu({cpu})
seen = []
later = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
later.start(); later.join()
mine, early_one = os.sched_getaffinity(0), os.sched_getaffinity(early.native_id)
print(sorted(mine), sorted(early_one), sorted(seen[0]))
try:
    pin_to_cpu(100000)
except click.BadParameter as exc:
    print("refused:", exc.format_message())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == f"[{cpu}] [{cpu}] [{cpu}]"
    assert "--cpu: CPU 100000 is not one this process may run on" in out[1]


def test_csms_command_refuses_a_cpu_it_may_not_use() -> None:
    result = CliRunner().invoke(main, ["csms", "--cpu", "100000"])
    assert result.exit_code == 2
    assert "--cpu" in result.output


def test_the_development_ca_is_made_once_next_to_the_database_and_reused(tmp_path: Path) -> None:
    from ocppkit.cli.csms import load_authority

    db = str(tmp_path / "ocppkit.db")
    assert load_authority(None, None, dev=False, db=db) is None
    first = load_authority(None, None, dev=True, db=db)
    assert (tmp_path / "ocppkit.db.ca.pem").read_text() == first.certificate_pem
    assert oct((tmp_path / "ocppkit.db.ca.key").stat().st_mode & 0o777) == "0o600"
    again = load_authority(None, None, dev=True, db=db)
    assert again.certificate == first.certificate
    given = load_authority(
        str(tmp_path / "ocppkit.db.ca.pem"), str(tmp_path / "ocppkit.db.ca.key"), dev=False, db=db
    )
    assert given.certificate == first.certificate
    with pytest.raises(click.UsageError, match="together"):
        load_authority(str(tmp_path / "ocppkit.db.ca.pem"), None, dev=False, db=db)
    with pytest.raises(click.UsageError, match="not both"):
        load_authority(str(tmp_path / "ocppkit.db.ca.pem"), None, dev=True, db=db)


def test_history_days_reaches_the_csms_and_zero_keeps_everything(tmp_path: Path) -> None:
    async def serve() -> None:
        for days, expected in ((7.0, 7.0), (0.0, None)):
            db = str(tmp_path / f"h{days}.db")
            async with serving_csms(
                host="127.0.0.1", port=0, api_port=None, db=db, history_days=days
            ) as csms:
                assert csms.history_days == expected
                assert (csms._pruner is not None) is (expected is not None)

    asyncio.run(serve())
    result = CliRunner().invoke(main, ["csms", "--history-days", "-1"])
    assert result.exit_code == 2
    assert "--history-days" in result.output


def test_server_gc_collects_the_young_generation_after_10000_objects_and_restores() -> None:
    """The calls a CSMS holds in flight (a few thousand objects) no longer set off a young
    collection each; what start-up made is frozen; both undone on exit."""

    def young_collections_while_holding(count: int) -> int:
        before: int = gc.get_stats()[0]["collections"]
        held: list[list[int]] = [[] for _ in range(count)]
        after: int = gc.get_stats()[0]["collections"]
        del held
        return after - before

    default = gc.get_threshold()
    gc.collect()
    assert young_collections_while_holding(3_000) >= 1
    with server_gc():
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *default[1:])
        assert gc.get_freeze_count() > 0
        gc.collect()  # a fresh count: collects the young generation only (frozen objects stay)
        assert young_collections_while_holding(3_000) == 0
    assert gc.get_threshold() == default
    assert gc.get_freeze_count() == 0
