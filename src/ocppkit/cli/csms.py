"""``ocppkit csms``: a working CSMS — OCPP server, SQLite store, HTTP API — in one command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import click

from ocppkit.csms.context import accept_all, known_only
from ocppkit.csms.credentials import store_auth
from ocppkit.csms.message_log import MessageLog
from ocppkit.csms.role import Csms
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.security import server_ssl_context
from ocppkit.store.sqlite import SqliteStore

__all__ = ["csms", "run_csms", "server_gc", "serving_csms"]

log = logging.getLogger("ocppkit.csms")

GC_YOUNG_THRESHOLD = 10_000
"""Net allocations between two young-generation collections under ``server_gc`` (Python: 700)."""


@contextlib.contextmanager
def server_gc() -> Iterator[None]:
    """Garbage-collector settings for a long-running CSMS, restored on exit.

    What start-up made (modules, schemas, routes) lives as long as the process: it is frozen out
    of the full collections, which would otherwise rescan it under load. And the young
    generation is collected after ``GC_YOUNG_THRESHOLD`` net allocations instead of 700: the
    CSMS keeps each call's objects (future, operation, record) until its batch is committed, so
    at 50 stations the count passed 700 on nearly every commit and each collection rescanned
    the calls in flight — 1.4 µs of CPU per call in collections, ~0.1 with this setting
    (benchmarks/RESULTS.md, session 10). Memory stays bounded: objects that only a collection
    can free (reference cycles) are still collected, after 10,000 instead of 700."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@contextlib.asynccontextmanager
async def serving_csms(
    *,
    host: str,
    port: int,
    api_port: int | None,
    db: str,
    security_profile: int = 0,
    certfile: str | None = None,
    keyfile: str | None = None,
    cafile: str | None = None,
    boot_policy: Literal["accept-all", "known-only"] = "accept-all",
    heartbeat_interval: int = 300,
    backend: Literal["websockets", "picows"] = "websockets",
    log_keep: int = 10_000,
    history_days: float = 0,
    certificate_authority: Any = None,
) -> AsyncIterator[Csms]:
    """The whole CSMS (OCPP server, SQLite store, message log, HTTP API) running while the
    ``async with`` block runs; shut down in order at its end."""
    if log_keep < 0:
        raise click.UsageError("--log-keep must be >= 0")
    if history_days < 0:
        raise click.UsageError("--history-days must be >= 0")
    store = SqliteStore(db)
    ssl_context = None
    if security_profile >= 2:
        if not certfile:
            raise click.UsageError(f"security profile {security_profile} needs --cert and --key")
        ssl_context = server_ssl_context(
            certfile, keyfile, cafile=cafile, require_client_cert=security_profile == 3
        )
    csms = Csms(
        store,
        versions=tuple(OcppVersion),
        boot_policy=known_only if boot_policy == "known-only" else accept_all,
        heartbeat_interval=heartbeat_interval,
        auth=store_auth(store) if security_profile in (1, 2) else None,
        security_profile=security_profile,
        message_log=MessageLog(store, keep=log_keep) if log_keep else False,
        certificate_authority=certificate_authority,
        history_days=history_days or None,
    )
    if api_port is not None:
        _check_free(host, api_port, "--api-port")
    try:
        await csms.start(host, port, ssl=ssl_context, backend=backend)
    except OSError as exc:  # Csms.start closed what it had opened
        raise click.ClickException(f"{exc} (choose another --port)") from None
    scheme = "wss" if ssl_context else "ws"
    log.info(
        "OCPP on %s://%s:%d/<identity> (1.6, 2.0.1, 2.1), database %s",
        scheme,
        host,
        csms.server.port,
        db,
    )
    web: Any = None
    web_task: asyncio.Task[None] | None = None
    try:
        if api_port is not None:
            web = _api_server(csms, host, api_port)
            web_task = asyncio.create_task(web.serve())
            log.info(
                "HTTP API on http://%s:%d/api (OpenAPI: /openapi.json, metrics: /metrics)",
                host,
                api_port,
            )
        yield csms
    finally:
        log.info("shutting down")
        if web is not None and web_task is not None:
            web.should_exit = True
            await web_task
        await csms.close()


async def run_csms(
    *,
    stop: asyncio.Event | None = None,
    **options: Any,
) -> None:
    """Run the CSMS until ``stop`` is set (or SIGINT / SIGTERM), then shut down cleanly.

    ``options`` are ``serving_csms``'s: every frame goes to the message log in ``db``,
    ``log_keep`` frames kept per station (0: no message log), status reports and events kept
    ``history_days`` (0: for ever), with or without the HTTP API;
    ``certificate_authority`` (a ``CertificateAuthority``) signs the stations' certificate
    requests."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    async with serving_csms(**options):
        with server_gc():
            await stop.wait()


def pin_to_cpu(cpu: int) -> None:
    """Run this process's threads, and those it starts later, on ``cpu`` only (Linux).

    For ``ocppkit csms --cpu``: the SQLite writer and reader threads then hand the GIL to the
    event loop and back on one core instead of across two (measured in benchmarks/RESULTS.md);
    the event loop can use one core at most anyway."""
    setaffinity = getattr(os, "sched_setaffinity", None)
    if setaffinity is None:
        raise click.ClickException("--cpu needs os.sched_setaffinity (Linux)")
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        choices = ", ".join(map(str, sorted(allowed)))
        raise click.BadParameter(
            f"CPU {cpu} is not one this process may run on ({choices})", param_hint="--cpu"
        )
    for task in os.listdir("/proc/self/task"):  # threads started since (none, usually)
        setaffinity(int(task), {cpu})


def _check_free(host: str, port: int, option: str) -> None:
    """Fail early and readably when ``port`` is taken (uvicorn would exit from its task)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"{host}:{port} is not free: {exc} (choose another {option})"
            ) from None


def load_authority(
    cert: str | None, key: str | None, *, dev: bool, db: str
) -> Any:  # CertificateAuthority | None (cryptography is optional)
    """The CA that signs stations' CSRs: ``cert``/``key`` files, or with ``dev`` a development
    CA kept next to the database (``DB.ca.pem`` / ``DB.ca.key``, made on first use)."""
    if not (cert or key or dev):
        return None
    try:
        from ocppkit.certificates import CertificateAuthority
    except ImportError:
        raise click.UsageError(
            "signing certificates needs: pip install ocppkit[security]"
        ) from None
    if dev:
        if cert or key:
            raise click.UsageError("--dev-ca or --sign-ca-cert/--sign-ca-key, not both")
        cert, key = f"{db}.ca.pem", f"{db}.ca.key"
        if not (Path(cert).exists() and Path(key).exists()):
            authority = CertificateAuthority.create("ocppkit development CA")
            Path(cert).write_text(authority.certificate_pem)
            Path(key).write_text(authority.key_pem())
            Path(key).chmod(0o600)
            log.info("development CA made: %s (install it on charge points as their root)", cert)
    if not (cert and key):
        raise click.UsageError("--sign-ca-cert and --sign-ca-key go together")
    return CertificateAuthority.load(Path(cert).read_text(), Path(key).read_text())


API_MODULES = ("uvicorn", "starlette", "prometheus_client")
"""What the HTTP API imports (the ``csms`` extra)."""


def require_api(what: str, extra: str, alternative: str = "") -> None:
    """A usage error naming the extra to install when the HTTP API's libraries are missing."""
    missing = [m for m in API_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        hint = f'pip install "{extra}"' + (f" ({alternative})" if alternative else "")
        raise click.UsageError(f"{what} needs {', '.join(missing)}: {hint}")


def _api_server(csms: Csms, host: str, port: int) -> Any:
    """A uvicorn server for the HTTP API that leaves signal handling to us."""
    import uvicorn

    from ocppkit.api import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # ``run_csms`` owns SIGINT / SIGTERM and shuts everything down in order

    config = uvicorn.Config(
        create_app(csms), host=host, port=port, log_level="warning", lifespan="on"
    )
    return Server(config)


@click.command("csms")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, help="OCPP websocket port.")
@click.option("--api-port", default=8080, show_default=True, help="HTTP API port.")
@click.option("--no-api", is_flag=True, help="Do not serve the HTTP API.")
@click.option(
    "--db",
    default="ocppkit.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file.",
)
@click.option(
    "--security-profile",
    type=click.IntRange(0, 3),
    default=0,
    show_default=True,
    help="1: Basic auth; 2: Basic auth over TLS; 3: mutual TLS (needs --cert/--key/--ca).",
)
@click.option(
    "--cert",
    "certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Server certificate (PEM).",
)
@click.option(
    "--key",
    "keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Server private key (PEM).",
)
@click.option(
    "--ca",
    "cafile",
    type=click.Path(exists=True, dir_okay=False),
    help="CA of client certificates.",
)
@click.option(
    "--boot-policy",
    type=click.Choice(["accept-all", "known-only"]),
    default="accept-all",
    show_default=True,
    help="known-only accepts the stations added with `ocppkit stations add`.",
)
@click.option(
    "--heartbeat-interval", default=300, show_default=True, help="Seconds, sent in boot replies."
)
@click.option(
    "--backend",
    type=click.Choice(["websockets", "picows"]),
    default="websockets",
    show_default=True,
)
@click.option(
    "--sign-ca-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="CA certificate (PEM) that signs the stations' SignCertificate CSRs.",
)
@click.option(
    "--sign-ca-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Private key (PEM, unencrypted) of --sign-ca-cert.",
)
@click.option(
    "--dev-ca",
    is_flag=True,
    help="Sign CSRs with a development CA kept next to --db (made on first use).",
)
@click.option(
    "--log-keep",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Frames of the message log kept per station (0: no message log).",
)
@click.option(
    "--history-days",
    type=click.FloatRange(min=0),
    default=90,
    show_default=True,
    help="Days status reports and events are kept after they were received, pruned hourly "
    "(0: for ever; transactions and their meter values are always kept).",
)
@click.option(
    "--cpu",
    type=click.IntRange(min=0),
    default=None,
    help="Run on this CPU only (Linux): the event loop and the database threads share one "
    "core, which costs less CPU per message than GIL hand-offs between cores.",
)
def csms(
    host: str,
    port: int,
    api_port: int,
    no_api: bool,
    db: str,
    security_profile: int,
    certfile: str | None,
    keyfile: str | None,
    cafile: str | None,
    boot_policy: Literal["accept-all", "known-only"],
    heartbeat_interval: int,
    backend: Literal["websockets", "picows"],
    sign_ca_cert: str | None,
    sign_ca_key: str | None,
    dev_ca: bool,
    log_keep: int,
    history_days: float,
    cpu: int | None,
) -> None:
    """Run a CSMS: every OCPP version on one port, stored in SQLite, with an HTTP API.

    \b
      $ ocppkit csms                                   # ws://127.0.0.1:9000/<identity>
      $ ocppkit stations add CP-1 --password s3cret && ocppkit csms --security-profile 1
      $ curl localhost:8080/api/stations
      $ curl -X POST localhost:8080/api/stations/CP-1/calls/Reset -d '{"type": "Soft"}'

    Every frame in and out goes to the message log (`ocppkit logs CP-1`), the newest
    --log-keep frames kept per station; status reports and events are kept --history-days
    days (transactions for ever). Stops cleanly on Ctrl-C / SIGTERM: running calls
    finish, the message log and the database are flushed.
    """
    if not no_api:
        require_api("the HTTP API", "ocppkit[csms]", "or --no-api")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("websockets", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    authority = load_authority(sign_ca_cert, sign_ca_key, dev=dev_ca, db=db)
    if cpu is not None:
        pin_to_cpu(cpu)
    asyncio.run(
        run_csms(
            host=host,
            port=port,
            api_port=None if no_api else api_port,
            db=db,
            security_profile=security_profile,
            certfile=certfile,
            keyfile=keyfile,
            cafile=cafile,
            boot_policy=boot_policy,
            heartbeat_interval=heartbeat_interval,
            backend=backend,
            log_keep=log_keep,
            history_days=history_days,
            certificate_authority=authority,
        )
    )
