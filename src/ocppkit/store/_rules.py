"""Rules every ``Store`` applies the same way (shared by ``MemoryStore`` and ``SqliteStore``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from ocppkit.store import TransactionRecord

__all__ = [
    "EventType",
    "check_count",
    "dump_json",
    "json_data",
    "load_json",
    "transaction_after_event",
    "utc",
    "utc_now",
    "utc_or_none",
]

EventType = Literal["Started", "Updated", "Ended"]
_replace = msgspec.structs.replace


def utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken as UTC."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def utc_now() -> datetime:
    """The current time in UTC (a store's default ``clock``)."""
    return datetime.now(UTC)


def utc_or_none(when: datetime | None) -> datetime | None:
    return None if when is None else utc(when)


def check_count(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(dict[str, Any])


def dump_json(data: dict[str, Any]) -> str:
    """An event's data as JSON text (``TypeError`` for what JSON cannot hold)."""
    if not isinstance(data, dict):
        raise TypeError(f"event data must be a dict, got {type(data).__name__}")
    return _json_encoder.encode(data).decode()


def load_json(text: str | bytes) -> dict[str, Any]:
    """Event data back from its JSON text."""
    return _json_decoder.decode(text)


def json_data(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it comes back from JSON (a deep copy with JSON's types)."""
    return load_json(dump_json(data))


def transaction_after_event(
    tx: TransactionRecord | None,
    *,
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
) -> TransactionRecord:
    """The transaction after a *new* 2.x event (the rule both stores apply).

    - unknown transaction (``tx`` None): created from the event (``start_time`` = its timestamp,
      ``meter_start`` = ``meter_wh``) with ``id`` 0, for the store to assign;
    - ``evse_id`` / ``connector_id`` (0 = not given) and ``id_token`` fill the fields still
      unknown; later values do not replace them;
    - a ``Started`` event sets ``start_time`` (and ``meter_start`` when it has ``meter_wh``),
      so a Started that arrives after an Updated corrects the start; any event sets a still
      unknown ``meter_start``;
    - the first ``Ended`` sets ``stop_time``, ``meter_stop`` (= ``meter_wh``) and ``stop_reason``;
      the transaction is then closed and later Ended events change nothing of it;
    - ``last_seq_no`` is the highest ``seq_no`` recorded.
    """
    timestamp = utc(timestamp)
    meter = None if meter_wh is None else float(meter_wh)
    if tx is None:
        tx = TransactionRecord(
            id=0,
            station_id=station_id,
            ocpp_id=ocpp_id,
            evse_id=evse_id,
            connector_id=connector_id,
            id_token=id_token,
            start_time=timestamp,
            meter_start=meter,
            last_seq_no=seq_no,
        )
    else:
        tx = _replace(
            tx,
            evse_id=tx.evse_id or evse_id,
            connector_id=tx.connector_id or connector_id,
            id_token=tx.id_token if tx.id_token is not None else id_token,
            start_time=timestamp if event_type == "Started" else tx.start_time,
            meter_start=(
                meter
                if meter is not None and (event_type == "Started" or tx.meter_start is None)
                else tx.meter_start
            ),
            last_seq_no=seq_no if tx.last_seq_no is None else max(tx.last_seq_no, seq_no),
        )
    if event_type == "Ended" and tx.stop_time is None:
        tx = _replace(tx, stop_time=timestamp, meter_stop=meter, stop_reason=stop_reason)
    return tx
