"""The asyncio runtime: OCPP connections over websockets, servers, clients, handlers per action."""

from __future__ import annotations

from ocppkit.runtime.client import HandshakeError, OcppClient, ReconnectPolicy
from ocppkit.runtime.connection import FrameHook, IssueHook, OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.server import Handshake, NotConnectedError, OcppServer, Rejection

__all__ = [
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
]
