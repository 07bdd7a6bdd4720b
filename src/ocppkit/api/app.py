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
POST     /api/stations/{id}/pnc/{action}           a Plug & Charge message to a 1.6 station
GET      /api/stations/{id}/messages               the message log (``limit``, ``after``)
GET      /api/stations/{id}/events                 the event log, newest first (``kind``, ``limit``)
GET      /api/transactions                         transactions, newest first (``station``)
GET      /api/transactions/{id}/meter-values       a transaction's samples, in time order
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
and outcome (``result`` / ``error``): see ``ocppkit.api.metrics`` for the metrics.

The app is assembled from ``views`` (the records), ``handlers`` (the endpoints), ``openapi``
(the route table and its description) and ``metrics`` of this package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocppkit.api.handlers import Api, http_error
from ocppkit.api.metrics import LiveCollector, Metrics, install_taps
from ocppkit.api.openapi import openapi_document, routes
from ocppkit.csms.role import Csms

__all__ = ["create_app", "openapi_document"]


def create_app(csms: Csms) -> Starlette:
    """The HTTP API of ``csms`` as a Starlette app (routes: see the module docstring).

    Installs the call counters on ``csms.server``; the message log it serves is
    ``csms.message_log`` (configure its retention there: ``Csms(store,
    message_log=MessageLog(store, keep=...))``). Serve the app with any ASGI server; the CSMS's
    own ``close()`` writes what the message log still holds.
    """
    registry = CollectorRegistry(auto_describe=True)
    metrics = Metrics(registry)
    registry.register(LiveCollector(csms))
    install_taps(csms, metrics)
    api = Api(csms, registry, metrics)
    table = [
        Route(
            op.path,
            _endpoint(api, op.handler),
            methods=[op.method],
            name=op.operation["operationId"],
        )
        for op in routes()
    ]
    app = Starlette(routes=table, exception_handlers={HTTPException: http_error})
    app.state.csms = csms
    app.state.registry = registry
    return app


def _endpoint(api: Api, name: str) -> Callable[[Request], Awaitable[Response]]:
    """The bound coroutine ``api.<name>`` of a route."""
    handler: Callable[[Request], Awaitable[Response]] = getattr(api, name)
    return handler
