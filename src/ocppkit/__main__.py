"""``python -m ocppkit``: the ``ocppkit`` command line (see ``ocppkit.cli``)."""

from __future__ import annotations

from ocppkit.cli import main

if __name__ == "__main__":
    main(prog_name="ocppkit")
