"""The API's route table (method, path, handler, limits) and its OpenAPI 3.1 description.

``create_app`` builds its Starlette routes from ``routes()``; ``GET /openapi.json`` serves
``openapi_bytes()``, the same table with the records of ``ocppkit.api.views`` as its schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec

from ocppkit.api.views import (
    AUTHORIZATION_STATUSES,
    ErrorBody,
    EventView,
    FrameView,
    IdTokenInput,
    IdTokenView,
    MeterValueView,
    PayloadErrorBody,
    StationCallErrorBody,
    StationDetail,
    StationView,
    StatusView,
    TransactionView,
)
from ocppkit.iso15118 import TO_STATION
from ocppkit.messages import actions
from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "MAX_CALL_TIMEOUT",
    "MAX_EVENTS",
    "MAX_MESSAGES",
    "Op",
    "openapi_bytes",
    "openapi_document",
    "routes",
]

DEFAULT_CALL_TIMEOUT = 30.0
"""Seconds ``POST …/calls/{action}`` waits for the reply unless ``?timeout=`` says otherwise."""
MAX_CALL_TIMEOUT = 3600.0
"""The largest ``?timeout=`` of ``POST …/calls/{action}``."""
MAX_MESSAGES = 1000
"""The largest ``limit`` of ``GET /api/stations/{id}/messages``."""
MAX_EVENTS = 1000
"""The largest ``limit`` of ``GET /api/stations/{id}/events``."""

_SCHEMA_TYPES: tuple[type[msgspec.Struct], ...] = (
    StationView,
    StatusView,
    StationDetail,
    TransactionView,
    MeterValueView,
    IdTokenView,
    IdTokenInput,
    FrameView,
    EventView,
    ErrorBody,
    PayloadErrorBody,
    StationCallErrorBody,
)


# -- the route table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One route: method, path (Starlette and OpenAPI share the ``{name}`` syntax), handler
    name on ``ocppkit.api.handlers.Api``, and its OpenAPI operation object."""

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
_TIMEOUT = {
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
}


def _call_responses(
    *,
    ok: str,
    bad_request: str,
    not_found: str,
    bad_gateway: str,
    bad_gateway_bodies: list[dict[str, Any]],
) -> dict[str, Any]:
    """The responses of a route that sends a CALL to a station and answers its reply."""
    return {
        "200": _answer(ok, {"type": "object"}),
        "400": _answer(bad_request, {"anyOf": [_ref("PayloadErrorBody"), _ERROR]}),
        "404": _answer(not_found, _ERROR),
        "409": _answer("Not connected, or the connection closed before the reply", _ERROR),
        "502": _answer(bad_gateway, {"anyOf": bad_gateway_bodies}),
        "504": _answer("No reply before the timeout", _ERROR),
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


def routes() -> tuple[Op, ...]:
    """Every route of the API, in the order ``GET /openapi.json`` lists them."""
    return (
        Op(
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
        Op(
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
        Op(
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
                    _TIMEOUT,
                ],
                "requestBody": {
                    "required": False,
                    "description": "The request payload (OCPP JSON, wire names)",
                    "content": _content({"type": "object"}),
                },
                "responses": _call_responses(
                    ok="The CALLRESULT payload",
                    bad_request=(
                        "An action a charge point sends, a bad timeout, or an invalid payload"
                    ),
                    not_found="No such action in the station's OCPP version",
                    bad_gateway="The station answered a CALLERROR, or an invalid CALLRESULT",
                    bad_gateway_bodies=[_ref("StationCallErrorBody"), _ref("PayloadErrorBody")],
                ),
            },
        ),
        Op(
            "POST",
            "/api/stations/{id}/pnc/{action}",
            "pnc",
            {
                "operationId": "plugAndChargeCall",
                "summary": "Send a Plug & Charge message to a 1.6 station (2.0.1 in DataTransfer)",
                "description": (
                    "ISO 15118 Plug & Charge over OCPP 1.6: the body is the OCPP 2.0.1 request "
                    "payload of the action (validated against its 2.0.1 schema), carried in a "
                    "DataTransfer with vendorId `org.openchargealliance.iso15118pnc`; the answer "
                    "is the station's 2.0.1 response payload."
                ),
                "tags": ["stations"],
                "parameters": [
                    _STATION_ID,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "description": "A Plug & Charge action the CSMS sends",
                        "schema": {"type": "string", "enum": sorted(TO_STATION)},
                    },
                    _TIMEOUT,
                ],
                "requestBody": {
                    "required": False,
                    "description": "The OCPP 2.0.1 request payload (wire names)",
                    "content": _content({"type": "object"}),
                },
                "responses": _call_responses(
                    ok="The 2.0.1 response payload",
                    bad_request="Not a 1.6 station, a bad timeout, or an invalid payload",
                    not_found="Not a Plug & Charge action the CSMS sends",
                    bad_gateway=(
                        "The station answered a CALLERROR, an invalid DataTransfer answer, or no"
                        " valid 2.0.1 response in it"
                    ),
                    bad_gateway_bodies=[
                        _ref("StationCallErrorBody"),
                        _ref("PayloadErrorBody"),
                        _ERROR,
                    ],
                ),
            },
        ),
        Op(
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
        Op(
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
        Op(
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
        Op(
            "GET",
            "/api/transactions/{id}/meter-values",
            "meter_values",
            {
                "operationId": "listTransactionMeterValues",
                "summary": "A transaction's sampled values, in time order (none for an unknown id)",
                "tags": ["transactions"],
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The transaction's ``id`` (not its OCPP id)",
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": _answer("The sampled values", _list_of("MeterValueView")),
                    "400": _answer("An id that is not an integer", _ERROR),
                },
            },
        ),
        Op(
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
        Op(
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
        Op(
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
        Op(
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
        Op(
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
        Op(
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
    document: dict[str, Any] = msgspec.json.decode(openapi_bytes())
    return document


@cache
def openapi_bytes() -> bytes:
    """The OpenAPI 3.1 document of the API, encoded once."""
    _, components = msgspec.json.schema_components(
        _SCHEMA_TYPES, ref_template="#/components/schemas/{name}"
    )
    status = components["IdTokenInput"]["properties"]["status"]
    status["enum"] = list(AUTHORIZATION_STATUSES)
    paths: dict[str, dict[str, Any]] = {}
    for op in routes():
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
    return msgspec.json.encode(document)
