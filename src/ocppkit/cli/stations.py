"""``ocppkit stations``: manage the charge points a CSMS knows, and their passwords."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from ocppkit.csms.credentials import hash_password
from ocppkit.store import StationRecord
from ocppkit.store.sqlite import SqliteStore

__all__ = ["stations"]

T = TypeVar("T")

_DB = click.option(
    "--db",
    default="ocppkit.db",
    show_default=True,
    help="The CSMS database file.",
    type=click.Path(dir_okay=False),
)


def _with_store(db: str, work: Callable[[SqliteStore], Awaitable[T]]) -> T:
    async def main() -> T:
        async with SqliteStore(db) as store:
            return await work(store)

    return asyncio.run(main())


@click.group("stations")
def stations() -> None:
    """Manage the charge points the CSMS knows (security profiles 1 and 2: their passwords).

    \b
      $ ocppkit stations add CP-1 --password s3cret
      $ ocppkit stations list
      $ ocppkit stations remove CP-1
    """


@stations.command("add")
@click.argument("identity")
@click.option("--password", help="Basic-auth password (stored as a salted scrypt hash).")
@_DB
def add(identity: str, password: str | None, db: str) -> None:
    """Register IDENTITY (and its password)."""

    async def work(store: SqliteStore) -> None:
        if await store.get_station(identity) is None:
            await store.record_boot(StationRecord(id=identity))
        if password is not None:
            await store.set_password(identity, hash_password(password))

    _with_store(db, work)
    click.echo(f"added {identity}" + (" with a password" if password else ""))


@stations.command("list")
@_DB
def list_(db: str) -> None:
    """List the known stations."""

    async def work(store: SqliteStore) -> list[tuple[StationRecord, bool]]:
        return [
            (s, await store.get_password(s.id) is not None) for s in await store.list_stations()
        ]

    rows = _with_store(db, work)
    if not rows:
        click.echo("no stations")
        return
    click.echo(f"{'identity':<24} {'ocpp':<6} {'boot':<9} {'password':<8} last seen")
    for station, has_password in rows:
        seen = station.last_seen.isoformat(timespec="seconds") if station.last_seen else "-"
        click.echo(
            f"{station.id:<24} {station.ocpp_version or '-':<6} {station.boot_status or '-':<9} "
            f"{'yes' if has_password else 'no':<8} {seen}"
        )


@stations.command("remove")
@click.argument("identity")
@_DB
def remove(identity: str, db: str) -> None:
    """Forget IDENTITY and its password (its history stays)."""
    if not _with_store(db, lambda store: store.remove_station(identity)):
        raise click.ClickException(f"unknown station {identity!r}")
    click.echo(f"removed {identity}")
