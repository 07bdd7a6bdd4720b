"""The asyncio runtime: OCPP connections over websockets, servers, clients, handlers per action.

The server side (``OcppServer``, ``Handshake``, ``Rejection``) is imported on first use, so a
charge point, which only needs the client, never loads the websockets server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocppkit.protocol.errors import NotConnectedError
from ocppkit.runtime.client import HandshakeError, OcppClient, ReconnectPolicy
from ocppkit.runtime.connection import FrameHook, IssueHook, OcppConnection
from ocppkit.runtime.router import AnswerAfter, Router, respond

if TYPE_CHECKING:
    from ocppkit.runtime.server import Handshake, OcppServer, Rejection

__all__ = [
    "AnswerAfter",
    "FrameHook",
    "Handshake",
    "HandshakeError",
    "IssueHook",
    "NotConnectedError",
    "OcppClient",
    "OcppConnection",
    "OcppServer",
    "ReconnectPolicy",
    "Rejection",
    "Router",
    "respond",
]

_SERVER = frozenset({"Handshake", "OcppServer", "Rejection"})


def __getattr__(name: str) -> Any:
    if name in _SERVER:
        from ocppkit.runtime import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
