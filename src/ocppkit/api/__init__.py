"""The HTTP API of the reference CSMS: stations, transactions, id tokens, commands, metrics.

::

    from ocppkit.api import create_app

    csms = Csms(SqliteStore("ocppkit.db"))
    app = create_app(csms)          # a Starlette app: serve it with uvicorn beside csms.start()

See ``ocppkit.api.app`` for the routes (also served as ``GET /openapi.json``).
"""

from __future__ import annotations

from ocppkit.api.app import create_app
from ocppkit.api.openapi import openapi_document

__all__ = ["create_app", "openapi_document"]
