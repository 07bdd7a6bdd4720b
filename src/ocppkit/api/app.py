"""The HTTP API of the reference CSMS, as a Starlette app over a running ``Csms``.

::

    csms = Csms(SqliteStore("ocppkit.db"))
    app = create_app(csms)
    # uvicorn.Server(uvicorn.Config(app, port=8080)).serve() beside csms.start("0.0.0.0", 9000)

Routes (``GET /openapi.json`` describes them all, OpenAPI 3.1):

=======  ========================================  ==============================================
GET      /api/stations                             every station (store + live connections)
GET      /api/stations/{id}                        one station and its current statuses; 404
POST     /api/stations/{id}/calls/{action}         send a CALL, answer its CALLRESULT payload
GET      /api/stations/{id}/messages               the message log (``limit``, ``after``)
GET      /api/stations/{id}/events                 the event log, newest first (``kind``, ``limit``)
GET      /api/transactions                         transactions, newest first (``station``)
GET      /api/idtokens                             every id token
GET      /api/idtokens/{token}                     one id token; 404
PUT      /api/idtokens/{token}                     create (201) or replace (200) an id token
DELETE   /api/idtokens/{token}                     remove an id token (204); 404
GET      /metrics                                  Prometheus text
GET      /openapi.json                             this API as OpenAPI 3.1
=======  ========================================  ==============================================

Bodies are JSON; OCPP payloads are in their wire form (camelCase, as the JSON schemas name
them), and so are the API's own records (``ocppVersion``, ``lastSeen`` …). Errors are
``{"error": "<what>", …}`` objects.

``POST /api/stations/{id}/calls/{action}`` takes the request payload as the body (empty: ``{}``)
and answers, by outcome: 200 the station's CALLRESULT payload; 409 the station is not connected,
or the connection closed before the reply; 404 the action does not exist in the station's OCPP
version; 400 the action is one a charge point sends, or the payload breaks the action's schema
(``{"error", "code", "path", "reason"}``: the OCPP error code as the station's version spells
it, the field path); 502 the station answered a CALLERROR (``{"errorCode", "errorDescription",
"errorDetails"}`` as received) or a CALLRESULT that breaks the response schema; 504 no reply
within ``?timeout=`` seconds (default 30).

The message log is the CSMS's (``csms.message_log``, an ``ocppkit.csms.MessageLog``: batched
writes, bounded memory, retention set by its ``keep``): the app only reads it, and
``GET /api/stations/{id}/messages`` first flushes the frames queued so far, so a reader sees every
frame sent or received before its request. The app taps every connection of ``csms.server``
(through ``OcppServer.on_frame``, chained after the factory already set there, and on the
connections open when the app is made) to count OCPP calls in both directions by version, action
and outcome (``result`` / ``error``).

Metrics (``GET /metrics``, one ``CollectorRegistry`` per app):

- ``ocppkit_connected_stations{version}``: live connections (gauge);
- ``ocppkit_ocpp_calls_total{version, direction, action, outcome}``: every answered CALL seen
  on the wire, ``direction`` ``from_station`` or ``to_station``, ``outcome`` ``result`` or
  ``error`` (2.1 SEND messages from stations: ``outcome="send"``);
- ``ocppkit_api_calls_total{action, outcome}`` and ``ocppkit_api_call_duration_seconds{action}``
  (histogram): calls made through the API, outcome ``result``, ``call_error``,
  ``invalid_response``, ``timeout``, ``closed`` or ``cancelled`` (the HTTP request went away);
- ``ocppkit_message_log_queue_depth`` (gauge): frames of ``csms.message_log`` waiting for the
  store, and ``ocppkit_message_log_dropped_total``: frames it dropped because the store did not
  keep up (both 0 without a message log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocppkit.csms.role import Csms
from ocppkit.messages import actions
from ocppkit.messages.v16.common import AuthorizationStatus as _Status16
from ocppkit.messages.v21.common import AuthorizationStatusEnumType as _Status21
from ocppkit.messages.v201.common import AuthorizationStatusEnumType as _Status201
from ocppkit.protocol.codec import decode_payload, encode_payload
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    PayloadValidationError,
    wire_code,
)
from ocppkit.protocol.frames import Call, CallResult, FrameError, Send, parse_frame
from ocppkit.protocol.frames import CallError as CallErrorFrame
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import FrameHook, OcppConnection
from ocppkit.store import (
    ConnectorStatus,
    IdTokenRecord,
    StationRecord,
    Store,
    TransactionRecord,
)

__all__ = ["create_app", "openapi_document"]

log = logging.getLogger("ocppkit.api")

DEFAULT_CALL_TIMEOUT = 30.0
"""Seconds ``POST …/calls/{action}`` waits for the reply unless ``?timeout=`` says otherwise."""
MAX_CALL_TIMEOUT = 3600.0
MAX_MESSAGES = 1000
"""The largest ``limit`` of ``GET /api/stations/{id}/messages``."""
MAX_EVENTS = 1000
"""The largest ``limit`` of ``GET /api/stations/{id}/events``."""
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

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


_SCHEMA_TYPES: tuple[type[msgspec.Struct], ...] = (
    StationView,
    StatusView,
    StationDetail,
    TransactionView,
    IdTokenView,
    IdTokenInput,
    FrameView,
    EventView,
    ErrorBody,
    PayloadErrorBody,
    StationCallErrorBody,
)

_encoder = msgspec.json.Encoder()


def _json(content: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(content), status, media_type="application/json")


def _error(status: int, error: str, **fields: Any) -> Response:
    return _json({"error": error, **fields}, status)


def _station_view(
    identity: str, record: StationRecord | None, conn: OcppConnection | None, accepted: bool
) -> StationView:
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


def _status_view(status: ConnectorStatus) -> StatusView:
    return StatusView(
        evse_id=status.evse_id,
        connector_id=status.connector_id,
        status=status.status,
        error_code=status.error_code,
        info=status.info,
        timestamp=status.timestamp,
    )


def _transaction_view(tx: TransactionRecord) -> TransactionView:
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


def _token_view(token: IdTokenRecord) -> IdTokenView:
    return IdTokenView(
        token=token.token,
        status=token.status,
        expiry=token.expiry,
        parent=token.parent,
        token_type=token.token_type,
    )


# -- metrics -------------------------------------------------------------------------------------


class _Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ocpp_calls = Counter(
            "ocppkit_ocpp_calls",
            "OCPP calls answered, seen on the wire, by direction and outcome",
            ["version", "direction", "action", "outcome"],
            registry=registry,
        )
        self.api_calls = Counter(
            "ocppkit_api_calls",
            "Calls to stations made through the HTTP API, by outcome",
            ["action", "outcome"],
            registry=registry,
        )
        self.api_latency = Histogram(
            "ocppkit_api_call_duration_seconds",
            "Time from sending a call made through the HTTP API to its outcome",
            ["action"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class _LiveCollector(Collector):
    """Read when scraped: connections by version, the CSMS message log's queue and drops."""

    def __init__(self, csms: Csms) -> None:
        self._csms = csms

    def collect(self) -> Iterable[Metric]:
        connected = GaugeMetricFamily(
            "ocppkit_connected_stations", "Stations connected now", labels=["version"]
        )
        counts: dict[OcppVersion, int] = dict.fromkeys(self._csms.server.versions, 0)
        for conn in list(self._csms.server.connections.values()):
            counts[conn.version] = counts.get(conn.version, 0) + 1
        for version, count in sorted(counts.items()):
            connected.add_metric([version.value], count)
        yield connected
        message_log = self._csms.message_log
        depth = GaugeMetricFamily(
            "ocppkit_message_log_queue_depth", "Frames waiting to be written to the message log"
        )
        depth.add_metric([], message_log.pending if message_log is not None else 0)
        yield depth
        dropped = CounterMetricFamily(
            "ocppkit_message_log_dropped",
            "Frames of the message log dropped because the store did not keep up",
        )
        dropped.add_metric([], message_log.dropped if message_log is not None else 0)
        yield dropped


class _Tap:
    """The frame hook of one connection: counts the calls answered in both directions."""

    __slots__ = ("_identity", "_metrics", "_received", "_sent", "_version")

    _REMEMBER = 1000  # unanswered calls remembered per direction

    def __init__(self, conn: OcppConnection, metrics: _Metrics) -> None:
        self._identity = conn.identity
        self._version = conn.version
        self._metrics = metrics
        self._received: dict[str, str] = {}  # CALLs from the station: unique id -> action
        self._sent: dict[str, str] = {}  # CALLs to the station

    def __call__(self, direction: Literal["in", "out"], data: bytes | str) -> None:
        try:
            self._observe(direction, data)
        except Exception:  # a hook must never break the connection
            log.exception("%s: frame hook failed", self._identity)

    def _observe(self, direction: Literal["in", "out"], data: bytes | str) -> None:
        try:
            frame = parse_frame(data, self._version)
        except FrameError:
            return
        incoming = direction == "in"
        if isinstance(frame, Send):
            self._count("from_station" if incoming else "to_station", frame.action, "send")
        elif isinstance(frame, Call):
            pending = self._received if incoming else self._sent
            pending[frame.unique_id] = frame.action
            if len(pending) > self._REMEMBER:
                del pending[next(iter(pending))]
        elif isinstance(frame, CallResult | CallErrorFrame):
            pending = self._sent if incoming else self._received
            action = pending.pop(frame.unique_id, None)
            if action is not None:
                outcome = "result" if isinstance(frame, CallResult) else "error"
                self._count("to_station" if incoming else "from_station", action, outcome)

    def _count(self, direction: str, action: str, outcome: str) -> None:
        self._metrics.ocpp_calls.labels(self._version.value, direction, action, outcome).inc()


def _chain(first: FrameHook | None, second: FrameHook) -> FrameHook:
    if first is None:
        return second

    def both(direction: Literal["in", "out"], data: bytes | str) -> None:
        first(direction, data)
        second(direction, data)

    return both


def _install_taps(csms: Csms, metrics: _Metrics) -> None:
    server = csms.server
    previous = server.on_frame

    def factory(conn: OcppConnection) -> FrameHook | None:
        theirs = previous(conn) if previous is not None else None
        return _chain(theirs, _Tap(conn, metrics))

    server.on_frame = factory
    for conn in list(server.connections.values()):
        conn.on_frame = _chain(conn.on_frame, _Tap(conn, metrics))


# -- the endpoints -------------------------------------------------------------------------------


def _path(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


class _Api:
    """The endpoints, over one ``Csms``."""

    def __init__(
        self,
        csms: Csms,
        registry: CollectorRegistry,
        metrics: _Metrics,
    ) -> None:
        self.csms = csms
        self.registry = registry
        self.metrics = metrics

    @property
    def store(self) -> Store:
        return self.csms.store

    def _view(self, identity: str, record: StationRecord | None) -> StationView:
        conn = self.csms.server.get(identity)
        return _station_view(identity, record, conn, self.csms.is_accepted(identity))

    # stations -----------------------------------------------------------------------------------
    async def list_stations(self, request: Request) -> Response:
        records = {record.id: record for record in await self.store.list_stations()}
        identities = sorted(records.keys() | self.csms.server.connections.keys())
        return _json([self._view(identity, records.get(identity)) for identity in identities])

    async def get_station(self, request: Request) -> Response:
        identity = _path(request, "id")
        record = await self.store.get_station(identity)
        if record is None and self.csms.server.get(identity) is None:
            return _error(404, "unknown station", station=identity)
        view = msgspec.structs.asdict(self._view(identity, record))
        statuses = [_status_view(s) for s in await self.store.current_statuses(identity)]
        return _json(StationDetail(**view, statuses=statuses))

    async def call(self, request: Request) -> Response:
        identity = _path(request, "id")
        action = _path(request, "action")
        conn = self.csms.server.get(identity)
        if conn is None:
            return _error(409, "not connected", station=identity)
        version = conn.version
        spec = actions(version).get(action)
        if spec is None:
            return _error(
                404,
                "unknown action",
                action=action,
                ocppVersion=version.value,
                reason=f"OCPP {version} has no action {action!r}",
            )
        if spec.direction == "cp_to_csms" or spec.send_only:
            return _error(
                400,
                "wrong direction",
                action=action,
                ocppVersion=version.value,
                reason=f"{action} is sent by a charge point to the CSMS, not by the CSMS",
            )
        timeout = _timeout(request.query_params.get("timeout"))
        if timeout is None:
            return _error(
                400,
                "invalid timeout",
                reason=f"timeout is a number of seconds > 0 and <= {MAX_CALL_TIMEOUT:g}",
            )
        body = await request.body()
        try:
            payload, _ = decode_payload(spec.request, body if body.strip() else b"{}", "strict")
        except PayloadValidationError as exc:
            return _json(
                PayloadErrorBody(
                    error="invalid payload",
                    code=wire_code(exc.code, version),
                    path=exc.path,
                    reason=exc.reason,
                ),
                400,
            )
        outcome = "cancelled"  # until known otherwise: the HTTP request may be cancelled
        started = time.perf_counter()
        try:
            response = await conn.call(payload, timeout=timeout)
            outcome = "result"
        except CallError as exc:
            outcome = "call_error"
            return _json(
                StationCallErrorBody(
                    error="station answered CALLERROR",
                    error_code=exc.wire_code,
                    error_description=exc.description,
                    error_details=exc.details,
                ),
                502,
            )
        except PayloadValidationError as exc:
            outcome = "invalid_response"
            return _json(
                PayloadErrorBody(
                    error="invalid response",
                    code=wire_code(exc.code, version),
                    path=exc.path,
                    reason=exc.reason,
                ),
                502,
            )
        except CallTimeoutError:
            outcome = "timeout"
            return _error(
                504, "timeout", station=identity, action=action, reason=f"no reply in {timeout:g} s"
            )
        except ConnectionClosedError:
            outcome = "closed"
            return _error(
                409,
                "connection closed",
                station=identity,
                action=action,
                reason="the connection closed before the reply",
            )
        finally:
            self.metrics.api_calls.labels(action, outcome).inc()
            self.metrics.api_latency.labels(action).observe(time.perf_counter() - started)
        return Response(encode_payload(response), media_type="application/json")

    async def messages(self, request: Request) -> Response:
        identity = _path(request, "id")
        limit = _int(request.query_params.get("limit"), default=100, low=1, high=MAX_MESSAGES)
        if limit is None:
            return _error(400, "invalid limit", reason=f"limit is an integer 1..{MAX_MESSAGES}")
        after_text = request.query_params.get("after")
        after = None if after_text is None else _datetime(after_text)
        if after_text is not None and after is None:
            return _error(400, "invalid after", reason="after is an RFC 3339 date-time")
        if self.csms.message_log is not None:  # frames sent or received before this request
            await self.csms.message_log.flush()
        frames = await self.store.frames(identity, limit, after)
        if (
            not frames
            and self.csms.server.get(identity) is None
            and await self.store.get_station(identity) is None
        ):
            return _error(404, "unknown station", station=identity)
        return _json(
            [FrameView(direction=f.direction, timestamp=f.timestamp, frame=f.frame) for f in frames]
        )

    async def events(self, request: Request) -> Response:
        identity = _path(request, "id")
        limit = _int(request.query_params.get("limit"), default=100, low=1, high=MAX_EVENTS)
        if limit is None:
            return _error(400, "invalid limit", reason=f"limit is an integer 1..{MAX_EVENTS}")
        kind = request.query_params.get("kind") or None
        found = await self.store.events(identity, kind, limit)
        if (
            not found
            and self.csms.server.get(identity) is None
            and await self.store.get_station(identity) is None
        ):
            return _error(404, "unknown station", station=identity)
        return _json([EventView(kind=e.kind, timestamp=e.timestamp, data=e.data) for e in found])

    # transactions ---------------------------------------------------------------------------------
    async def transactions(self, request: Request) -> Response:
        station = request.query_params.get("station")
        found = await self.store.list_transactions(station)
        return _json([_transaction_view(tx) for tx in found])

    # id tokens ------------------------------------------------------------------------------------
    async def list_tokens(self, request: Request) -> Response:
        return _json([_token_view(t) for t in await self.store.list_tokens()])

    async def get_token(self, request: Request) -> Response:
        token = _path(request, "token")
        record = await self.store.get_token(token)
        if record is None:
            return _error(404, "unknown id token", token=token)
        return _json(_token_view(record))

    async def put_token(self, request: Request) -> Response:
        token = _path(request, "token")
        if len(token) > 255:
            return _error(400, "invalid token", reason="an id token has at most 255 characters")
        body = await request.body()
        try:
            data = msgspec.json.decode(body if body.strip() else b"{}", type=IdTokenInput)
        except msgspec.ValidationError as exc:
            return _error(400, "invalid body", reason=str(exc))
        except msgspec.DecodeError as exc:
            return _error(400, "invalid JSON", reason=str(exc))
        if data.status not in AUTHORIZATION_STATUSES:
            return _error(
                400,
                "invalid status",
                reason=f"{data.status!r} is no OCPP authorization status",
                allowed=list(AUTHORIZATION_STATUSES),
            )
        existed = await self.store.get_token(token) is not None
        record = IdTokenRecord(
            token=token,
            status=data.status,
            expiry=data.expiry,
            parent=data.parent,
            token_type=data.token_type,
        )
        await self.store.put_token(record)
        stored = await self.store.get_token(token) or record  # as the store keeps it (UTC)
        return _json(_token_view(stored), 200 if existed else 201)

    async def delete_token(self, request: Request) -> Response:
        token = _path(request, "token")
        if not await self.store.delete_token(token):
            return _error(404, "unknown id token", token=token)
        return Response(status_code=204)

    # metrics and description ----------------------------------------------------------------------
    async def metrics_text(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(self, request: Request) -> Response:
        return Response(_openapi_bytes(), media_type="application/json")


def _timeout(text: str | None) -> float | None:
    if text is None:
        return DEFAULT_CALL_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value <= MAX_CALL_TIMEOUT else None


def _int(text: str | None, *, default: int, low: int, high: int) -> int | None:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def _datetime(text: str) -> datetime | None:
    candidates = [text]
    if " " in text:  # an unencoded "+" in a query string arrives as a space
        candidates.append(text.replace(" ", "+"))
    for candidate in candidates:
        try:
            value = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


# -- the route table and its OpenAPI description ---------------------------------------------


@dataclass(frozen=True)
class _Op:
    """One route: method, path (Starlette and OpenAPI share the ``{name}`` syntax), handler
    name on ``_Api``, and its OpenAPI operation object."""

    method: str
    path: str
    handler: str
    operation: Mapping[str, Any]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: Mapping[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": dict(schema)}}


def _answer(description: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": _content(schema)}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


_ERROR = _ref("ErrorBody")
_STATION_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The charge point identity",
    "schema": {"type": "string"},
}
_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The id token (1.6 idTag)",
    "schema": {"type": "string", "maxLength": 255},
}


@cache
def _csms_actions() -> tuple[str, ...]:
    """Every action a CSMS sends, in any version."""
    return tuple(
        sorted(
            {
                spec.action
                for version in OcppVersion
                for spec in actions(version).values()
                if spec.direction != "cp_to_csms" and not spec.send_only
            }
        )
    )


def _routes() -> tuple[_Op, ...]:
    return (
        _Op(
            "GET",
            "/api/stations",
            "list_stations",
            {
                "operationId": "listStations",
                "summary": "Every station: known to the store or connected now",
                "tags": ["stations"],
                "responses": {"200": _answer("The stations, by id", _list_of("StationView"))},
            },
        ),
        _Op(
            "GET",
            "/api/stations/{id}",
            "get_station",
            {
                "operationId": "getStation",
                "summary": "One station with the current status of each connector",
                "tags": ["stations"],
                "parameters": [_STATION_ID],
                "responses": {
                    "200": _answer("The station", _ref("StationDetail")),
                    "404": _answer("Neither in the store nor connected", _ERROR),
                },
            },
        ),
        _Op(
            "POST",
            "/api/stations/{id}/calls/{action}",
            "call",
            {
                "operationId": "callStation",
                "summary": "Send a CALL to a connected station and return its CALLRESULT",
                "description": (
                    "The body is the request payload of the action in wire form (an empty body "
                    "is `{}`); it is validated against the action's schema in the station's OCPP "
                    "version before anything is sent. The answer is the CALLRESULT payload."
                ),
                "tags": ["stations"],
                "parameters": [
                    _STATION_ID,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "description": "An action the CSMS sends in the station's OCPP version",
                        "schema": {"type": "string", "enum": list(_csms_actions())},
                    },
                    {
                        "name": "timeout",
                        "in": "query",
                        "required": False,
                        "description": "Seconds to wait for the reply",
                        "schema": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_CALL_TIMEOUT,
                            "default": DEFAULT_CALL_TIMEOUT,
                        },
                    },
                ],
                "requestBody": {
                    "required": False,
                    "description": "The request payload (OCPP JSON, wire names)",
                    "content": _content({"type": "object"}),
                },
                "responses": {
                    "200": _answer("The CALLRESULT payload", {"type": "object"}),
                    "400": _answer(
                        "An action a charge point sends, a bad timeout, or an invalid payload",
                        {"anyOf": [_ref("PayloadErrorBody"), _ERROR]},
                    ),
                    "404": _answer("No such action in the station's OCPP version", _ERROR),
                    "409": _answer(
                        "Not connected, or the connection closed before the reply", _ERROR
                    ),
                    "502": _answer(
                        "The station answered a CALLERROR, or an invalid CALLRESULT",
                        {"anyOf": [_ref("StationCallErrorBody"), _ref("PayloadErrorBody")]},
                    ),
                    "504": _answer("No reply before the timeout", _ERROR),
                },
            },
        ),
        _Op(
            "GET",
            "/api/stations/{id}/messages",
            "messages",
            {
                "operationId": "listMessages",
                "summary": "The message log of a station, oldest first",
                "tags": ["stations"],
                "parameters": [
                    _STATION_ID,
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_MESSAGES,
                            "default": 100,
                        },
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "Only frames strictly after this time",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                ],
                "responses": {
                    "200": _answer("The frames", _list_of("FrameView")),
                    "400": _answer("A bad limit or after", _ERROR),
                    "404": _answer("An unknown station without frames", _ERROR),
                },
            },
        ),
        _Op(
            "GET",
            "/api/stations/{id}/events",
            "events",
            {
                "operationId": "listEvents",
                "summary": "A station's stored reports, newest first",
                "description": (
                    "Station messages kept in the event log: firmware, diagnostics and log "
                    "status reports, security events, DataTransfer, and 2.x NotifyReport, "
                    "NotifyEvent and MeterValues outside transactions, each with its request "
                    "payload in wire form."
                ),
                "tags": ["stations"],
                "parameters": [
                    _STATION_ID,
                    {
                        "name": "kind",
                        "in": "query",
                        "required": False,
                        "description": "Only events of this OCPP action",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_EVENTS,
                            "default": 100,
                        },
                    },
                ],
                "responses": {
                    "200": _answer("The events", _list_of("EventView")),
                    "400": _answer("A bad limit", _ERROR),
                    "404": _answer("An unknown station without events", _ERROR),
                },
            },
        ),
        _Op(
            "GET",
            "/api/transactions",
            "transactions",
            {
                "operationId": "listTransactions",
                "summary": "Transactions, newest first",
                "tags": ["transactions"],
                "parameters": [
                    {
                        "name": "station",
                        "in": "query",
                        "required": False,
                        "description": "Only this station's",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _answer("The transactions", _list_of("TransactionView"))},
            },
        ),
        _Op(
            "GET",
            "/api/idtokens",
            "list_tokens",
            {
                "operationId": "listIdTokens",
                "summary": "Every id token, by token",
                "tags": ["idtokens"],
                "responses": {"200": _answer("The id tokens", _list_of("IdTokenView"))},
            },
        ),
        _Op(
            "GET",
            "/api/idtokens/{token}",
            "get_token",
            {
                "operationId": "getIdToken",
                "summary": "One id token",
                "tags": ["idtokens"],
                "parameters": [_TOKEN],
                "responses": {
                    "200": _answer("The id token", _ref("IdTokenView")),
                    "404": _answer("Unknown", _ERROR),
                },
            },
        ),
        _Op(
            "PUT",
            "/api/idtokens/{token}",
            "put_token",
            {
                "operationId": "putIdToken",
                "summary": "Create or replace an id token",
                "tags": ["idtokens"],
                "parameters": [_TOKEN],
                "requestBody": {
                    "required": False,
                    "content": _content(_ref("IdTokenInput")),
                },
                "responses": {
                    "200": _answer("Replaced", _ref("IdTokenView")),
                    "201": _answer("Created", _ref("IdTokenView")),
                    "400": _answer("An invalid body or status", _ERROR),
                },
            },
        ),
        _Op(
            "DELETE",
            "/api/idtokens/{token}",
            "delete_token",
            {
                "operationId": "deleteIdToken",
                "summary": "Remove an id token",
                "tags": ["idtokens"],
                "parameters": [_TOKEN],
                "responses": {
                    "204": _answer("Removed"),
                    "404": _answer("Unknown", _ERROR),
                },
            },
        ),
        _Op(
            "GET",
            "/metrics",
            "metrics_text",
            {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": _content({"type": "string"}, "text/plain"),
                    }
                },
            },
        ),
        _Op(
            "GET",
            "/openapi.json",
            "openapi",
            {
                "operationId": "openapi",
                "summary": "This API as an OpenAPI 3.1 document",
                "tags": ["operations"],
                "responses": {"200": _answer("The document", {"type": "object"})},
            },
        ),
    )


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API (a fresh copy each call)."""
    document: dict[str, Any] = msgspec.json.decode(_openapi_bytes())
    return document


@cache
def _openapi_bytes() -> bytes:
    _, components = msgspec.json.schema_components(
        _SCHEMA_TYPES, ref_template="#/components/schemas/{name}"
    )
    status = components["IdTokenInput"]["properties"]["status"]
    status["enum"] = list(AUTHORIZATION_STATUSES)
    paths: dict[str, dict[str, Any]] = {}
    for op in _routes():
        paths.setdefault(op.path, {})[op.method.lower()] = dict(op.operation)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "ocppkit CSMS",
            "version": "1",
            "description": (
                "The HTTP API of the ocppkit reference CSMS: stations, transactions, id tokens, "
                "commands to stations (any CSMS-to-charge-point action of OCPP 1.6, 2.0.1 and "
                "2.1), the message log and metrics. OCPP payloads are in wire form."
            ),
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    return _encoder.encode(document)


# -- the app -------------------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return Response(
        _encoder.encode({"error": exc.detail}),
        exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def create_app(csms: Csms) -> Starlette:
    """The HTTP API of ``csms`` as a Starlette app (routes: see the module docstring).

    Installs the call counters on ``csms.server``; the message log it serves is
    ``csms.message_log`` (configure its retention there: ``Csms(store,
    message_log=MessageLog(store, keep=...))``). Serve the app with any ASGI server; the CSMS's
    own ``close()`` writes what the message log still holds.
    """
    registry = CollectorRegistry(auto_describe=True)
    metrics = _Metrics(registry)
    registry.register(_LiveCollector(csms))
    _install_taps(csms, metrics)
    api = _Api(csms, registry, metrics)
    routes = [
        Route(
            op.path,
            _endpoint(api, op.handler),
            methods=[op.method],
            name=op.operation["operationId"],
        )
        for op in _routes()
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.csms = csms
    app.state.registry = registry
    return app


def _endpoint(api: _Api, name: str) -> Callable[[Request], Awaitable[Response]]:
    handler: Callable[[Request], Awaitable[Response]] = getattr(api, name)
    return handler
