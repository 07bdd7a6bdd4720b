"""Generate ``docs/reference.md``: the public API, from the docstrings.

Run from the repository root::

    python tools/generate_reference.py          # rewrite docs/reference.md
    python tools/generate_reference.py --check  # exit 1 if the committed file is stale

For each public module (``MODULES``): its docstring's first paragraph, then every name in its
``__all__`` with its signature and docstring (classes: their public methods and properties too).
The generated message classes are not listed (see ``docs/design/messages.md``): there are
hundreds, found by action name.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

MODULES = (
    "ocppkit",
    "ocppkit.protocol",
    "ocppkit.runtime",
    "ocppkit.testing",
    "ocppkit.csms",
    "ocppkit.store",
    "ocppkit.api",
    "ocppkit.chargepoint.v16.stack",
    "ocppkit.chargepoint.v16.callbacks",
    "ocppkit.chargepoint.asyncio_runtime",
    "ocppkit.smartcharging",
    "ocppkit.certificates",
    "ocppkit.iso15118",
    "ocppkit.sim",
)
OUTPUT = Path("docs/reference.md")


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def _first_paragraph(text: str) -> str:
    return text.split("\n\n", 1)[0].replace("\n", " ")


def _annotation(value: Any) -> str:
    """An annotation as written (postponed annotations are strings already)."""
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _default(value: Any) -> str:
    """A default as a reader would write it: functions and classes by name (their repr holds a
    memory address, which would make the file differ on every run)."""
    if inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.isclass(value):
        return str(value.__qualname__)
    return repr(value)


def _signature(obj: Any) -> str:
    """``(a: int, *, b: str = 'x') -> bool``, annotations as written in the source."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(…)"
    params = []
    for param in signature.parameters.values():
        text = param.name
        if param.kind is param.VAR_POSITIONAL:
            text = "*" + text
        elif param.kind is param.VAR_KEYWORD:
            text = "**" + text
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            default = _default(param.default)
            text += f" = {default}" if param.annotation is not param.empty else f"={default}"
        params.append((param.kind, text))
    parts: list[str] = []
    seen_keyword_only = False
    for kind, text in params:
        if kind is inspect.Parameter.KEYWORD_ONLY and not seen_keyword_only:
            if not any(k is inspect.Parameter.VAR_POSITIONAL for k, _ in params):
                parts.append("*")
            seen_keyword_only = True
        parts.append(text)
    returned = signature.return_annotation
    arrow = "" if returned is signature.empty else f" -> {_annotation(returned)}"
    return f"({', '.join(parts)}){arrow}"


def _members(cls: type) -> list[tuple[str, Any]]:
    """A class's own public methods and properties, in definition order."""
    found: list[tuple[str, Any]] = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property) or inspect.isfunction(value):
            found.append((name, value))
        elif isinstance(value, classmethod | staticmethod):
            found.append((name, value.__func__))
    return found


def _entry(name: str, obj: Any) -> list[str]:
    lines: list[str] = []
    if inspect.isclass(obj):
        lines.append(f"### `{name}`  (class)\n")
        if _doc(obj):
            lines.append(_doc(obj) + "\n")
        for member, value in _members(obj):
            doc = _first_paragraph(_doc(value.fget if isinstance(value, property) else value))
            if isinstance(value, property):
                lines.append(f"- `{member}` (property) — {doc}")
            else:
                lines.append(f"- `{member}{_signature(value)}` — {doc}")
        if lines[-1].startswith("- "):
            lines.append("")
    elif callable(obj):
        lines.append(f"### `{name}{_signature(obj)}`\n")
        if _doc(obj):
            lines.append(_doc(obj) + "\n")
    else:
        lines.append(f"### `{name}`\n")
    return lines


def render() -> str:
    """The whole reference as Markdown."""
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `tools/generate_reference.py`; do not edit by hand.",
        "",
    ]
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        out += [f"## `{module_name}`", "", _first_paragraph(_doc(module)), ""]
        for name in sorted(getattr(module, "__all__", [])):
            out += _entry(name, getattr(module, name))
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    """Write (or, with ``--check``, compare) ``docs/reference.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python tools/generate_reference.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
