"""The terminal view of a fleet: a live table while it runs (rich), a summary at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocppkit.sim.stats import FleetStats

if TYPE_CHECKING:
    from ocppkit.sim.fleet import Fleet

__all__ = ["LiveView", "summary_rows"]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def summary_rows(stats: FleetStats, sim_time: str = "") -> list[tuple[str, str]]:
    """The figures as (label, value) rows."""
    figures = stats.figures()
    rows = [
        (
            "stations connected / started",
            f"{stats.connected} / {stats.started} of {stats.stations}",
        ),
        ("booting (connected, not accepted)", str(stats.connected - stats.accepted)),
        ("faulted connectors", str(stats.faulted)),
        ("active transactions", str(stats.active)),
        ("sessions / refused tokens", f"{stats.sessions} / {stats.refused}"),
        (
            "transactions started / stopped",
            f"{figures['transactions_started']} / {figures['transactions_stopped']}",
        ),
        ("energy delivered", f"{figures['energy_kwh']:.1f} kWh"),
        ("network drops", str(stats.drops)),
        (
            "CALL latency p50 / p99",
            f"{_ms(figures['call_latency_ms_p50'])} / {_ms(figures['call_latency_ms_p99'])}",
        ),
        ("errors", str(len(stats.errors))),
    ]
    if sim_time:
        rows.insert(0, ("simulated time", sim_time))
    return rows


class LiveView:
    """A rich ``Live`` table refreshed by ``Fleet.run``'s ``on_tick``."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self.title = title
        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=2, transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def update(self, fleet: Fleet) -> None:
        """Render the fleet now."""
        from rich.table import Table

        table = Table(title=self.title, show_header=False, expand=False)
        table.add_column(style="bold")
        table.add_column(justify="right")
        sim_time = fleet.time.now().strftime("%Y-%m-%d %H:%M") if fleet.time else ""
        rows = summary_rows(fleet.stats, sim_time)
        rows.insert(-2, ("messages per second", f"{fleet.stats.frames_per_second():.0f}"))
        for label, value in rows:
            table.add_row(label, value)
        self.live.update(table)
