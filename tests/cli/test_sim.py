"""``ocppkit demo`` and ``ocppkit sim`` from the command line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

from ocppkit.cli import main
from tests.net import free_port


def test_demo_runs_a_csms_and_a_fleet_and_prints_the_figures(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(
        main,
        ["demo", "--stations", "4", "--duration", "4", "--speed", "600", "--quiet", "--json",
         "--port", str(free_port()), "--api-port", str(free_port()), "--db", str(db)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "HTTP API on http://127.0.0.1:" in result.output
    figures = json.loads(result.output[result.output.index('{\n  "stations"') :])
    assert figures["stations"] == 4
    assert figures["errors"] == 0
    assert figures["sessions"] > 0
    assert figures["transactions_stopped"] == figures["transactions_started"]
    assert db.exists()  # the given database is kept


def test_the_commands_document_their_options() -> None:
    for command, options in {
        "sim": ["--stations", "--connect-rate", "--scenario", "--seed", "--password", "--json"],
        "demo": ["--stations", "--duration", "--speed", "--api-port"],
    }.items():
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        for option in options:
            assert option in result.output, (command, option)
    listed = CliRunner().invoke(main, ["--help"]).output
    assert "sim " in listed
    assert "demo " in listed


def test_a_bad_scenario_is_a_usage_error(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("arrivals = 3\n")
    result = CliRunner().invoke(main, ["sim", "ws://127.0.0.1:9", "--scenario", str(scenario)])
    assert result.exit_code == 2
    assert "arrivals" in result.output


def test_a_taken_port_is_a_readable_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for option in ("--port", "--api-port"):
            other = "--api-port" if option == "--port" else "--port"
            result = CliRunner().invoke(
                main,
                ["demo", "--duration", "1", "--quiet", option, str(port), other, str(free_port()),
                 "--db", str(tmp_path / "d.db")],
            )  # fmt: skip
            assert result.exit_code == 1, result.output
            assert f"choose another {option}" in result.output
