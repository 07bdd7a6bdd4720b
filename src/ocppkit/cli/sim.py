"""``ocppkit sim`` (a fleet of simulated charge points against a CSMS) and ``ocppkit demo`` (the
reference CSMS and a small fleet in one process: the one-command first run)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ocppkit.sim.fleet import Fleet
from ocppkit.sim.scenario import Scenario, load_scenario
from ocppkit.sim.stats import FleetStats
from ocppkit.sim.view import summary_rows

__all__ = ["demo", "sim"]


def _scenario(path: str | None, speed: float | None) -> Scenario:
    try:
        return load_scenario(path, speed=speed)
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"scenario: {exc}") from None


def _print_summary(stats: FleetStats, fleet: Fleet) -> None:
    sim_time = fleet.time.now().strftime("%Y-%m-%d %H:%M") if fleet.time else ""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for label, value in summary_rows(stats, sim_time):
            click.echo(f"{label:36} {value}")
    else:
        table = Table(title="summary", show_header=False)
        for label, value in summary_rows(stats, sim_time):
            table.add_row(label, value)
        Console().print(table)
    for error in stats.errors[:10]:
        click.echo(f"error: {error}", err=True)


async def _run_fleet(fleet: Fleet, duration: float | None, *, live: bool, title: str) -> FleetStats:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, fleet.stop)
    if not live:
        return await fleet.run(duration)
    from ocppkit.sim.view import LiveView

    with LiveView(title) as view:
        return await fleet.run(duration, on_tick=view.update)


def _finish(stats: FleetStats, fleet: Fleet, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(stats.figures(), indent=2))
    else:
        _print_summary(stats, fleet)
    if stats.errors:
        sys.exit(1)


def _live_possible(quiet: bool) -> bool:
    if quiet or not sys.stdout.isatty():
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


_COMMON = [
    click.option("--stations", default=10, show_default=True, help="Simulated charge points."),
    click.option("--connectors", default=2, show_default=True, help="Connectors per station."),
    click.option("--seed", default=1, show_default=True, help="Same seed, same decisions."),
    click.option(
        "--scenario",
        "scenario_file",
        type=click.Path(exists=True, dir_okay=False),
        help="Scenario knobs (TOML; see ocppkit.sim.scenario).",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON at the end."),
    click.option("--quiet", is_flag=True, help="No live view."),
]


def _common(function: Any) -> Any:
    for option in reversed(_COMMON):
        function = option(function)
    return function


@click.command("sim")
@click.argument("url")
@_common
@click.option("--ocpp", type=click.Choice(["1.6"]), default="1.6", show_default=True)
@click.option("--duration", type=float, help="Real seconds to run (default: until Ctrl-C).")
@click.option("--speed", type=float, help="Simulated seconds per real second (scenario: 1).")
@click.option("--password", help="Basic-auth password of every station (profile 1/2).")
@click.option("--prefix", default="SIM", show_default=True, help="Identities PREFIX-0001 …")
@click.option(
    "--connect-rate",
    default=50.0,
    show_default=True,
    help="Stations connecting per second (0: all at once).",
)
def sim(
    url: str,
    stations: int,
    connectors: int,
    seed: int,
    scenario_file: str | None,
    as_json: bool,
    quiet: bool,
    ocpp: str,
    duration: float | None,
    speed: float | None,
    password: str | None,
    prefix: str,
    connect_rate: float,
) -> None:
    """Simulate STATIONS charge points (the real 1.6 stack each) against the CSMS at URL.

    \b
      $ ocppkit sim ws://127.0.0.1:9000 --stations 500 --speed 60 --duration 120
      $ ocppkit sim ws://csms.example/ocpp --stations 5000 --connect-rate 100 --json

    Identities are URL/PREFIX-0001 …; EVs arrive over the day, plug and swipe (some tokens
    unknown), charge with power tapering with state of charge, leave; faults and network drops
    happen. The tokens the CSMS should know are the scenario's (default SIM-0001 … SIM-0200).
    Exit status 1 when any protocol error occurred.
    """
    logging.basicConfig(level=logging.ERROR)
    fleet = Fleet(
        url,
        stations=stations,
        connectors=connectors,
        scenario=_scenario(scenario_file, speed),
        seed=seed,
        password=password,
        prefix=prefix,
        connect_rate=connect_rate,
    )
    title = f"ocppkit sim → {url}"
    stats = asyncio.run(_run_fleet(fleet, duration, live=_live_possible(quiet), title=title))
    _finish(stats, fleet, as_json)


@click.command("demo")
@_common
@click.option("--duration", type=float, help="Real seconds to run (default: until Ctrl-C).")
@click.option("--speed", type=float, default=60.0, show_default=True,
              help="Simulated seconds per real second.")  # fmt: skip
@click.option("--port", default=9000, show_default=True, help="OCPP port.")
@click.option("--api-port", default=8080, show_default=True, help="HTTP API port.")
@click.option(
    "--db", type=click.Path(dir_okay=False), help="SQLite file (default: a temporary one)."
)
def demo(
    stations: int,
    connectors: int,
    seed: int,
    scenario_file: str | None,
    as_json: bool,
    quiet: bool,
    duration: float | None,
    speed: float,
    port: int,
    api_port: int,
    db: str | None,
) -> None:
    """Run the reference CSMS and a simulated fleet in one process, with a live view.

    \b
      $ ocppkit demo                       # 10 stations, 60x time, until Ctrl-C
      $ ocppkit demo --stations 50 --duration 60

    While it runs, try the HTTP API it prints, e.g. list the stations or send one a command.
    """
    logging.basicConfig(level=logging.ERROR)
    from ocppkit.cli.csms import require_api

    require_api("the demo", "ocppkit[demo]")
    scenario = _scenario(scenario_file, speed)
    if scenario_file is None:  # a busy afternoon: something happens within a minute
        scenario = dataclasses.replace(scenario, sessions_per_day=96, dwell_minutes=(20, 90))
    with tempfile.TemporaryDirectory(prefix="ocppkit-demo-") as directory:
        path = db or str(Path(directory) / "demo.db")
        stats, fleet = asyncio.run(
            _demo(path, port, api_port, stations, connectors, seed, scenario, duration, quiet)
        )
    _finish(stats, fleet, as_json)


async def _demo(
    db: str,
    port: int,
    api_port: int,
    stations: int,
    connectors: int,
    seed: int,
    scenario: Scenario,
    duration: float | None,
    quiet: bool,
) -> tuple[FleetStats, Fleet]:
    from ocppkit.cli.csms import serving_csms
    from ocppkit.store import IdTokenRecord

    async with serving_csms(host="127.0.0.1", port=port, api_port=api_port, db=db) as csms:
        for token in scenario.tokens:
            await csms.store.put_token(IdTokenRecord(token=token))
        url = f"ws://127.0.0.1:{csms.server.port}"
        api = f"http://127.0.0.1:{api_port}/api"
        click.echo(f"CSMS on {url}/<identity>, database {db}")
        click.echo(f"HTTP API on {api} — try:")
        click.echo(f"  curl {api}/stations")
        click.echo(f"  curl {api}/transactions?station=SIM-0001")
        click.echo(f'  curl -X POST {api}/stations/SIM-0001/calls/Reset -d \'{{"type": "Soft"}}\'')
        fleet = Fleet(
            url,
            stations=stations,
            connectors=connectors,
            scenario=scenario,
            seed=seed,
            connect_rate=20.0,
        )
        title = f"ocppkit demo: {stations} stations, {scenario.speed:g}x time"
        stats = await _run_fleet(fleet, duration, live=_live_possible(quiet), title=title)
        return stats, fleet
