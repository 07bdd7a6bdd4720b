"""How ``SqliteStore`` stores values: datetimes as INTEGER microseconds since the Unix epoch (UTC),
the column lists of its tables, and the converters from a row to a record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from ocppkit.store import (
    ConnectorStatus,
    EventRecord,
    FrameRecord,
    IdTokenRecord,
    MeterSample,
    StationRecord,
    TransactionRecord,
)
from ocppkit.store._rules import load_json, utc

Row = tuple[Any, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    return (utc(when) - _EPOCH) // _MICROSECOND


def _us_or_none(when: datetime | None) -> int | None:
    return None if when is None else _us(when)


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _dt_or_none(us: int | None) -> datetime | None:
    return None if us is None else _dt(us)


_STATION_COLUMNS = (
    "id, ocpp_version, vendor, model, serial_number, firmware_version, boot_status, last_boot,"
    " last_seen, connected"
)
_STATUS_COLUMNS = "station_id, evse_id, connector_id, status, error_code, info, ts"
_TOKEN_COLUMNS = "token, status, expiry, parent, token_type"
_TX_COLUMNS = (
    "id, station_id, ocpp_id, evse_id, connector_id, id_token, start_time, meter_start,"
    " stop_time, meter_stop, stop_reason, last_seq_no"
)
_SAMPLE_COLUMNS = "ts, value, measurand, phase, unit, context, location"
_FRAME_COLUMNS = "station_id, direction, ts, frame"
_EVENT_COLUMNS = "station_id, kind, ts, data"


def _station(row: Row) -> StationRecord:
    return StationRecord(
        id=row[0],
        ocpp_version=row[1],
        vendor=row[2],
        model=row[3],
        serial_number=row[4],
        firmware_version=row[5],
        boot_status=row[6],
        last_boot=_dt_or_none(row[7]),
        last_seen=_dt_or_none(row[8]),
        connected=bool(row[9]),
    )


def _status(row: Row) -> ConnectorStatus:
    return ConnectorStatus(
        station_id=row[0],
        evse_id=row[1],
        connector_id=row[2],
        status=row[3],
        error_code=row[4],
        info=row[5],
        timestamp=_dt(row[6]),
    )


def _token(row: Row) -> IdTokenRecord:
    return IdTokenRecord(
        token=row[0], status=row[1], expiry=_dt_or_none(row[2]), parent=row[3], token_type=row[4]
    )


def _transaction(row: Row) -> TransactionRecord:
    return TransactionRecord(
        id=row[0],
        station_id=row[1],
        ocpp_id=row[2],
        evse_id=row[3],
        connector_id=row[4],
        id_token=row[5],
        start_time=_dt(row[6]),
        meter_start=row[7],
        stop_time=_dt_or_none(row[8]),
        meter_stop=row[9],
        stop_reason=row[10],
        last_seq_no=row[11],
    )


def _sample(row: Row) -> MeterSample:
    return MeterSample(
        timestamp=_dt(row[0]),
        value=row[1],
        measurand=row[2],
        phase=row[3],
        unit=row[4],
        context=row[5],
        location=row[6],
    )


def _frame(row: Row) -> FrameRecord:
    return FrameRecord(
        station_id=row[0],
        direction=cast(Literal["in", "out"], row[1]),
        timestamp=_dt(row[2]),
        frame=row[3],
    )


def _event(row: Row) -> EventRecord:
    return EventRecord(
        station_id=row[0], kind=row[1], timestamp=_dt(row[2]), data=load_json(row[3])
    )
