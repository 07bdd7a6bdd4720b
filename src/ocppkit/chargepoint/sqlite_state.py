"""``SqliteStateStore``: a charge point's ``StateStore`` in one SQLite file.

Runs on ``ocppkit.store.sqlite_worker.SqliteWorkers`` (a writer thread with group commit, a
reader thread; WAL with ``synchronous=FULL``: a write that returned survives a power loss), so
the event loop never waits for the flash. Two tables: ``state (namespace, key, value)`` and
``queue (id, value)``, values as JSON text; schema version in ``PRAGMA user_version``.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ocppkit.chargepoint.state import QueuedItem, StateChanges
from ocppkit.store.sqlite_migrations import migrate
from ocppkit.store.sqlite_worker import SqliteWorkers

__all__ = ["SqliteStateStore"]

_SCHEMA = (
    "CREATE TABLE state (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (namespace, key)) WITHOUT ROWID",
    "CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, value TEXT NOT NULL)",
)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _v1_state(conn: sqlite3.Connection) -> None:
    """The state and the queue."""
    for statement in _SCHEMA:
        conn.execute(statement)


_migrate = functools.partial(migrate, migrations=(_v1_state,))


def _load(conn: sqlite3.Connection, namespace: str) -> dict[str, Any]:
    rows = conn.execute("SELECT key, value FROM state WHERE namespace = ?", (namespace,))
    return {key: _decode(value) for key, value in rows}


def _put(conn: sqlite3.Connection, namespace: str, key: str, value: bytes) -> None:
    conn.execute(
        "INSERT INTO state (namespace, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
        (namespace, key, value.decode()),
    )


def _put_many(
    conn: sqlite3.Connection, namespace: str, items: list[tuple[str, bytes]], replace: bool
) -> None:
    if replace:
        conn.execute("DELETE FROM state WHERE namespace = ?", (namespace,))
    for key, value in items:
        _put(conn, namespace, key, value)


def _delete(conn: sqlite3.Connection, namespace: str, key: str) -> None:
    conn.execute("DELETE FROM state WHERE namespace = ? AND key = ?", (namespace, key))


def _enqueue(
    conn: sqlite3.Connection, value: bytes, changes: list[tuple[str, str, bytes | None]]
) -> int:
    for namespace, key, item in changes:
        if item is None:
            _delete(conn, namespace, key)
        else:
            _put(conn, namespace, key, item)
    cursor = conn.execute("INSERT INTO queue (value) VALUES (?)", (value.decode(),))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _queued(conn: sqlite3.Connection) -> list[QueuedItem]:
    return [(i, _decode(v)) for i, v in conn.execute("SELECT id, value FROM queue ORDER BY id")]


def _update(conn: sqlite3.Connection, item_id: int, value: bytes) -> None:
    conn.execute("UPDATE queue SET value = ? WHERE id = ?", (value.decode(), item_id))


def _dequeue(conn: sqlite3.Connection, item_id: int) -> None:
    conn.execute("DELETE FROM queue WHERE id = ?", (item_id,))


class SqliteStateStore:
    """``StateStore`` in the SQLite file ``path`` (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = SqliteWorkers(
            self.path,
            migrate=_migrate,
            one_statement=frozenset({_put, _delete, _update, _dequeue}),
            thread_name="ocppkit-cp-sqlite",
        )

    async def open(self) -> None:
        """Create or migrate the file and start its threads."""
        await self._db.open()

    async def close(self) -> None:
        """Write what is queued and stop the threads."""
        await self._db.close()

    async def load(self, namespace: str) -> dict[str, Any]:
        """Every item of ``namespace``."""
        return await self._db.read(_load, namespace)

    async def put(self, namespace: str, key: str, value: Any) -> None:
        """Store one item; durable on return."""
        await self._db.write(_put, namespace, key, _encode(value))

    async def put_many(
        self, namespace: str, items: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Store several items atomically (``replace``: drop the others)."""
        encoded = [(key, _encode(value)) for key, value in items.items()]
        await self._db.write(_put_many, namespace, encoded, replace)

    async def delete(self, namespace: str, key: str) -> None:
        """Remove one item."""
        await self._db.write(_delete, namespace, key)

    async def enqueue(self, value: Any, *, state: StateChanges | None = None) -> int:
        """Queue a message (with ``state`` changes, atomically); returns its id."""
        changes = [
            (namespace, key, None if item is None else _encode(item))
            for (namespace, key), item in (state or {}).items()
        ]
        return await self._db.write(_enqueue, _encode(value), changes)

    async def queued(self) -> list[QueuedItem]:
        """The queue, oldest first."""
        return await self._db.read(_queued)

    async def update(self, item_id: int, value: Any) -> None:
        """Replace a queued message's value."""
        await self._db.write(_update, item_id, _encode(value))

    async def dequeue(self, item_id: int) -> None:
        """Remove a queued message."""
        await self._db.write(_dequeue, item_id)
