"""``ocppkit logs STATION``: print a station's message log readably."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import click

from ocppkit.store import FrameRecord
from ocppkit.store.sqlite import SqliteStore

__all__ = ["logs"]

_ARROW = {"in": "<-", "out": "->"}


def _line(frame: FrameRecord) -> str:
    when = frame.timestamp.isoformat(timespec="milliseconds")
    return f"{when} {_ARROW[frame.direction]} {frame.frame}"


@click.command("logs")
@click.argument("station")
@click.option(
    "--db",
    default="ocppkit.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The CSMS database.",
)
@click.option(
    "-n",
    "--lines",
    default=100,
    show_default=True,
    help="How many of the latest frames to show first.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new frames as they are logged.")
@click.option(
    "--interval", default=0.5, show_default=True, help="Seconds between looks with --follow."
)
def logs(station: str, db: str, lines: int, follow: bool, interval: float) -> None:
    """Print STATION's frames: time, direction (<- from the station, -> to it), the frame.

    \b
      $ ocppkit logs CP-1 -n 20
      2025-03-04T05:06:07.123+00:00 <- [2,"1","Heartbeat",{}]
      2025-03-04T05:06:07.125+00:00 -> [3,"1",{"currentTime":"2025-03-04T05:06:07.124Z"}]
    """

    async def main() -> None:
        async with SqliteStore(db) as store:
            everything = await store.frames(station, limit=10**9)
            shown = everything[-lines:] if lines else []
            for frame in shown:
                click.echo(_line(frame))
            last: datetime | None = everything[-1].timestamp if everything else None
            while follow:
                await asyncio.sleep(interval)  # the log lives in another process: look again
                for frame in await store.frames(station, limit=10_000, after=last):
                    click.echo(_line(frame))
                    last = frame.timestamp

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends --follow quietly
        asyncio.run(main())
