"""Static checks as tests, so `pytest` alone decides: ruff, ruff format, mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", ".")],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_examples_run() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sans_io_pair.py")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "station: boot Accepted heartbeat every 300 s" in result.stdout
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart_runtime.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "CSMS: reset Accepted" in result.stdout
