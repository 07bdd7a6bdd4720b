"""The CSMS role: a server with store-backed defaults, boot policies and typed stations."""

from __future__ import annotations

from ocppkit.csms.context import BootPolicy, CsmsContext, accept_all, boot_rate_limit, known_only
from ocppkit.csms.message_log import MessageLog
from ocppkit.csms.role import Csms
from ocppkit.csms.station import Station, Station16, Station21, Station201

__all__ = [
    "BootPolicy",
    "Csms",
    "CsmsContext",
    "MessageLog",
    "Station",
    "Station16",
    "Station21",
    "Station201",
    "accept_all",
    "boot_rate_limit",
    "known_only",
]
