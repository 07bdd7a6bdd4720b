"""``docs/reference.md`` (generated from the docstrings by ``tools/generate_reference.py``) lists
every public module and every name it exports; regenerate it when the API changes."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_reference_lists_every_public_name() -> None:
    spec = importlib.util.spec_from_file_location("gen_ref", ROOT / "tools/generate_reference.py")
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (ROOT / "docs/reference.md").read_text()
    missing = []
    for module_name in generator.MODULES:
        if f"## `{module_name}`" not in text:
            missing.append(module_name)
        for name in importlib.import_module(module_name).__all__:
            if f"### `{name}" not in text:
                missing.append(f"{module_name}.{name}")
    assert missing == [], "run python tools/generate_reference.py"
