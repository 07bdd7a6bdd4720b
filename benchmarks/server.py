"""ocppkit as a benchmark CSMS for the shared harness (``/work/shared/bench``).

The server the harness measures (see ``benchmarks/RESULTS.md``, "Runtime server"): one
``OcppServer`` on ``127.0.0.1:PORT`` serving OCPP 1.6, 2.0.1 and 2.1 on one endpoint
(``ws://127.0.0.1:PORT/<chargePointId>``), answering what the harness's load generator sends, as
the reference servers in ``/work/shared/bench/servers`` do:

- ``BootNotification`` -> ``Accepted``, interval 300, the current time;
- ``Heartbeat`` -> the current time;
- ``StatusNotification``, ``MeterValues`` -> the empty response.

Every other action is answered ``NotSupported``. Validation is the library default: strict in
both directions (every request is checked against its schema, and so is every response before it
is sent). Logging stays at WARNING (no per-message log lines). SIGTERM or SIGINT closes the
server (connections get a 1001 close frame) and the process exits 0.

Run::

    python benchmarks/server.py --port 9000                     # every version
    python benchmarks/server.py --port 9000 --proto ocpp1.6     # 1.6 only
    python benchmarks/server.py --port 9000 --validation off    # how much validation costs
    python benchmarks/server.py --port 9000 --async-handlers    # a task per CALL

With the harness (from ``/work/shared/bench``, in its venv with ``pip install -e <repo>``)::

    python bench.py run --name ocppkit --conns 1,50,500 --reps 3 --duration 6 \\
        --out results.jsonl -- python <repo>/benchmarks/server.py --port {port}
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from ocppkit.messages import v16, v21, v201
from ocppkit.protocol import OcppVersion, ValidationPolicy
from ocppkit.protocol.codec import Mode
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.server import OcppServer

_PACKAGES: dict[OcppVersion, Any] = {
    OcppVersion.V16: v16,
    OcppVersion.V201: v201,
    OcppVersion.V21: v21,
}


def _now() -> datetime:
    return datetime.now(UTC)


def make_router(version: OcppVersion, *, async_handlers: bool = False) -> Router:
    """The four handlers the load generator needs, for one version.

    They do no I/O, so by default they are plain functions, answered inline; with
    ``async_handlers`` they are coroutines, each CALL in a task of its own.
    """
    pkg = _PACKAGES[version]
    router = Router(version)
    status_ok = pkg.StatusNotificationResponse()
    meter_ok = pkg.MeterValuesResponse()

    def boot(request: Any, conn: OcppConnection) -> Any:
        return pkg.BootNotificationResponse(status="Accepted", current_time=_now(), interval=300)

    def heartbeat(request: Any, conn: OcppConnection) -> Any:
        return pkg.HeartbeatResponse(current_time=_now())

    def status_notification(request: Any, conn: OcppConnection) -> Any:
        return status_ok

    def meter_values(request: Any, conn: OcppConnection) -> Any:
        return meter_ok

    for request_type, handler in (
        (pkg.BootNotificationRequest, boot),
        (pkg.HeartbeatRequest, heartbeat),
        (pkg.StatusNotificationRequest, status_notification),
        (pkg.MeterValuesRequest, meter_values),
    ):
        router.add(request_type, _as_coroutine(handler) if async_handlers else handler)
    return router


def _as_coroutine(handler: Any) -> Any:
    async def wrapper(request: Any, conn: OcppConnection) -> Any:
        return handler(request, conn)

    return wrapper


async def serve(
    host: str,
    port: int,
    versions: Sequence[OcppVersion],
    validation: Mode,
    async_handlers: bool = False,
    backend: Literal["websockets", "picows"] = "websockets",
) -> None:
    """Serve until SIGTERM or SIGINT, then close the server."""
    server = OcppServer(
        {version: make_router(version, async_handlers=async_handlers) for version in versions},
        validation=ValidationPolicy(incoming=validation, outgoing=validation),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start(host, port, backend=backend)
    try:
        await stop.wait()
    finally:
        await server.close(grace=1.0)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=9000, help="TCP port (default 9000)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument(
        "--proto",
        action="append",
        choices=[v.subprotocol for v in OcppVersion],
        help="serve only this subprotocol (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--validation",
        choices=["strict", "lenient", "off"],
        default="strict",
        help="payload validation, both directions (default strict)",
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (if installed)")
    parser.add_argument(
        "--backend",
        choices=["websockets", "picows"],
        default="websockets",
        help="websocket implementation of the server (default websockets)",
    )
    parser.add_argument(
        "--async-handlers",
        action="store_true",
        help="coroutine handlers (a task per CALL) instead of plain functions",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    versions = [OcppVersion.from_subprotocol(p) for p in args.proto or []] or list(OcppVersion)
    coro = serve(args.host, args.port, versions, args.validation, args.async_handlers, args.backend)
    if args.uvloop:
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        uvloop.run(coro)
    else:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
