"""The API's records, as msgspec structs in wire form (camelCase), and the store -> record views.

The structs are both what the endpoints encode and what ``GET /openapi.json`` describes as its
component schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import msgspec

from ocppkit.messages.v16.common import AuthorizationStatus as _Status16
from ocppkit.messages.v21.common import AuthorizationStatusEnumType as _Status21
from ocppkit.messages.v201.common import AuthorizationStatusEnumType as _Status201
from ocppkit.runtime.connection import OcppConnection
from ocppkit.store import (
    ConnectorStatus,
    IdTokenRecord,
    MeterSample,
    StationRecord,
    TransactionRecord,
)

__all__ = [
    "AUTHORIZATION_STATUSES",
    "ErrorBody",
    "EventView",
    "FrameView",
    "IdTokenInput",
    "IdTokenView",
    "MeterValueView",
    "PayloadErrorBody",
    "StationCallErrorBody",
    "StationDetail",
    "StationView",
    "StatusView",
    "TransactionView",
    "meter_value_view",
    "station_view",
    "status_view",
    "token_view",
    "transaction_view",
]

AUTHORIZATION_STATUSES: tuple[str, ...] = tuple(
    sorted(set(get_args(_Status16)) | set(get_args(_Status201)) | set(get_args(_Status21)))
)
"""Every id token status of OCPP 1.6 (AuthorizationStatus) and 2.x (AuthorizationStatusEnum)."""

_Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]


# -- the API's records (wire names: camelCase) ---------------------------------------------------


class StationView(msgspec.Struct, kw_only=True, rename="camel"):
    """A station: its last boot (from the store) and its live connection state."""

    id: str
    ocpp_version: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    boot_status: str | None
    last_boot: _Timestamp | None
    last_seen: _Timestamp | None
    connected: bool
    accepted: bool


class StatusView(msgspec.Struct, kw_only=True, rename="camel"):
    """The current status of one connector (1.6: evseId 0) or EVSE connector (2.x)."""

    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    timestamp: _Timestamp


class StationDetail(StationView, kw_only=True, rename="camel"):
    """A station with the current status of each of its connectors."""

    statuses: list[StatusView]


class TransactionView(msgspec.Struct, kw_only=True, rename="camel"):
    """A charging session; meter readings and energy in Wh."""

    id: int
    station: str
    ocpp_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    start_time: _Timestamp
    stop_time: _Timestamp | None
    meter_start: float | None
    meter_stop: float | None
    energy_wh: float | None
    stop_reason: str | None


class MeterValueView(msgspec.Struct, kw_only=True, rename="camel"):
    """One sampled value of a transaction, as the station sent it."""

    timestamp: _Timestamp
    value: str
    measurand: str | None
    phase: str | None
    unit: str | None
    context: str | None
    location: str | None


class IdTokenView(msgspec.Struct, kw_only=True, rename="camel"):
    """An id token (1.6 idTag) and what the CSMS answers for it."""

    token: str
    status: str
    expiry: _Timestamp | None
    parent: str | None
    token_type: str | None


class IdTokenInput(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """The body of ``PUT /api/idtokens/{token}``: every field optional."""

    status: str = "Accepted"
    expiry: _Timestamp | None = None
    parent: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    token_type: Annotated[str, msgspec.Meta(min_length=1, max_length=20)] | None = None


class FrameView(msgspec.Struct, kw_only=True, rename="camel"):
    """One websocket message of the log: ``in`` from the station, ``out`` to it."""

    direction: Literal["in", "out"]
    timestamp: _Timestamp
    frame: str


class EventView(msgspec.Struct, kw_only=True, rename="camel"):
    """A station message of the event log: its action, its time (its own, or when it came) and
    its request payload in wire form."""

    kind: str
    timestamp: _Timestamp
    data: dict[str, Any]


class ErrorBody(msgspec.Struct, kw_only=True):
    """An error: ``error`` says what went wrong; more fields may follow."""

    error: str
    reason: str | None = None


class PayloadErrorBody(msgspec.Struct, kw_only=True):
    """An OCPP payload that breaks its schema: the OCPP error code and the field's path."""

    error: str
    code: str
    path: str
    reason: str


class StationCallErrorBody(msgspec.Struct, kw_only=True, rename="camel"):
    """The station answered a CALLERROR: its code, description and details as received."""

    error: str
    error_code: str
    error_description: str
    error_details: dict[str, Any]


# -- store records -> API records ---------------------------------------------------------------


def station_view(
    identity: str, record: StationRecord | None, conn: OcppConnection | None, accepted: bool
) -> StationView:
    """A station as the API shows it: its stored boot (if any) and its live connection."""
    record = record or StationRecord(id=identity)
    return StationView(
        id=identity,
        ocpp_version=conn.version.value if conn is not None else record.ocpp_version,
        vendor=record.vendor,
        model=record.model,
        serial_number=record.serial_number,
        firmware_version=record.firmware_version,
        boot_status=record.boot_status,
        last_boot=record.last_boot,
        last_seen=record.last_seen,
        connected=conn is not None,
        accepted=accepted,
    )


def status_view(status: ConnectorStatus) -> StatusView:
    """A stored connector status as the API shows it (its fields but the station)."""
    return msgspec.convert(status, StatusView, from_attributes=True)


def meter_value_view(sample: MeterSample) -> MeterValueView:
    """A stored sample as the API shows it (the same fields)."""
    return msgspec.convert(sample, MeterValueView, from_attributes=True)


def transaction_view(tx: TransactionRecord) -> TransactionView:
    """A stored transaction as the API shows it."""
    return TransactionView(
        id=tx.id,
        station=tx.station_id,
        ocpp_id=tx.ocpp_id,
        evse_id=tx.evse_id,
        connector_id=tx.connector_id,
        id_token=tx.id_token,
        start_time=tx.start_time,
        stop_time=tx.stop_time,
        meter_start=tx.meter_start,
        meter_stop=tx.meter_stop,
        energy_wh=tx.energy_wh,
        stop_reason=tx.stop_reason,
    )


def token_view(token: IdTokenRecord) -> IdTokenView:
    """A stored id token as the API shows it (the same fields)."""
    return msgspec.convert(token, IdTokenView, from_attributes=True)
