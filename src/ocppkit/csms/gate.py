"""A router that refuses CALLs from stations that are not (yet) Accepted.

OCPP 1.6 errata 3.10 recommends, and 2.0.1 B02/B03 require, answering ``SecurityError`` to
anything but BootNotification from a station whose boot was not Accepted. The check wraps each
handler at registration, keeping plain handlers plain (inline) and async ones async.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import SecurityError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Resp, Router, TypedHandler

__all__ = ["GatedRouter"]

_UNGATED = frozenset({"BootNotification"})


class GatedRouter(Router):
    """A ``Router`` whose handlers (except BootNotification) run only for accepted stations."""

    def __init__(self, version: OcppVersion, is_accepted: Callable[[OcppConnection], bool]) -> None:
        super().__init__(version)
        self.is_accepted = is_accepted

    def on(
        self, request_type: type[OcppRequest[Resp]]
    ) -> Callable[[TypedHandler[Resp]], TypedHandler[Resp]]:
        """As ``Router.on``; the registered handler is wrapped with the acceptance check."""
        action = self._action(request_type)
        register = super().on(request_type)
        if action in _UNGATED:
            return register
        is_accepted = self.is_accepted

        def refuse(conn: OcppConnection) -> SecurityError:
            return SecurityError(
                f"{conn.identity} is not accepted: send an accepted BootNotification first"
            )

        def gated_register(handler: TypedHandler[Resp]) -> TypedHandler[Resp]:
            if inspect.iscoroutinefunction(handler):

                async def gated_async(request: Any, conn: OcppConnection) -> Any:
                    if not is_accepted(conn):
                        raise refuse(conn)
                    return await handler(request, conn)

                register(gated_async)
            else:

                def gated(request: Any, conn: OcppConnection) -> Any:
                    if not is_accepted(conn):
                        raise refuse(conn)
                    return handler(request, conn)

                register(gated)
            return handler

        return gated_register
