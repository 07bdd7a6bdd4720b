"""``ocppkit logs STATION``: print a station's message log readably."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import click

from ocppkit.store import FrameRecord
from ocppkit.store.sqlite import SqliteStore

__all__ = ["logs"]

_ARROW = {"in": "<-", "out": "->"}


class _Cursor:
    """Where ``--follow`` is in a station's log: the newest timestamp shown, and how many frames
    with that timestamp were shown (more may be logged later with the same timestamp)."""

    def __init__(self) -> None:
        self.timestamp: datetime | None = None
        self.at_timestamp = 0

    def shown(self, frame: FrameRecord) -> None:
        if frame.timestamp == self.timestamp:
            self.at_timestamp += 1
        else:
            self.timestamp, self.at_timestamp = frame.timestamp, 1


async def _new_frames(store: SqliteStore, station: str, cursor: _Cursor) -> list[FrameRecord]:
    """The frames logged after those ``cursor`` has seen (up to 10,000), marked as seen. The log
    is ordered by (timestamp, arrival): frames at the cursor's timestamp are asked for again and
    the ones already shown skipped."""
    after = None if cursor.timestamp is None else cursor.timestamp - _ONE_US
    skip = cursor.at_timestamp
    new: list[FrameRecord] = []
    for frame in await store.frames(station, limit=10_000, after=after):
        if skip and frame.timestamp == cursor.timestamp:
            skip -= 1
            continue
        new.append(frame)
    for frame in new:
        cursor.shown(frame)
    return new


_ONE_US = timedelta(microseconds=1)  # the store keeps timestamps to the microsecond


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
            for frame in everything[-lines:] if lines else []:
                click.echo(_line(frame))
            if not follow:
                return
            cursor = _Cursor()
            for frame in everything:
                cursor.shown(frame)
            while True:
                await asyncio.sleep(interval)  # the log lives in another process: look again
                for frame in await _new_frames(store, station, cursor):
                    click.echo(_line(frame))

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends --follow quietly
        asyncio.run(main())
