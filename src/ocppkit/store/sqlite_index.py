"""Per-station indexes of ``SqliteStore``'s history tables, kept up to date behind the writes.

The history tables (``statuses``, ``events``, ``frames``) are appended to in arrival order
(``rowid``) and read per station. An ordinary index on ``(station_id, ts)`` makes every commit
write one index leaf page per station it touches: under load, with 50 stations in a commit, ~40
of the ~50 pages each commit wrote (and fsynced) were such leaves, and the writer's CPU per call
halved without them (``benchmarks/RESULTS.md``). So each table has instead an index *table*
``<table>_idx (station_id, ts, id)``, filled by ``catch_up`` for all rows written since the last
time in one sorted insert — once per interval, one leaf per station per interval — and a mark,
``counters['<table>_idx']``: the rows with a larger id (the *tail*) are not in the index yet.

A per-station read (``station_rows_sql``) unions the index, walked in order with its limit, and
a scan of the tail (a rowid range: at most one interval's rows) in **one** statement, so it sees
one snapshot of index, mark and tail. Rows are never updated; deletions (pruning the message
log, pruning the history) delete their index rows too and then ``catch_up``, which moves the
mark back to the largest id left, so a new row never gets an id at or below the mark (SQLite
reuses the largest rowid + 1).
"""

from __future__ import annotations

import sqlite3
from typing import Literal

__all__ = ["TABLES", "catch_up", "indexed_stations", "station_rows_sql"]

Table = Literal["statuses", "events", "frames"]
TABLES: tuple[Table, ...] = ("statuses", "events", "frames")


def catch_up(conn: sqlite3.Connection, table: Table) -> None:
    """Index the tail of ``table`` (inside the caller's transaction)."""
    name = f"{table}_idx"
    (mark,) = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    (top,) = conn.execute(f"SELECT ifnull(max(id), 0) FROM {table}").fetchone()
    if top > mark:
        conn.execute(
            f"INSERT INTO {name} (station_id, ts, id) SELECT station_id, ts, id FROM {table}"
            " WHERE id > ? AND id <= ? ORDER BY station_id, ts, id",
            (mark, top),
        )
    if top != mark:  # below it only after a deletion of the newest rows: see the docstring
        conn.execute("UPDATE counters SET value = ? WHERE name = ?", (top, name))


def indexed_stations(conn: sqlite3.Connection, table: Table) -> list[str]:
    """The stations with rows in ``table``'s index, found by a skip scan of the index (one
    look-up per station, not a read of every row)."""
    name = f"{table}_idx"
    rows = conn.execute(
        f"WITH RECURSIVE s (id) AS (SELECT min(station_id) FROM {name}"
        f" UNION ALL SELECT (SELECT min(station_id) FROM {name} WHERE station_id > s.id)"
        " FROM s WHERE s.id IS NOT NULL) SELECT id FROM s WHERE id IS NOT NULL"
    )
    return [row[0] for row in rows]


def station_rows_sql(
    table: Table, columns: str, *, newest_first: bool, after: bool = False, kind: bool = False
) -> str:
    """One statement reading ``columns`` (then the row id) of the rows of station ``:station``,
    ordered by ``ts`` then arrival, at most ``:limit`` of them; with ``after`` only those with
    ``ts > :after``, with ``kind`` only those of ``kind = :kind``."""
    order = "DESC" if newest_first else "ASC"
    indexed = tail = ""
    if after:
        indexed, tail = " AND i.ts > :after", " AND t.ts > :after"
    if kind:
        indexed, tail = indexed + " AND t.kind = :kind", tail + " AND t.kind = :kind"
    selected = ", ".join(f"t.{column.strip()}" for column in columns.split(","))
    return (
        f"SELECT * FROM (SELECT {selected}, t.id AS rid FROM {table}_idx AS i"
        f" JOIN {table} AS t ON t.id = i.id WHERE i.station_id = :station{indexed}"
        f" ORDER BY i.ts {order}, i.id {order} LIMIT :limit)"
        f" UNION ALL SELECT {selected}, t.id FROM {table} AS t"
        f" WHERE t.id > (SELECT value FROM counters WHERE name = '{table}_idx')"
        f" AND t.station_id = :station{tail}"
        f" ORDER BY ts {order}, rid {order} LIMIT :limit"
    )
