"""The operations of ``SqliteStore``: plain functions ``fn(conn, *args)`` that the worker threads
of ``ocppkit.store.sqlite_worker`` run with their own connection (writes inside the writer's
transaction, reads on the read-only connection). Values arrive already converted where the
caller can do it on the event loop (timestamps as microseconds, event data as JSON text)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import msgspec

from ocppkit.store import (
    ConnectorStatus,
    EventRecord,
    FrameRecord,
    IdTokenRecord,
    MeterSample,
    StationRecord,
    TransactionRecord,
)
from ocppkit.store._rules import EventType, transaction_after_event, utc
from ocppkit.store.sqlite_index import Table, catch_up, indexed_stations, station_rows_sql
from ocppkit.store.sqlite_rows import (
    _EVENT_COLUMNS,
    _FRAME_COLUMNS,
    _SAMPLE_COLUMNS,
    _STATION_COLUMNS,
    _STATUS_COLUMNS,
    _TOKEN_COLUMNS,
    _TX_COLUMNS,
    _dt,
    _event,
    _frame,
    _sample,
    _station,
    _status,
    _token,
    _transaction,
    _us,
    _us_or_none,
)

_replace = msgspec.structs.replace

_ROWS_PER_STATEMENT = 32
"""Rows per multi-row ``INSERT``: few statements per batch, few distinct statements to cache."""


@functools.cache
def _rows_sql(head: str, width: int, count: int, tail: str) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join([row] * count)}{tail}"


def _insert_rows(
    conn: sqlite3.Connection,
    head: str,
    rows: Sequence[tuple[Any, ...]],
    tail: str = "",
    *,
    per_statement: int = _ROWS_PER_STATEMENT,
) -> None:
    """``head VALUES (…), (…), … tail`` for ``rows`` (all of one width), a statement per
    ``per_statement`` rows: each statement is one GIL release of the writer thread, where
    ``executemany`` releases it for every row (under load: a thread switch per row)."""
    if not rows:
        return
    width = len(rows[0])
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        conn.execute(
            _rows_sql(head, width, len(chunk), tail), [value for row in chunk for value in row]
        )


def _record_boot(conn: sqlite3.Connection, station: StationRecord) -> None:
    conn.execute(
        f"INSERT INTO stations ({_STATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET ocpp_version = excluded.ocpp_version,"
        " vendor = excluded.vendor, model = excluded.model,"
        " serial_number = excluded.serial_number, firmware_version = excluded.firmware_version,"
        " boot_status = excluded.boot_status, last_boot = excluded.last_boot,"
        " last_seen = coalesce(excluded.last_seen, last_seen)",
        (
            station.id,
            station.ocpp_version,
            station.vendor,
            station.model,
            station.serial_number,
            station.firmware_version,
            station.boot_status,
            _us_or_none(station.last_boot),
            _us_or_none(station.last_seen),
            int(station.connected),
        ),
    )


def _set_connected(conn: sqlite3.Connection, station_id: str, connected: bool, when: int) -> None:
    conn.execute(
        "INSERT INTO stations (id, connected, last_seen) VALUES (?, ?, ?) ON CONFLICT (id)"
        " DO UPDATE SET connected = excluded.connected, last_seen = excluded.last_seen",
        (station_id, int(connected), when),
    )


def _touch_many(conn: sqlite3.Connection, seen: list[tuple[int, str]]) -> None:
    conn.executemany("UPDATE stations SET last_seen = ? WHERE id = ?", seen)


def _get_station(conn: sqlite3.Connection, station_id: str) -> StationRecord | None:
    row = conn.execute(
        f"SELECT {_STATION_COLUMNS} FROM stations WHERE id = ?", (station_id,)
    ).fetchone()
    return None if row is None else _station(row)


def _list_stations(conn: sqlite3.Connection) -> list[StationRecord]:
    rows = conn.execute(f"SELECT {_STATION_COLUMNS} FROM stations ORDER BY id").fetchall()
    return [_station(row) for row in rows]


def _status_row(status: ConnectorStatus) -> tuple[Any, ...]:
    return (
        status.station_id,
        status.evse_id,
        status.connector_id,
        status.status,
        status.error_code,
        status.info,
        _us(status.timestamp),
    )


def _record_status(conn: sqlite3.Connection, status: ConnectorStatus) -> None:
    # one statement: the trigger statuses_current makes it current unless a newer one is
    conn.execute(
        f"INSERT INTO statuses ({_STATUS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        _status_row(status),
    )


def _record_statuses(
    conn: sqlite3.Connection, calls: Sequence[tuple[ConnectorStatus]]
) -> list[None]:
    """The many-form of ``_record_status`` (the trigger runs per row, in order)."""
    _insert_rows(
        conn, f"INSERT INTO statuses ({_STATUS_COLUMNS})", [_status_row(s) for (s,) in calls]
    )
    return [None] * len(calls)


def _current_statuses(conn: sqlite3.Connection, station_id: str) -> list[ConnectorStatus]:
    rows = conn.execute(
        "SELECT s.station_id, s.evse_id, s.connector_id, s.status, s.error_code, s.info, s.ts"
        " FROM current_statuses AS c JOIN statuses AS s ON s.id = c.status_id"
        " WHERE c.station_id = ? ORDER BY c.evse_id, c.connector_id",
        (station_id,),
    ).fetchall()
    return [_status(row) for row in rows]


def _status_history(conn: sqlite3.Connection, station_id: str, limit: int) -> list[ConnectorStatus]:
    rows = conn.execute(_STATUS_HISTORY, {"station": station_id, "limit": limit}).fetchall()
    return [_status(row) for row in rows]


_STATUS_HISTORY = station_rows_sql("statuses", _STATUS_COLUMNS, newest_first=True)


def _put_token(conn: sqlite3.Connection, token: IdTokenRecord) -> None:
    conn.execute(
        f"INSERT INTO id_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (token)"
        " DO UPDATE SET status = excluded.status, expiry = excluded.expiry,"
        " parent = excluded.parent, token_type = excluded.token_type",
        (token.token, token.status, _us_or_none(token.expiry), token.parent, token.token_type),
    )


def _get_token(conn: sqlite3.Connection, token: str) -> IdTokenRecord | None:
    row = conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM id_tokens WHERE token = ?", (token,)
    ).fetchone()
    return None if row is None else _token(row)


def _delete_token(conn: sqlite3.Connection, token: str) -> bool:
    return conn.execute("DELETE FROM id_tokens WHERE token = ?", (token,)).rowcount > 0


def _list_tokens(conn: sqlite3.Connection) -> list[IdTokenRecord]:
    rows = conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM id_tokens ORDER BY token").fetchall()
    return [_token(row) for row in rows]


def _find_transaction(
    conn: sqlite3.Connection, station_id: str, ocpp_id: str
) -> TransactionRecord | None:
    row = conn.execute(
        f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = ? AND ocpp_id = ?",
        (station_id, ocpp_id),
    ).fetchone()
    return None if row is None else _transaction(row)


def _start_transaction(
    conn: sqlite3.Connection,
    station_id: str,
    connector_id: int,
    id_token: str,
    meter_start: float,
    timestamp: datetime,
) -> TransactionRecord:
    start = _us(timestamp)
    row = conn.execute(
        f"SELECT {_TX_COLUMNS} FROM transactions WHERE v16 = 1 AND station_id = ?"
        " AND connector_id = ? AND id_token = ? AND start_time = ?",
        (station_id, connector_id, id_token, start),
    ).fetchone()
    if row is not None:  # a retry: the transaction this start created
        return _transaction(row)
    while True:  # the next 1.6 id, skipping one the station already uses as a 2.x id
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'v16_transaction_id'")
        (number,) = conn.execute(
            "SELECT value FROM counters WHERE name = 'v16_transaction_id'"
        ).fetchone()
        ocpp_id = str(number)
        if _find_transaction(conn, station_id, ocpp_id) is None:
            break
    # the partial UNIQUE index transactions_v16_start backs the lookup above
    cursor = conn.execute(
        "INSERT INTO transactions (station_id, ocpp_id, v16, evse_id, connector_id, id_token,"
        " start_time, meter_start) VALUES (?, ?, 1, 0, ?, ?, ?, ?)",
        (station_id, ocpp_id, connector_id, id_token, start, float(meter_start)),
    )
    assert cursor.lastrowid is not None
    return TransactionRecord(
        id=cursor.lastrowid,
        station_id=station_id,
        ocpp_id=ocpp_id,
        evse_id=0,
        connector_id=connector_id,
        id_token=id_token,
        start_time=_dt(start),
        meter_start=float(meter_start),
    )


def _stop_transaction(
    conn: sqlite3.Connection,
    station_id: str,
    ocpp_id: str,
    meter_stop: float,
    timestamp: datetime,
    reason: str | None,
) -> TransactionRecord | None:
    tx = _find_transaction(conn, station_id, ocpp_id)
    if tx is None or tx.stop_time is not None:
        return tx
    tx = _replace(tx, stop_time=utc(timestamp), meter_stop=float(meter_stop), stop_reason=reason)
    conn.execute(
        "UPDATE transactions SET stop_time = ?, meter_stop = ?, stop_reason = ? WHERE id = ?",
        (_us(timestamp), tx.meter_stop, reason, tx.id),
    )
    return tx


def _add_event(conn: sqlite3.Connection, tx_id: int, seq_no: int, event_type: str, ts: int) -> bool:
    cursor = conn.execute(
        "INSERT INTO transaction_events (transaction_id, seq_no, event_type, ts)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (tx_id, seq_no, event_type, ts),
    )
    return cursor.rowcount > 0


def _transaction_event(
    conn: sqlite3.Connection,
    station_id: str,
    ocpp_id: str,
    seq_no: int,
    event_type: EventType,
    timestamp: datetime,
    evse_id: int,
    connector_id: int,
    id_token: str | None,
    meter_wh: float | None,
    stop_reason: str | None,
) -> tuple[TransactionRecord, bool]:
    ts = _us(timestamp)
    old = _find_transaction(conn, station_id, ocpp_id)
    if old is not None and not _add_event(conn, old.id, seq_no, event_type, ts):
        return old, False  # (transaction, seq_no) already recorded
    tx = transaction_after_event(
        old,
        station_id=station_id,
        ocpp_id=ocpp_id,
        seq_no=seq_no,
        event_type=event_type,
        timestamp=timestamp,
        evse_id=evse_id,
        connector_id=connector_id,
        id_token=id_token,
        meter_wh=meter_wh,
        stop_reason=stop_reason,
    )
    values = (
        tx.evse_id,
        tx.connector_id,
        tx.id_token,
        _us(tx.start_time),
        tx.meter_start,
        _us_or_none(tx.stop_time),
        tx.meter_stop,
        tx.stop_reason,
        tx.last_seq_no,
    )
    if old is None:
        cursor = conn.execute(
            "INSERT INTO transactions (station_id, ocpp_id, v16, evse_id, connector_id,"
            " id_token, start_time, meter_start, stop_time, meter_stop, stop_reason,"
            " last_seq_no) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (station_id, ocpp_id, *values),
        )
        assert cursor.lastrowid is not None
        tx = _replace(tx, id=cursor.lastrowid)
        _add_event(conn, tx.id, seq_no, event_type, ts)
    else:
        conn.execute(
            "UPDATE transactions SET evse_id = ?, connector_id = ?, id_token = ?,"
            " start_time = ?, meter_start = ?, stop_time = ?, meter_stop = ?, stop_reason = ?,"
            " last_seq_no = ? WHERE id = ?",
            (*values, tx.id),
        )
    return tx, True


def _add_meter_values(
    conn: sqlite3.Connection, transaction_id: int, samples: Sequence[MeterSample]
) -> int:
    if (
        conn.execute("SELECT 1 FROM transactions WHERE id = ?", (transaction_id,)).fetchone()
        is None
    ):
        raise KeyError(f"unknown transaction {transaction_id}")
    return _insert_samples(conn, transaction_id, samples)


def _add_transaction_meter_values(
    conn: sqlite3.Connection,
    station_id: str,
    ocpp_id: str,
    samples: Sequence[MeterSample],
    unknown: tuple[str, str, int, str] | None,
) -> int | None:
    tx = _find_transaction(conn, station_id, ocpp_id)
    if tx is None:
        if unknown is not None:
            _record_event(conn, *unknown)
        return None
    # several rows: a savepoint of its own, so a failure leaves none behind (this operation is
    # in _ONE_STATEMENT for the unknown case, which writes one row or nothing)
    conn.execute("SAVEPOINT samples")
    try:
        _insert_samples(conn, tx.id, samples)
    except BaseException:
        conn.execute("ROLLBACK TO samples")
        raise
    finally:
        conn.execute("RELEASE samples")
    return tx.id


def _add_transaction_meter_values_many(
    conn: sqlite3.Connection,
    calls: Sequence[tuple[str, str, Sequence[MeterSample], tuple[str, str, int, str] | None]],
) -> list[int | None]:
    """The many-form of ``_add_transaction_meter_values``: one look-up for every transaction
    named, one insert for all samples, one for all unknown messages."""
    found = _transaction_ids(conn, list(dict.fromkeys((call[0], call[1]) for call in calls)))
    samples: list[tuple[Any, ...]] = []
    events: list[tuple[str, str, int, str]] = []
    results: list[int | None] = []
    for station_id, ocpp_id, call_samples, unknown in calls:
        tx_id = found.get((station_id, ocpp_id))
        if tx_id is not None:
            samples.extend(_sample_row(tx_id, sample) for sample in call_samples)
        elif unknown is not None:
            events.append(unknown)
        results.append(tx_id)
    _insert_rows(conn, _INSERT_SAMPLES, samples, " ON CONFLICT DO NOTHING")
    _record_events(conn, events)
    return results


def _transaction_ids(
    conn: sqlite3.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Store ids of the transactions among ``keys`` (station, wire id) that exist."""
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), _ROWS_PER_STATEMENT):
        chunk = keys[start : start + _ROWS_PER_STATEMENT]
        rows = conn.execute(
            _rows_sql("SELECT t.id, v.column1, v.column2 FROM (", 2, len(chunk), _JOIN_TX),
            [value for key in chunk for value in key],
        ).fetchall()
        found.update(((station_id, ocpp_id), tx_id) for tx_id, station_id, ocpp_id in rows)
    return found


_JOIN_TX = ") AS v JOIN transactions AS t ON t.station_id = v.column1 AND t.ocpp_id = v.column2"
_INSERT_SAMPLES = f"INSERT INTO meter_samples (transaction_id, {_SAMPLE_COLUMNS})"


def _sample_row(transaction_id: int, s: MeterSample) -> tuple[Any, ...]:
    return (
        transaction_id,
        _us(s.timestamp),
        s.value,
        s.measurand,
        s.phase,
        s.unit,
        s.context,
        s.location,
    )


def _insert_samples(
    conn: sqlite3.Connection, transaction_id: int, samples: Sequence[MeterSample]
) -> int:
    before = conn.total_changes
    _insert_rows(
        conn,
        _INSERT_SAMPLES,
        [_sample_row(transaction_id, sample) for sample in samples],
        " ON CONFLICT DO NOTHING",
    )
    return conn.total_changes - before


def _meter_values(conn: sqlite3.Connection, transaction_id: int) -> list[MeterSample]:
    rows = conn.execute(
        f"SELECT {_SAMPLE_COLUMNS} FROM meter_samples WHERE transaction_id = ? ORDER BY ts, id",
        (transaction_id,),
    ).fetchall()
    return [_sample(row) for row in rows]


def _list_transactions(conn: sqlite3.Connection, station_id: str | None) -> list[TransactionRecord]:
    if station_id is None:
        rows = conn.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions ORDER BY start_time DESC, id DESC"
        ).fetchall()
    else:
        rows = conn.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = ?"
            " ORDER BY start_time DESC, id DESC",
            (station_id,),
        ).fetchall()
    return [_transaction(row) for row in rows]


_FRAMES_PER_STATEMENT = 200
"""Frames per INSERT statement (a loop turn under load logs hundreds)."""


def _log_frames(conn: sqlite3.Connection, frames: Sequence[FrameRecord]) -> None:
    _insert_rows(
        conn,
        f"INSERT INTO frames ({_FRAME_COLUMNS})",
        [(f.station_id, f.direction, _us(f.timestamp), f.frame) for f in frames],
        per_statement=_FRAMES_PER_STATEMENT,
    )


def _frames(
    conn: sqlite3.Connection, station_id: str, limit: int, after: int | None
) -> list[FrameRecord]:
    if after is None:
        rows = conn.execute(_FRAMES, {"station": station_id, "limit": limit}).fetchall()
    else:
        parameters = {"station": station_id, "limit": limit, "after": after}
        rows = conn.execute(_FRAMES_AFTER, parameters).fetchall()
    return [_frame(row) for row in rows]


_FRAMES = station_rows_sql("frames", _FRAME_COLUMNS, newest_first=False)
_FRAMES_AFTER = station_rows_sql("frames", _FRAME_COLUMNS, newest_first=False, after=True)


def _prune_frames(conn: sqlite3.Connection, keep: int, station_ids: Sequence[str] | None) -> int:
    catch_up(conn, "frames")  # every frame is in frames_idx now
    if station_ids is None:
        station_ids = indexed_stations(conn, "frames")
    deleted = 0
    for station_id in station_ids:  # the newest frame to go, then it and every older one
        cut = conn.execute(
            "SELECT ts, id FROM frames_idx WHERE station_id = ? ORDER BY ts DESC, id DESC"
            " LIMIT 1 OFFSET ?",
            (station_id, keep),
        ).fetchone()
        if cut is None:
            continue
        older = "station_id = ? AND (ts, id) <= (?, ?)"
        deleted += conn.execute(
            f"DELETE FROM frames WHERE id IN (SELECT id FROM frames_idx WHERE {older})",
            (station_id, *cut),
        ).rowcount
        conn.execute(f"DELETE FROM frames_idx WHERE {older}", (station_id, *cut))
    catch_up(conn, "frames")  # the mark moves back if the newest frames went
    return deleted


def _mark_arrivals(conn: sqlite3.Connection, now: int, before: int) -> int | None:
    """Add the arrival mark of ``now``; return the time of the newest mark older than
    ``before`` (what arrived before it goes), or None. Older marks go."""
    conn.execute(
        "INSERT OR REPLACE INTO arrival_marks (at, statuses, events) VALUES (?,"
        " (SELECT ifnull(max(id), 0) FROM statuses), (SELECT ifnull(max(id), 0) FROM events))",
        (now,),
    )
    row = conn.execute("SELECT max(at) FROM arrival_marks WHERE at < ?", (before,)).fetchone()
    if row[0] is None:
        return None
    conn.execute("DELETE FROM arrival_marks WHERE at < ?", row)
    return int(row[0])


_PRUNE_CHUNK = 10_000


def _prune_history(conn: sqlite3.Connection, mark: int) -> tuple[int, bool]:
    """Delete up to ``_PRUNE_CHUNK`` of the status reports (no connector's current one) and
    events that arrived before the arrival mark of time ``mark``, with their index rows;
    returns how many went and whether there may be more (the caller commits between chunks)."""
    row = conn.execute(
        "SELECT statuses, events FROM arrival_marks WHERE at = ?", (mark,)
    ).fetchone()
    if row is None:  # a later call used a newer mark and removed this one
        return 0, False
    deleted = 0
    cuts: dict[Table, int] = {"statuses": row[0], "events": row[1]}
    spared = {"statuses": " AND id NOT IN (SELECT status_id FROM current_statuses)", "events": ""}
    for table, cut in cuts.items():
        gone = conn.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
            f" WHERE id <= ?{spared[table]} LIMIT ?) RETURNING station_id, ts, id",
            (cut, _PRUNE_CHUNK - deleted),
        ).fetchall()
        # row values in a few statements, not one per row (``_insert_rows``: GIL releases)
        _insert_rows(conn, f"DELETE FROM {table}_idx WHERE (station_id, ts, id) IN (", gone, ")")
        catch_up(conn, table)  # the mark moves back if the newest rows went
        deleted += len(gone)
        if deleted == _PRUNE_CHUNK:
            break
    # SQLite gives a new row the largest id + 1: no mark may claim an id that is free again
    # (before the next chunk, too: rows may arrive between two chunks)
    conn.execute(
        "UPDATE arrival_marks SET"
        " statuses = min(statuses, (SELECT ifnull(max(id), 0) FROM statuses)),"
        " events = min(events, (SELECT ifnull(max(id), 0) FROM events))"
    )
    return deleted, deleted == _PRUNE_CHUNK


def _record_event(conn: sqlite3.Connection, station_id: str, kind: str, ts: int, data: str) -> None:
    conn.execute(f"{_INSERT_EVENTS} VALUES (?, ?, ?, ?)", (station_id, kind, ts, data))


def _record_events(
    conn: sqlite3.Connection, calls: Sequence[tuple[str, str, int, str]]
) -> list[None]:
    """The many-form of ``_record_event``."""
    _insert_rows(conn, _INSERT_EVENTS, calls)
    return [None] * len(calls)


_INSERT_EVENTS = f"INSERT INTO events ({_EVENT_COLUMNS})"


def _events(
    conn: sqlite3.Connection, station_id: str, kind: str | None, limit: int
) -> list[EventRecord]:
    if kind is None:
        rows = conn.execute(_EVENTS, {"station": station_id, "limit": limit}).fetchall()
    else:
        parameters = {"station": station_id, "limit": limit, "kind": kind}
        rows = conn.execute(_EVENTS_OF_KIND, parameters).fetchall()
    return [_event(row) for row in rows]


_EVENTS = station_rows_sql("events", _EVENT_COLUMNS, newest_first=True)
_EVENTS_OF_KIND = station_rows_sql("events", _EVENT_COLUMNS, newest_first=True, kind=True)


def _set_password(conn: sqlite3.Connection, station_id: str, password_hash: str) -> None:
    conn.execute(
        "INSERT INTO stations (id, password_hash) VALUES (?, ?)"
        " ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash",
        (station_id, password_hash),
    )


def _get_password(conn: sqlite3.Connection, station_id: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM stations WHERE id = ?", (station_id,)).fetchone()
    return None if row is None else cast(str | None, row[0])


def _remove_station(conn: sqlite3.Connection, station_id: str) -> bool:
    return conn.execute("DELETE FROM stations WHERE id = ?", (station_id,)).rowcount > 0


_ONE_STATEMENT: frozenset[Callable[..., Any]] = frozenset(
    {
        _record_boot,
        _record_status,
        _set_connected,
        _touch_many,
        _put_token,
        _record_event,
        _add_transaction_meter_values,
    }
)
"""Write operations that leave nothing behind when they fail: single statements (SQLite undoes a
failed statement by itself) or ones that take a savepoint of their own where they write more, so
the writer wraps them in none (saves two statements per operation on the hot path); given to
``SqliteWorkers`` as ``one_statement``."""

_GROUPED: dict[Callable[..., Any], Callable[..., list[Any]]] = {
    _record_status: _record_statuses,
    _record_event: _record_events,
    _add_transaction_meter_values: _add_transaction_meter_values_many,
}
"""Write operations run once per batch for all their queued calls (``SqliteWorkers.grouped``):
the frequent ones of a CSMS under load."""
