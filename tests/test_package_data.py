"""The built wheel carries the schemas, their notice and py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ocppkit.messages import schema_dir
from ocppkit.protocol import OcppVersion

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("version", "count"), [("1.6", 78), ("2.0.1", 128), ("2.1", 181)])
def test_schemas_are_reachable_as_package_data(version: str, count: int) -> None:
    files = [f for f in schema_dir(OcppVersion(version)).iterdir() if f.name.endswith(".json")]
    assert len(files) == count


def test_wheel_contains_schemas_and_typing_marker(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("ocppkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ocppkit/py.typed" in names
    assert "ocppkit/messages/schemas/NOTICE.md" in names
    assert "ocppkit/messages/schemas/v21/NotifyPeriodicEventStream.json" in names
    assert sum(n.startswith("ocppkit/messages/schemas/v16/") for n in names) == 78
