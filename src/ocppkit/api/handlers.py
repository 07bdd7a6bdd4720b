"""The API's endpoints: ``Api``, one coroutine per route over a ``Csms``, and their helpers.

Each endpoint takes a Starlette ``Request`` and answers a JSON ``Response`` (errors:
``{"error": "<what>", …}``); the route table that maps paths to them is ``ocppkit.api.openapi``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ocppkit.api.metrics import Metrics
from ocppkit.api.openapi import (
    DEFAULT_CALL_TIMEOUT,
    MAX_CALL_TIMEOUT,
    MAX_EVENTS,
    MAX_MESSAGES,
    openapi_bytes,
)
from ocppkit.api.views import (
    AUTHORIZATION_STATUSES,
    EventView,
    FrameView,
    IdTokenInput,
    PayloadErrorBody,
    StationCallErrorBody,
    StationDetail,
    StationView,
    meter_value_view,
    station_view,
    status_view,
    token_view,
    transaction_view,
)
from ocppkit.csms.plug_and_charge import pnc_call
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station16, station_for
from ocppkit.iso15118 import TO_STATION, TunnelError
from ocppkit.messages import actions
from ocppkit.protocol.codec import decode_payload, encode_payload
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    PayloadValidationError,
    wire_code,
)
from ocppkit.protocol.versions import OcppVersion
from ocppkit.store import IdTokenRecord, StationRecord, Store
from ocppkit.store._rules import utc_or_none

__all__ = ["Api", "http_error"]

_encoder = msgspec.json.Encoder()


def _json(content: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(content), status, media_type="application/json")


def _error(status: int, error: str, **fields: Any) -> Response:
    return _json({"error": error, **fields}, status)


def _payload_error(
    error: str, exc: PayloadValidationError, version: OcppVersion, status: int
) -> Response:
    return _json(
        PayloadErrorBody(
            error=error, code=wire_code(exc.code, version), path=exc.path, reason=exc.reason
        ),
        status,
    )


def _path(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


class Api:
    """The endpoints, over one ``Csms``."""

    def __init__(
        self,
        csms: Csms,
        registry: CollectorRegistry,
        metrics: Metrics,
    ) -> None:
        self.csms = csms
        self.registry = registry
        self.metrics = metrics

    @property
    def store(self) -> Store:
        """The CSMS's store."""
        return self.csms.store

    def _view(self, identity: str, record: StationRecord | None) -> StationView:
        conn = self.csms.server.get(identity)
        return station_view(identity, record, conn, self.csms.is_accepted(identity))

    # stations -----------------------------------------------------------------------------------
    async def list_stations(self, request: Request) -> Response:
        """``GET /api/stations``: every station, stored or connected, by id."""
        records = {record.id: record for record in await self.store.list_stations()}
        identities = sorted(records.keys() | self.csms.server.connections.keys())
        return _json([self._view(identity, records.get(identity)) for identity in identities])

    async def get_station(self, request: Request) -> Response:
        """``GET /api/stations/{id}``: one station and its connector statuses; 404."""
        identity = _path(request, "id")
        record = await self.store.get_station(identity)
        if record is None and self.csms.server.get(identity) is None:
            return _error(404, "unknown station", station=identity)
        view = msgspec.structs.asdict(self._view(identity, record))
        statuses = [status_view(s) for s in await self.store.current_statuses(identity)]
        return _json(StationDetail(**view, statuses=statuses))

    async def _known(self, identity: str) -> bool:
        """Connected now, or stored: a station the API answers for (else 404)."""
        return (
            self.csms.server.get(identity) is not None
            or await self.store.get_station(identity) is not None
        )

    async def call(self, request: Request) -> Response:
        """``POST /api/stations/{id}/calls/{action}``: send a CALL, answer its CALLRESULT."""
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
        read = await _call_input(request, spec.request, version)
        if isinstance(read, Response):
            return read
        payload, timeout = read
        call = station_for(conn).call(payload, timeout=timeout)  # via the gate
        return await self._answer(call, identity, action, version, timeout)

    async def _answer(
        self,
        call: Awaitable[Any],
        identity: str,
        label: str,
        version: OcppVersion,
        timeout: float,
    ) -> Response:
        """The HTTP answer to a CALL the API sent (``call``, to station ``identity``): the
        response payload, or the error the routes document; counted in the metrics as
        ``label``."""
        outcome = "cancelled"  # until known otherwise: the HTTP request may be cancelled
        started = time.perf_counter()
        try:
            response = await call
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
            return _payload_error("invalid response", exc, version, 502)
        except TunnelError as exc:  # a Plug & Charge answer that is not one
            outcome = "invalid_response"
            return _error(502, "station did not take it", action=label, reason=str(exc))
        except CallTimeoutError:
            outcome = "timeout"
            return _error(
                504, "timeout", station=identity, action=label, reason=f"no reply in {timeout:g} s"
            )
        except ConnectionClosedError:
            outcome = "closed"
            return _error(
                409,
                "connection closed",
                station=identity,
                action=label,
                reason="the connection closed before the reply",
            )
        finally:
            self.metrics.api_calls.labels(label, outcome).inc()
            self.metrics.api_latency.labels(label).observe(time.perf_counter() - started)
        return Response(encode_payload(response), media_type="application/json")

    async def pnc(self, request: Request) -> Response:
        """``POST /api/stations/{id}/pnc/{action}``: a Plug & Charge message to a 1.6 station."""
        identity = _path(request, "id")
        action = _path(request, "action")
        conn = self.csms.server.get(identity)
        if conn is None:
            return _error(409, "not connected", station=identity)
        if action not in TO_STATION:
            reason = f"{action!r} is not a Plug & Charge message the CSMS sends"
            return _error(404, "unknown action", action=action, reason=reason)
        if conn.version is not OcppVersion.V16:
            reason = "2.x stations take the ISO 15118 messages directly: use …/calls/{action}"
            return _error(400, "not a 1.6 station", ocppVersion=conn.version.value, reason=reason)
        read = await _call_input(
            request, actions(OcppVersion.V201)[action].request, OcppVersion.V201
        )
        if isinstance(read, Response):
            return read
        payload, timeout = read
        station = station_for(conn)
        assert isinstance(station, Station16)
        call = pnc_call(station, payload, timeout=timeout)
        return await self._answer(call, identity, f"PnC.{action}", OcppVersion.V16, timeout)

    async def messages(self, request: Request) -> Response:
        """``GET /api/stations/{id}/messages``: the message log, oldest first."""
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
        if not frames and not await self._known(identity):
            return _error(404, "unknown station", station=identity)
        return _json(
            [FrameView(direction=f.direction, timestamp=f.timestamp, frame=f.frame) for f in frames]
        )

    async def events(self, request: Request) -> Response:
        """``GET /api/stations/{id}/events``: the event log, newest first."""
        identity = _path(request, "id")
        limit = _int(request.query_params.get("limit"), default=100, low=1, high=MAX_EVENTS)
        if limit is None:
            return _error(400, "invalid limit", reason=f"limit is an integer 1..{MAX_EVENTS}")
        kind = request.query_params.get("kind") or None
        found = await self.store.events(identity, kind, limit)
        if not found and not await self._known(identity):
            return _error(404, "unknown station", station=identity)
        return _json([EventView(kind=e.kind, timestamp=e.timestamp, data=e.data) for e in found])

    # transactions ---------------------------------------------------------------------------------
    async def transactions(self, request: Request) -> Response:
        """``GET /api/transactions``: transactions, newest first (``?station=``)."""
        station = request.query_params.get("station")
        found = await self.store.list_transactions(station)
        return _json([transaction_view(tx) for tx in found])

    async def meter_values(self, request: Request) -> Response:
        """``GET /api/transactions/{id}/meter-values``: its samples in time order."""
        text = _path(request, "id")
        if not text.isdigit():
            return _error(400, "invalid transaction id", reason="an integer id is expected")
        samples = await self.store.meter_values(int(text))
        return _json([meter_value_view(s) for s in samples])

    # id tokens ------------------------------------------------------------------------------------
    async def list_tokens(self, request: Request) -> Response:
        """``GET /api/idtokens``: every id token."""
        return _json([token_view(t) for t in await self.store.list_tokens()])

    async def get_token(self, request: Request) -> Response:
        """``GET /api/idtokens/{token}``: one id token; 404."""
        token = _path(request, "token")
        record = await self.store.get_token(token)
        if record is None:
            return _error(404, "unknown id token", token=token)
        return _json(token_view(record))

    async def put_token(self, request: Request) -> Response:
        """``PUT /api/idtokens/{token}``: create (201) or replace (200) an id token."""
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
        stored = msgspec.structs.replace(record, expiry=utc_or_none(record.expiry))  # as kept
        return _json(token_view(stored), 200 if existed else 201)

    async def delete_token(self, request: Request) -> Response:
        """``DELETE /api/idtokens/{token}``: remove an id token (204); 404."""
        token = _path(request, "token")
        if not await self.store.delete_token(token):
            return _error(404, "unknown id token", token=token)
        return Response(status_code=204)

    # metrics and description ----------------------------------------------------------------------
    async def metrics_text(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text of the app's registry."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi(self, request: Request) -> Response:
        """``GET /openapi.json``: the OpenAPI 3.1 document."""
        return Response(openapi_bytes(), media_type="application/json")


async def _call_input(
    request: Request, request_type: type[Any], version: OcppVersion
) -> tuple[Any, float] | Response:
    """The validated request payload (the body; empty: ``{}``) and the ``timeout`` of a call
    route, or the 400 answer naming what is wrong."""
    timeout = _timeout(request.query_params.get("timeout"))
    if timeout is None:
        return _error(
            400,
            "invalid timeout",
            reason=f"timeout is a number of seconds > 0 and <= {MAX_CALL_TIMEOUT:g}",
        )
    body = await request.body()
    try:
        payload, _ = decode_payload(request_type, body if body.strip() else b"{}", "strict")
    except PayloadValidationError as exc:
        return _payload_error("invalid payload", exc, version, 400)
    return payload, timeout


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


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's ``HTTPException`` (unknown route, wrong method …) as an ``{"error"}`` body."""
    assert isinstance(exc, HTTPException)
    return Response(
        _encoder.encode({"error": exc.detail}),
        exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )
