"""The ``ocppkit`` command line.

``ocppkit`` is a click group; each command lives in its own module of this package and is
imported only when it runs (so ``ocppkit check`` never imports what a server command needs).
To add a command, write ``ocppkit/cli/<name>.py`` defining a click command and list it in
``_COMMANDS``::

    $ ocppkit check --ocpp 1.6 frames.log

``main`` is the console-script entry point (``ocppkit = "ocppkit.cli:main"``); ``python -m
ocppkit`` runs the same group.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

# command name -> (module, attribute, one-line summary shown by ``ocppkit --help``)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "call": ("ocppkit.cli.call", "call", "Send one CALL to a CSMS as a charge point."),
    "check": ("ocppkit.cli.check", "check", "Validate OCPP-J frames, one per line."),
    "cp": ("ocppkit.cli.cp", "cp", "Run one charge point (1.6 stack), driven from stdin."),
    "csms": ("ocppkit.cli.csms", "csms", "Run a CSMS: OCPP server, SQLite store, HTTP API."),
    "demo": ("ocppkit.cli.sim", "demo", "Run a CSMS and a simulated fleet in one process."),
    "logs": ("ocppkit.cli.logs", "logs", "Print a station's message log."),
    "sim": ("ocppkit.cli.sim", "sim", "Simulate a fleet of charge points against a CSMS."),
    "stations": ("ocppkit.cli.stations", "stations", "Manage known stations and passwords."),
}


class _LazyGroup(click.Group):
    """A group whose commands are imported from their module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in _COMMANDS:
            return command
        module, attribute, _ = _COMMANDS[cmd_name]
        loaded = getattr(importlib.import_module(module), attribute)
        if not isinstance(loaded, click.Command):  # pragma: no cover - a wiring mistake
            raise TypeError(f"{module}.{attribute} is not a click command")
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list the summaries without importing every command module
        rows = [(name, spec[2]) for name, spec in sorted(_COMMANDS.items())]
        rows += [
            (name, cmd.get_short_help_str())
            for name, cmd in sorted(self.commands.items())
            if name not in _COMMANDS and not cmd.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ocppkit", prog_name="ocppkit")
def main() -> None:
    """ocppkit: the Open Charge Point Protocol (OCPP 1.6J, 2.0.1, 2.1) toolkit.

    Run 'ocppkit COMMAND --help' for the options of one command.
    """
