"""``SqliteWorkers`` on its own: grouped operations (one many-form call per batch)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from ocppkit.store.sqlite_worker import SqliteWorkers


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER NOT NULL CHECK (v >= 0))")


def put(conn: sqlite3.Connection, value: int) -> int:
    conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
    return value


class PutMany:
    """The many-form of ``put``: one statement for every call; counts its runs."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def __call__(self, conn: sqlite3.Connection, calls: Sequence[tuple[int]]) -> list[int]:
        self.runs.append(len(calls))
        conn.execute(
            "INSERT INTO t (v) VALUES " + ", ".join("(?)" for _ in calls), [v for (v,) in calls]
        )
        return [v for (v,) in calls]


def other(conn: sqlite3.Connection) -> str:
    """A write without a many-form."""
    conn.execute("INSERT INTO t (v) VALUES (100)")
    return "other"


def count(conn: sqlite3.Connection) -> list[int]:
    return [v for (v,) in conn.execute("SELECT v FROM t ORDER BY rowid")]


def gate(conn: sqlite3.Connection, entered: threading.Event, release: threading.Event) -> None:
    entered.set()
    release.wait(20)


async def held(workers: SqliteWorkers) -> tuple[asyncio.Future[None], threading.Event]:
    """A write that blocks the writer until released: later writes queue up as one batch."""
    entered, release = threading.Event(), threading.Event()
    future = workers.write(gate, entered, release)
    assert await asyncio.to_thread(entered.wait, 20)
    return future, release


def run_workers(
    tmp_path: Path,
    many: Callable[[sqlite3.Connection, Sequence[tuple[int]]], list[int]],
    body: Callable[[SqliteWorkers], Awaitable[None]],
) -> None:
    """Run ``body`` with open workers whose ``put`` is grouped through ``many``."""

    async def main() -> None:
        workers = SqliteWorkers(tmp_path / "w.db", migrate=migrate, grouped={put: many})
        await workers.open()
        try:
            await body(workers)
        finally:
            await workers.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_queued_calls_of_a_grouped_operation_run_as_one(tmp_path: Path) -> None:
    """Ten queued calls: one many-form run, results in call order, after the batch's other
    calls; a lone call goes through the operation itself."""
    many = PutMany()

    async def body(workers: SqliteWorkers) -> None:
        future, release = await held(workers)
        calls: list[asyncio.Future[object]] = [workers.write(put, v) for v in range(5)]
        calls.append(workers.write(other))
        calls += [workers.write(put, v) for v in range(5, 10)]
        release.set()
        await future
        assert await asyncio.gather(*calls) == [0, 1, 2, 3, 4, "other", 5, 6, 7, 8, 9]
        assert many.runs == [10]
        assert workers.commits == 2
        assert workers.writes == 12
        assert await workers.read(count) == [100, *range(10)]  # grouped calls ran last
        assert await workers.write(put, 11) == 11
        assert many.runs == [10]  # alone: not through the many-form

    run_workers(tmp_path, many, body)


def test_a_failing_group_runs_its_calls_one_by_one(tmp_path: Path) -> None:
    """The many-form fails on one bad call: the batch is rolled back and run again guarded,
    where the group's calls run one at a time; only the bad one fails, and the batch commits
    once, with the other calls' rows only once."""
    many = PutMany()

    async def body(workers: SqliteWorkers) -> None:
        future, release = await held(workers)
        commits = workers.commits
        calls: list[asyncio.Future[object]] = [workers.write(put, v) for v in (1, -1, 2)]
        calls.append(workers.write(other))  # not grouped: run in both attempts, kept once
        release.set()
        await future
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[0] == 1
        assert results[2] == 2
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert results[3] == "other"
        assert many.runs == [3, 3]  # unguarded (rolled back), then in a savepoint (falls back)
        assert workers.commits - commits == 2  # the gate's batch, then this one
        assert await workers.read(count) == [100, 1, 2]  # the ungrouped call ran first

    run_workers(tmp_path, many, body)


def test_a_many_form_with_the_wrong_number_of_results_fails_the_batch(tmp_path: Path) -> None:
    """A programming error in a many-form is not hidden: every caller of the batch gets it."""

    def short(conn: sqlite3.Connection, calls: Sequence[tuple[int]]) -> list[int]:
        return []

    async def body(workers: SqliteWorkers) -> None:
        future, release = await held(workers)
        calls = [workers.write(put, v) for v in (1, 2)]
        release.set()
        await future
        for result in await asyncio.gather(*calls, return_exceptions=True):
            assert isinstance(result, RuntimeError)
            assert "2" in str(result)
        assert await workers.read(count) == []

    run_workers(tmp_path, short, body)
    with pytest.raises(ValueError, match="batch_window"):
        SqliteWorkers(tmp_path / "w.db", migrate=migrate, batch_window=-1)


def test_write_calls_of_one_loop_turn_reach_the_writer_together(tmp_path: Path) -> None:
    """Calls made in one event-loop iteration are handed over as one item: one commit for all
    of them, without holding the writer; calls still pending at close run before it ends."""
    many = PutMany()

    async def body(workers: SqliteWorkers) -> None:
        commits = workers.commits
        assert await asyncio.gather(*(workers.write(put, v) for v in range(10))) == list(range(10))
        assert workers.commits - commits == 1
        assert many.runs == [10]

    run_workers(tmp_path, many, body)

    async def close_early() -> None:
        workers = SqliteWorkers(tmp_path / "w.db", migrate=migrate)
        await workers.open()
        pending = [workers.write(put, v) for v in (20, 21)]
        await workers.close()  # the calls were not on the writer's queue yet
        assert [await future for future in pending] == [20, 21]
        with pytest.raises(RuntimeError, match="not open"):
            workers.write(put, 22)

    asyncio.run(asyncio.wait_for(close_early(), 30))
