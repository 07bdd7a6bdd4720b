"""``ocppkit cp``: one charge point on the stack, a simulated charger behind it, driven from stdin.

::

    $ ocppkit cp ws://127.0.0.1:9000/CP-1 --connectors 2
    > plug 1
    > swipe 04A2B3C4
    > meter 1 2500
    > unplug 1
    > quit

Commands (one per line; ``#`` starts a comment): ``plug N``, ``unplug N``, ``swipe TOKEN [N]``,
``fault N CODE``, ``clear N``, ``meter N WH``, ``wait SECONDS``, ``status``, ``quit``. Every
status change, transaction, CSMS request and boot answer is printed as one line. At ``quit`` (or
end of input) queued transaction messages get ``--drain`` seconds to reach the CSMS; whatever is
left stays in the database for the next start.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, get_args

import click
import msgspec

from ocppkit.chargepoint.asyncio_runtime import (
    AsyncioRuntime,
    ClientLink,
    connected_charge_point,
    wait_accepted,
    wait_delivered,
)
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks, TransactionInfo
from ocppkit.chargepoint.v16.connectors import ConnectorError
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.cli._tls import client_tls
from ocppkit.messages import v16
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import OcppClient, ReconnectPolicy
from ocppkit.runtime.router import Handler, Router

__all__ = ["cp", "run_cp"]

_ERROR_CODES = frozenset(get_args(v16.ChargePointErrorCode))


def say(text: str) -> None:
    """One line of output, flushed (the command is often piped)."""
    click.echo(text)
    sys.stdout.flush()


class SimulatedCharger(ChargerCallbacks):
    """A charger without hardware: prints what the stack asks of it."""

    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        say(f"connector {connector_id}: energy {'on' if allowed else 'off'}")

    async def set_enabled(self, connector_id: int, enabled: bool) -> None:
        say(f"connector {connector_id}: {'enabled' if enabled else 'disabled'}")

    async def unlock(self, connector_id: int) -> bool | None:
        say(f"connector {connector_id}: unlocked")
        return True

    async def reset(self, kind: v16.ResetType) -> None:
        say(f"{kind} reset requested (simulated: nothing reboots)")

    def status_changed(
        self, connector_id: int, status: v16.ChargePointStatus, error_code: str
    ) -> None:
        error = "" if error_code == "NoError" else f" ({error_code})"
        say(f"connector {connector_id}: {status}{error}")

    def boot_answered(self, status: v16.RegistrationStatus, interval: int) -> None:
        say(f"boot {status} (interval {interval} s)")

    def connection_changed(self, connected: bool) -> None:
        say("connected" if connected else "disconnected")

    def configuration_changed(self, key: str, value: str) -> None:
        say(f"configuration {key} = {value}")

    def transaction_started(self, tx: TransactionInfo) -> None:
        say(
            f"connector {tx.connector_id}: transaction started by {tx.id_tag},"
            f" meter {tx.meter_start_wh} Wh"
        )

    def transaction_updated(self, tx: TransactionInfo) -> None:
        say(f"connector {tx.connector_id}: transaction id {tx.transaction_id}")

    def transaction_stopped(self, tx: TransactionInfo) -> None:
        energy = (tx.meter_stop_wh or 0) - tx.meter_start_wh
        say(f"connector {tx.connector_id}: transaction stopped ({tx.reason}), {energy} Wh")


async def _command(cp: ChargePoint16, line: str) -> bool:
    """Run one command line; False to quit. Raises ``click.UsageError`` for a bad line."""
    words = line.split("#", 1)[0].split()
    if not words:
        return True
    name, args = words[0].lower(), words[1:]

    def number(i: int) -> int:
        try:
            return int(args[i])
        except (IndexError, ValueError):
            raise click.UsageError(f"{name}: argument {i + 1} must be a number") from None

    try:
        if name in ("quit", "exit"):
            return False
        if name == "plug":
            await cp.plug_in(number(0))
        elif name == "unplug":
            await cp.plug_out(number(0))
        elif name == "swipe":
            if not args:
                raise click.UsageError("swipe TOKEN [CONNECTOR]")
            connector = number(1) if len(args) > 1 else None
            accepted = await cp.present_token(args[0], connector)
            say(f"token {args[0]}: {'accepted' if accepted else 'refused'}")
        elif name == "fault":
            code = args[1] if len(args) > 1 else ""
            if code not in _ERROR_CODES:
                codes = ", ".join(sorted(_ERROR_CODES))
                raise click.UsageError(f"fault N CODE, CODE one of {codes}")
            cp.raise_error(number(0), ConnectorError(code))  # type: ignore[arg-type]
        elif name == "clear":
            cp.clear_error(number(0))
        elif name == "meter":
            cp.meter(number(0), [Reading(float(number(1)))])
        elif name == "wait":
            try:
                await asyncio.sleep(float(args[0]))
            except (IndexError, ValueError):
                raise click.UsageError("wait SECONDS") from None
        elif name == "status":
            _status(cp)
        else:
            raise click.UsageError(f"unknown command {name!r}")
    except ValueError as exc:  # a connector that does not exist …
        raise click.UsageError(str(exc)) from None
    return True


def _status(cp: ChargePoint16) -> None:
    ctx = cp.context
    say(
        f"{'online' if ctx.link.connected else 'offline'}, boot "
        f"{cp.boot.status or 'not answered'}, {len(cp.outbox)} message(s) queued"
    )
    for n in range(cp.connector_count + 1):
        current = cp.connectors.current(n)
        record = cp.transactions.open.get(n)
        tx = f", transaction by {record['idTag']}" if record else ""
        error = "" if current.error_code == "NoError" else f" ({current.error_code})"
        say(f"  connector {n}: {current.status}{error}{tx}")


async def run_cp(
    url: str,
    *,
    connectors: int,
    db: str,
    password: str | None = None,
    cacert: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    drain: float = 10.0,
    boot_wait: float = 10.0,
    lines: Any = None,
) -> None:
    """Run the charge point, reading commands from ``lines`` (an async iterator; stdin when
    None), until ``quit`` or the end of input. Commands wait up to ``boot_wait`` seconds for
    the CSMS to accept the boot (then they run offline)."""
    client = OcppClient(
        url,
        versions=[OcppVersion.V16],
        password=password,
        ssl=client_tls(url.startswith("wss://"), cacert, certfile, keyfile),
        reconnect=ReconnectPolicy(wait_minimum=2, random_range=2, repeat_times=4),
    )
    runtime = AsyncioRuntime()
    cp = ChargePoint16(
        store=SqliteStateStore(db),
        link=ClientLink(client),
        clock=runtime,
        scheduler=runtime,
        vendor="ocppkit",
        model="ocppkit cp",
        connectors=connectors,
        callbacks=SimulatedCharger(),
    )
    async with connected_charge_point(cp, client, frames=db + ".frames.log"):
        _print_requests(cp.router)
        if not await wait_accepted(cp, boot_wait):
            say(f"no accepted boot within {boot_wait:g} s: running offline")
        async for line in lines if lines is not None else _stdin_lines():
            try:
                if not await _command(cp, line):
                    break
            except click.UsageError as exc:
                say(f"error: {exc.message}")
        if len(cp.outbox) and drain > 0:
            say(f"delivering {len(cp.outbox)} queued message(s)…")
            if not await wait_delivered(cp, drain):
                say(f"{len(cp.outbox)} message(s) stay queued in {db} for the next start")


async def _stdin_lines() -> Any:
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        yield line


def _print_requests(router: Router) -> None:
    """Print each CALL the CSMS sends, before its handler runs."""
    for action in router.actions:
        route = router.route(action)
        assert route is not None
        route.handler = _printing(action, route.handler, route.is_async)


def _printing(action: str, handler: Handler, is_async: bool) -> Handler:
    def show(request: Any) -> None:
        payload = json.dumps(msgspec.to_builtins(request), separators=(",", ":"))
        say(f"CSMS asks {action} {payload}")

    if is_async:

        async def async_handler(request: Any, conn: Any) -> Any:
            show(request)
            return await handler(request, conn)

        return async_handler

    def plain_handler(request: Any, conn: Any) -> Any:
        show(request)
        return handler(request, conn)

    return plain_handler


@click.command("cp")
@click.argument("url")
@click.option("--ocpp", type=click.Choice(["1.6"]), default="1.6", show_default=True)
@click.option("--connectors", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option(
    "--db",
    default="ocppkit-cp.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file of the charge point's state (frames go to FILE.frames.log).",
)
@click.option("--password", help="Basic-auth password (security profiles 1 and 2).")
@click.option("--cacert", type=click.Path(exists=True), help="CA file for wss://.")
@click.option("--cert", "certfile", type=click.Path(exists=True), help="Client certificate.")
@click.option("--key", "keyfile", type=click.Path(exists=True), help="Client key.")
@click.option(
    "--boot-wait",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds commands wait for an accepted boot.",
)
@click.option(
    "--drain",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to deliver queued messages at quit.",
)
def cp(
    url: str,
    ocpp: str,
    connectors: int,
    db: str,
    password: str | None,
    cacert: str | None,
    certfile: str | None,
    keyfile: str | None,
    boot_wait: float,
    drain: float,
) -> None:
    """Run one charge point against the CSMS at URL, driven by commands on stdin."""
    asyncio.run(
        run_cp(
            url,
            connectors=connectors,
            db=db,
            password=password,
            cacert=cacert,
            certfile=certfile,
            keyfile=keyfile,
            drain=drain,
            boot_wait=boot_wait,
        )
    )
