"""``SqliteWorkers``: one SQLite file served by a writer thread and a reader thread, so that an
asyncio program never waits for the disk. Generic: the owner brings its schema (a ``migrate``
callable) and its operations (plain functions ``fn(conn, *args)``); ``SqliteStore`` is one owner.

Durability
    ``PRAGMA journal_mode=WAL`` with ``synchronous=FULL``: every commit fsyncs the write-ahead
    log before a call returns, so an acknowledged call survives a process kill *and* a power
    loss (``synchronous=NORMAL`` in WAL mode survives a process kill but may lose the last
    commits on power loss; the CSMS acknowledges messages only after the store returns, so it
    needs FULL; on macOS ``fullfsync`` makes it reach stable storage). Foreign keys are on.
    The database is one file (with SQLite's ``-wal`` and ``-shm`` companions while it is open).

Threads
    - one **writer thread** owns the only write connection. Write calls collect their
      operations on the event loop and hand them to the writer's queue once per event-loop
      iteration (one wake-up of the writer per iteration, not per call: under load a wake-up per
      call is a GIL hand-off per call); the callers await futures. The writer takes *every*
      operation queued so far (after ``batch_window`` seconds more, when > 0), runs them in
      **one** transaction (with a ``SAVEPOINT`` each, except one-statement and grouped
      operations: see below), commits once (one fsync for the whole
      batch: *group commit*), then resolves the callers' futures through
      ``loop.call_soon_threadsafe``. An operation that fails rolls back its savepoint and fails
      only its caller; if the commit itself fails (I/O error, disk full), every caller of the
      batch gets the error and nothing of it is stored.
    - **grouped operations**: an operation with a *many-form* (``grouped``) runs once per batch
      for all its queued calls — e.g. one multi-row ``INSERT`` instead of one statement per
      call — without a savepoint of its own (if one fails, the batch is rolled back and run
      again with a savepoint per group, and a failing group's calls run one by one). That
      matters more than the SQL: the ``sqlite3`` module releases the GIL around every
      statement, and under load each release is a hand-off to the busy event-loop thread and
      back (futex system calls, context switches), so statements per batch, not rows, set the
      writer's cost. Grouped calls run after the batch's other calls (never before a call queued
      ahead of them), in queue order among themselves.
    - one **reader thread** owns a read-only connection and runs read calls the same way (no
      transaction; WAL lets it read while the writer commits). A write is committed before its
      call returns, so a read issued after it sees it.

A call cancelled while it waits may still be applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from ocppkit.store.sqlite_migrations import SchemaVersionError

__all__ = ["SqliteWorkers"]

P = ParamSpec("P")
T = TypeVar("T")

Outcome = tuple["asyncio.Future[Any]", bool, Any]  # future, succeeded, result or exception


class _Op:
    """One queued call: what to run on the worker, and whom to tell."""

    __slots__ = ("args", "fn", "future", "kwargs", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.loop = loop
        self.future = future


class _GroupFailed(Exception):
    """A many-form failed in a batch run without savepoints: run the batch again, guarded."""


class _Stop:
    """The last item of a worker's queue: close the connection, then resolve ``future``."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        self.loop = loop
        self.future = future


# what a worker's queue holds: a call, the write calls of one event-loop iteration, the end
_Item = _Op | list[_Op] | _Stop


def _settle(outcomes: list[Outcome]) -> None:
    """Resolve futures on their loop (run by ``call_soon_threadsafe``)."""
    for future, ok, value in outcomes:
        if future.done():  # the caller was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _notify(loop: asyncio.AbstractEventLoop, outcomes: list[Outcome]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(_settle, outcomes)


def _notify_all(ops: Sequence[_Op], results: Iterable[tuple[bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for op, (ok, value) in zip(ops, results, strict=True):
        by_loop.setdefault(op.loop, []).append((op.future, ok, value))
    for loop, outcomes in by_loop.items():
        _notify(loop, outcomes)


class SqliteWorkers:
    """The writer and reader threads of one SQLite file (see the module docstring).

    ``migrate(conn)`` runs on the writer's connection when it opens, before any call: it creates
    or upgrades the schema (in a transaction of its own, as ``sqlite_migrations.migrate`` does);
    a ``SchemaVersionError`` it raises is raised by ``open()`` with the file's path in front.

    ``one_statement``: write operations that run a single SQL statement. SQLite undoes a failed
    statement by itself, so they run without a savepoint of their own (two statements fewer per
    operation); any other write gets one.

    ``grouped``: write operations with a many-form, ``{fn: many}``: ``many(conn, calls)`` gets
    the argument tuples of every queued call of ``fn`` (positional arguments only) and returns
    their results in the same order. It runs without a savepoint; if it raises, the batch is
    rolled back and run again with a savepoint per many-form, where a failing one's calls run one
    by one through ``fn``, so a bad call fails only its own caller. A lone call runs through
    ``fn``.

    ``batch_window``: seconds the writer waits, after the first queued write, for more writes to
    join the same commit (0: commit what is queued at once; under load batches form anyway,
    while the previous commit is syncing).

    ``before_commit(conn)``: runs on the writer in every batch's transaction, after its calls
    and before the commit (housekeeping that rides along with the writes). If it raises, the
    whole batch fails: it must guard its own work (e.g. with a savepoint) where that is wrong.

    ``thread_name``: prefix of the threads' names (``<thread_name>-writer`` / ``-reader``).

    Usage: ``await workers.open()``; then ``await workers.write(fn, *args)`` runs
    ``fn(conn, *args)`` in the writer's next group commit and ``await workers.read(fn, *args)``
    on the read-only connection; ``await workers.close()`` runs every queued call first. Both
    return the future (no coroutine) and raise ``RuntimeError`` when not open.

    For tests and monitoring: ``commits`` (transactions committed), ``writes`` (write
    operations run), ``writer_thread_id`` / ``reader_thread_id`` (``threading.get_ident()`` of
    the threads holding the connections).
    """

    max_batch = 10_000
    """The writer stops taking queued items for a transaction once it holds this many operations
    (an event-loop iteration's calls are taken whole, so a batch may hold more: up to the last
    item's size more)."""

    def __init__(
        self,
        path: str | Path,
        *,
        migrate: Callable[[sqlite3.Connection], object],
        one_statement: frozenset[Callable[..., Any]] = frozenset(),
        grouped: Mapping[Callable[..., Any], Callable[..., list[Any]]] | None = None,
        batch_window: float = 0.0,
        before_commit: Callable[[sqlite3.Connection], object] | None = None,
        thread_name: str = "ocppkit-sqlite",
    ) -> None:
        if batch_window < 0:
            raise ValueError(f"batch_window must be >= 0, got {batch_window}")
        self.path = Path(path)
        self.migrate = migrate
        self.one_statement = one_statement
        self.grouped = dict(grouped or {})
        self.batch_window = batch_window
        self.before_commit = before_commit
        self.thread_name = thread_name
        self.commits = 0
        self.writes = 0
        self.writer_thread_id: int | None = None
        self.reader_thread_id: int | None = None
        self._write_queue: queue.SimpleQueue[_Item] | None = None
        self._read_queue: queue.SimpleQueue[_Item] | None = None
        self._threads: list[threading.Thread] = []
        # write calls of this event-loop iteration, not yet on the writer's queue, and their loop
        self._pending: list[_Op] = []
        self._pending_loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_open(self) -> bool:
        """Whether calls are accepted (between ``open()`` and ``close()``)."""
        return self._write_queue is not None

    # life cycle ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the connections (migrating the schema on the writer's); start the threads."""
        if self._threads:
            raise RuntimeError("the store is already open")
        write_queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        read_queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        await self._start_thread("writer", write_queue, write=True)
        try:
            await self._start_thread("reader", read_queue, write=False)
        except BaseException:
            await self._stop_threads([write_queue])
            raise
        self._write_queue, self._read_queue = write_queue, read_queue

    async def close(self) -> None:
        """Run every queued call, commit, stop the threads and close the connections."""
        self._hand_off()
        queues = [q for q in (self._read_queue, self._write_queue) if q is not None]
        self._write_queue = self._read_queue = None  # no new calls from now on
        await self._stop_threads(queues)

    async def _start_thread(
        self, name: str, jobs: queue.SimpleQueue[_Item], *, write: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        thread = threading.Thread(
            target=self._serve,
            args=(jobs, write, loop, started),
            name=f"{self.thread_name}-{name}",
            daemon=True,  # committed data is safe; an exit without close() loses nothing
        )
        thread.start()
        try:
            await started
        except asyncio.CancelledError:  # the thread may be up by now: let it end on its own
            jobs.put(_Stop(loop, loop.create_future()))
            raise
        except BaseException:  # it failed to start and is ending
            await asyncio.to_thread(thread.join)
            raise
        self._threads.append(thread)

    async def _stop_threads(self, queues: list[queue.SimpleQueue[_Item]]) -> None:
        loop = asyncio.get_running_loop()
        stopped: list[asyncio.Future[None]] = []
        for jobs in queues:
            future: asyncio.Future[None] = loop.create_future()
            jobs.put(_Stop(loop, future))
            stopped.append(future)
        try:
            await asyncio.gather(*stopped)
        finally:
            threads, self._threads = self._threads, []
            for thread in threads:
                await asyncio.to_thread(thread.join)

    # the worker threads -------------------------------------------------------------------------
    def _connect(self, *, write: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=256)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            if write:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise ValueError(f"{self.path}: WAL mode unavailable (journal mode {mode})")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA fullfsync = ON")  # macOS: flush the drive's cache too
                conn.execute("PRAGMA foreign_keys = ON")
                # statement journals and materialised subqueries: memory, not temporary files
                conn.execute("PRAGMA temp_store = MEMORY")
                try:
                    self.migrate(conn)
                except SchemaVersionError as exc:
                    raise SchemaVersionError(f"{self.path}: {exc}") from None
            else:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _serve(
        self,
        jobs: queue.SimpleQueue[_Item],
        write: bool,
        loop: asyncio.AbstractEventLoop,
        started: asyncio.Future[None],
    ) -> None:
        try:
            conn = self._connect(write=write)
        except BaseException as exc:
            _notify(loop, [(started, False, exc)])
            return
        if write:
            self.writer_thread_id = threading.get_ident()
        else:
            self.reader_thread_id = threading.get_ident()
        _notify(loop, [(started, True, None)])
        stop: _Stop | None = None
        while stop is None:
            ops, stop = self._next_batch(jobs, write)
            if ops:
                results = self._run_writes(conn, ops) if write else self._run_reads(conn, ops)
                _notify_all(ops, results)
        if write:
            try:  # leave a small WAL behind; readers may hold it, so best effort
                conn.execute("PRAGMA optimize")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
        conn.close()
        _notify(stop.loop, [(stop.future, True, None)])

    def _next_batch(
        self, jobs: queue.SimpleQueue[_Item], write: bool
    ) -> tuple[list[_Op], _Stop | None]:
        """Block for one job, then take every job queued so far (after ``batch_window``)."""
        item = jobs.get()
        if isinstance(item, _Stop):
            return [], item
        ops = item if isinstance(item, list) else [item]
        deadline = time.monotonic() + self.batch_window if write and self.batch_window else None
        while len(ops) < self.max_batch:
            try:
                if deadline is None:
                    item = jobs.get_nowait()
                else:
                    item = jobs.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                if deadline is None or time.monotonic() >= deadline:
                    break
                continue
            if isinstance(item, _Stop):
                return ops, item
            if isinstance(item, list):
                ops += item
            else:
                ops.append(item)
        return ops, None

    def _run_writes(self, conn: sqlite3.Connection, ops: list[_Op]) -> list[tuple[bool, Any]]:
        """One transaction, one commit. Grouped calls run through their many-forms without a
        savepoint (each statement the writer runs is a GIL hand-off under load); if one fails,
        the batch is rolled back and run again with a savepoint per group, where a failing
        group falls back to its calls one by one."""
        try:
            return self._run_batch(conn, ops, guarded=False)
        except _GroupFailed:
            return self._run_batch(conn, ops, guarded=True)

    def _run_batch(
        self, conn: sqlite3.Connection, ops: list[_Op], *, guarded: bool
    ) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = [(False, None)] * len(ops)
        grouped = self.grouped
        groups: dict[Callable[..., Any], list[int]] = {}
        try:
            conn.execute("BEGIN IMMEDIATE")
            for index, op in enumerate(ops):
                if op.fn in grouped and not op.kwargs:
                    groups.setdefault(op.fn, []).append(index)
                else:
                    results[index] = self._run_one(conn, op)
            for fn, indexes in groups.items():
                members = [ops[index] for index in indexes]
                outcomes = self._run_group(conn, grouped[fn], members, guarded=guarded)
                for index, result in zip(indexes, outcomes, strict=True):
                    results[index] = result
            if self.before_commit is not None:
                self.before_commit(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # nothing of the batch is stored: every caller learns it
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, _GroupFailed):
                raise
            return [(False, exc)] * len(ops)
        self.commits += 1
        self.writes += len(ops)
        return results

    def _run_one(self, conn: sqlite3.Connection, op: _Op) -> tuple[bool, Any]:
        """Run one call in the open transaction (in a savepoint unless it is one statement)."""
        savepoint = op.fn not in self.one_statement
        if savepoint:
            conn.execute("SAVEPOINT op")
        try:
            value = op.fn(conn, *op.args, **op.kwargs)
        except Exception as exc:
            if not conn.in_transaction:  # SQLite aborted the transaction (I/O error …)
                raise
            if savepoint:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
            return False, exc
        if savepoint:
            conn.execute("RELEASE op")
        return True, value

    def _run_group(
        self,
        conn: sqlite3.Connection,
        many: Callable[..., list[Any]],
        ops: list[_Op],
        *,
        guarded: bool,
    ) -> list[tuple[bool, Any]]:
        """Run the calls of one grouped operation through its many-form: unguarded, a failure
        raises ``_GroupFailed``; guarded, in a savepoint, falling back to one call at a time."""
        if len(ops) == 1:
            return [self._run_one(conn, ops[0])]
        if not guarded:
            try:
                values = many(conn, [op.args for op in ops])
            except Exception as exc:
                if not conn.in_transaction:  # SQLite aborted the transaction (I/O error …)
                    raise
                raise _GroupFailed from exc
        else:
            conn.execute("SAVEPOINT grp")
            try:
                values = many(conn, [op.args for op in ops])
            except Exception:
                if not conn.in_transaction:
                    raise
                conn.execute("ROLLBACK TO grp")
                conn.execute("RELEASE grp")
                return [self._run_one(conn, op) for op in ops]
            conn.execute("RELEASE grp")
        if len(values) != len(ops):
            raise RuntimeError(f"{many.__name__} returned {len(values)} results for {len(ops)}")
        return [(True, value) for value in values]

    @staticmethod
    def _run_reads(conn: sqlite3.Connection, ops: list[_Op]) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        for op in ops:
            try:
                results.append((True, op.fn(conn, *op.args, **op.kwargs)))
            except Exception as exc:
                results.append((False, exc))
        return results

    # calls ----------------------------------------------------------------------------------------
    # plain functions returning the future, not coroutines: no extra frames on the hot path
    def write(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer's next group commit; await the
        returned future for its result. Calls reach the writer at the end of the event-loop
        iteration, in call order."""
        if self._write_queue is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        if loop is not self._pending_loop:  # another loop's calls go first (not the usual case)
            self._hand_off()
            self._pending_loop = loop
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append(_Op(fn, args, kwargs, loop, future))
        if len(self._pending) == 1:
            loop.call_soon(self._hand_off)
        return future

    def _hand_off(self) -> None:
        """Put the write calls collected so far on the writer's queue, as one item."""
        if self._pending and self._write_queue is not None:
            pending, self._pending = self._pending, []
            self._write_queue.put(pending)

    def read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> asyncio.Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the reader; await the returned future."""
        if self._read_queue is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._read_queue.put(_Op(fn, args, kwargs, loop, future))
        return future
