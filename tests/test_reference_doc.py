"""``docs/reference.md`` (generated from the docstrings by ``tools/generate_reference.py``) is
what the generator makes of the code now: every public module and name, and their docstrings as
they are; regenerate it when the API or a docstring changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_ref", ROOT / "tools/generate_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_is_what_the_generator_makes_of_the_code_now() -> None:
    """Docstrings and signatures too, not only the headings."""
    text = (ROOT / "docs/reference.md").read_text()
    assert text == generator().render(), "run python tools/generate_reference.py"
