"""Versioned schema of ``SqliteStore``: ``MIGRATIONS[i]`` takes a file from version ``i`` to
``i + 1``; the version is ``PRAGMA user_version`` (0 = empty file).

Rules: never edit a released migration, append a new one; a migration runs inside the caller's
transaction, so it must not commit (no ``executescript``) and every statement of it is applied
or none.

Conventions of the schema: datetimes are INTEGER microseconds since the Unix epoch, UTC (exact,
compact, ordered); ``rowid`` (``id INTEGER PRIMARY KEY``) gives arrival order; history tables
(statuses, transactions, frames, events) have no foreign key to ``stations``, since removing a
station keeps its history.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

__all__ = ["LATEST_VERSION", "MIGRATIONS", "SchemaVersionError", "migrate", "schema_version"]

Migration = Callable[[sqlite3.Connection], None]


class SchemaVersionError(RuntimeError):
    """The database file was written by a newer ocppkit (its schema version is unknown here)."""


def _run(conn: sqlite3.Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        conn.execute(statement)


def _v1_core(conn: sqlite3.Connection) -> None:
    """Stations, status history, id tokens, transactions with their events and meter samples."""
    _run(
        conn,
        [
            """CREATE TABLE stations (
                id TEXT PRIMARY KEY,
                ocpp_version TEXT,
                vendor TEXT,
                model TEXT,
                serial_number TEXT,
                firmware_version TEXT,
                boot_status TEXT,
                last_boot INTEGER,
                last_seen INTEGER,
                connected INTEGER NOT NULL DEFAULT 0,
                password_hash TEXT
            )""",
            """CREATE TABLE statuses (
                id INTEGER PRIMARY KEY,
                station_id TEXT NOT NULL,
                evse_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                status TEXT NOT NULL,
                error_code TEXT,
                info TEXT,
                ts INTEGER NOT NULL
            )""",
            "CREATE INDEX statuses_by_station ON statuses (station_id, ts)",
            # the current status of each connector: the latest row of statuses, kept on write
            """CREATE TABLE current_statuses (
                station_id TEXT NOT NULL,
                evse_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                status_id INTEGER NOT NULL REFERENCES statuses (id),
                ts INTEGER NOT NULL,
                PRIMARY KEY (station_id, evse_id, connector_id)
            ) WITHOUT ROWID""",
            """CREATE TABLE id_tokens (
                token TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                expiry INTEGER,
                parent TEXT,
                token_type TEXT
            )""",
            """CREATE TABLE transactions (
                id INTEGER PRIMARY KEY,
                station_id TEXT NOT NULL,
                ocpp_id TEXT NOT NULL,
                v16 INTEGER NOT NULL,  -- 1: ocpp_id assigned by the CSMS (1.6 StartTransaction)
                evse_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                id_token TEXT,
                start_time INTEGER NOT NULL,
                meter_start REAL,
                stop_time INTEGER,
                meter_stop REAL,
                stop_reason TEXT,
                last_seq_no INTEGER,
                UNIQUE (station_id, ocpp_id)
            )""",
            # 1.6 StartTransaction retried: the same start is the same transaction
            """CREATE UNIQUE INDEX transactions_v16_start
                ON transactions (station_id, connector_id, id_token, start_time) WHERE v16 = 1""",
            "CREATE INDEX transactions_by_start ON transactions (start_time, id)",
            "CREATE INDEX transactions_by_station ON transactions (station_id, start_time, id)",
            # 2.x TransactionEvent retried: (transaction, seq_no) once
            """CREATE TABLE transaction_events (
                transaction_id INTEGER NOT NULL REFERENCES transactions (id),
                seq_no INTEGER NOT NULL,
                event_type TEXT NOT NULL,
                ts INTEGER NOT NULL,
                PRIMARY KEY (transaction_id, seq_no)
            ) WITHOUT ROWID""",
            """CREATE TABLE meter_samples (
                id INTEGER PRIMARY KEY,
                transaction_id INTEGER NOT NULL REFERENCES transactions (id),
                ts INTEGER NOT NULL,
                value TEXT NOT NULL,
                measurand TEXT NOT NULL,
                phase TEXT,
                unit TEXT,
                context TEXT,
                location TEXT
            )""",
            # a sample is stored once. UNIQUE treats NULLs as distinct, so NULL is mapped to an
            # empty BLOB, which equals no TEXT value (not even '')
            """CREATE UNIQUE INDEX meter_samples_once ON meter_samples (
                transaction_id, ts, measurand,
                ifnull(phase, X''), ifnull(location, X''), ifnull(context, X'')
            )""",
            # named counters: the 1.6 transaction ids the CSMS hands out
            """CREATE TABLE counters (
                name TEXT PRIMARY KEY,
                value INTEGER NOT NULL
            ) WITHOUT ROWID""",
            "INSERT INTO counters (name, value) VALUES ('v16_transaction_id', 0)",
        ],
    )


def _v2_message_log(conn: sqlite3.Connection) -> None:
    """The websocket message log."""
    _run(
        conn,
        [
            """CREATE TABLE frames (
                id INTEGER PRIMARY KEY,
                station_id TEXT NOT NULL,
                direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                ts INTEGER NOT NULL,
                frame TEXT NOT NULL
            )""",
            "CREATE INDEX frames_by_station ON frames (station_id, ts)",
        ],
    )


def _v3_events(conn: sqlite3.Connection) -> None:
    """The event log: station messages kept as they came (``data``: the payload as JSON text)."""
    _run(
        conn,
        [
            """CREATE TABLE events (
                id INTEGER PRIMARY KEY,
                station_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                ts INTEGER NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX events_by_station ON events (station_id, ts)",
        ],
    )


def _v4_current_status_trigger(conn: sqlite3.Connection) -> None:
    """A status report becomes current (unless a newer one is) in the statement that stores it:
    one statement per report, atomic by itself."""
    conn.execute(
        """CREATE TRIGGER statuses_current AFTER INSERT ON statuses BEGIN
            INSERT INTO current_statuses (station_id, evse_id, connector_id, status_id, ts)
            VALUES (NEW.station_id, NEW.evse_id, NEW.connector_id, NEW.id, NEW.ts)
            ON CONFLICT (station_id, evse_id, connector_id)
            DO UPDATE SET status_id = excluded.status_id, ts = excluded.ts
            WHERE excluded.ts >= current_statuses.ts;
        END"""
    )


def _v5_station_index_tables(conn: sqlite3.Connection) -> None:
    """The per-station indexes of statuses, events and frames become tables kept up to date
    behind the writes, each with its mark in ``counters`` (``ocppkit.store.sqlite_index``)."""
    for table in ("statuses", "events", "frames"):
        conn.execute(f"DROP INDEX {table}_by_station")
        conn.execute(
            f"""CREATE TABLE {table}_idx (
                station_id TEXT NOT NULL,
                ts INTEGER NOT NULL,
                id INTEGER NOT NULL,
                PRIMARY KEY (station_id, ts, id)
            ) WITHOUT ROWID"""
        )
        conn.execute(
            f"INSERT INTO {table}_idx (station_id, ts, id)"
            f" SELECT station_id, ts, id FROM {table} ORDER BY station_id, ts, id"
        )
        conn.execute(
            f"INSERT INTO counters (name, value)"
            f" SELECT '{table}_idx', ifnull(max(id), 0) FROM {table}"
        )


def _v6_arrival_marks(conn: sqlite3.Connection) -> None:
    """When the store received its status reports and events, to the granularity of its
    ``prune_history`` calls: each call adds a mark (its time, the largest id of each table then),
    so history is pruned by receipt, never by a station's clock. The rows already stored count
    as received now (at the upgrade)."""
    conn.execute(
        """CREATE TABLE arrival_marks (
            at INTEGER PRIMARY KEY,
            statuses INTEGER NOT NULL,
            events INTEGER NOT NULL
        )"""
    )
    conn.execute(
        "INSERT INTO arrival_marks (at, statuses, events) VALUES ("
        " CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),"
        " (SELECT ifnull(max(id), 0) FROM statuses), (SELECT ifnull(max(id), 0) FROM events))"
    )


MIGRATIONS: tuple[Migration, ...] = (
    _v1_core,
    _v2_message_log,
    _v3_events,
    _v4_current_status_trigger,
    _v5_station_index_tables,
    _v6_arrival_marks,
)
"""The migrations, in order: ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``."""

LATEST_VERSION = len(MIGRATIONS)
"""The schema version this ocppkit writes."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database (``PRAGMA user_version``)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    assert isinstance(version, int)
    return version


def migrate(
    conn: sqlite3.Connection,
    target: int | None = None,
    *,
    migrations: Sequence[Migration] | None = None,
) -> int:
    """Apply the missing ``migrations`` up to ``target`` (None: all of them) in one
    transaction; returns the version found. ``conn`` must be in autocommit mode
    (``isolation_level=None``) and outside a transaction. Raises ``SchemaVersionError`` when the
    file is newer than ``target``. Other schemas (the charge point's) pass their own list
    (None: ``MIGRATIONS``, the CSMS store's)."""
    migrations = MIGRATIONS if migrations is None else migrations
    latest = len(migrations)
    target = latest if target is None else target
    if not 0 <= target <= latest:
        raise ValueError(f"no schema version {target} (latest: {latest})")
    conn.execute("BEGIN IMMEDIATE")  # the write lock first: two processes never migrate twice
    try:
        found = schema_version(conn)
        if found > target:
            raise SchemaVersionError(
                f"the database has schema version {found}, newer than the version {target} "
                "this ocppkit knows: open it with a newer ocppkit"
            )
        for migration in migrations[found:target]:
            migration(conn)
        if found != target:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return found
