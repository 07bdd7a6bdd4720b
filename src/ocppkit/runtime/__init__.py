"""The asyncio runtime: OCPP connections over a transport, with handlers per action."""

from __future__ import annotations

from ocppkit.runtime.connection import FrameHook, IssueHook, OcppConnection
from ocppkit.runtime.router import Router

__all__ = ["FrameHook", "IssueHook", "OcppConnection", "Router"]
