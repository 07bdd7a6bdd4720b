"""Handlers per action: typed request in, typed response out.

::

    router = Router(OcppVersion.V16)

    @router.on(v16.HeartbeatRequest)
    async def heartbeat(request: v16.HeartbeatRequest, conn: OcppConnection) -> HeartbeatResponse:
        return v16.HeartbeatResponse(current_time=datetime.now(UTC))

A router is shared by every connection of its version; the connection is passed in. ``after``
registers a hook that runs once the response has been sent (e.g. to send a follow-up CALL).

A handler may also be a plain function (``def``): it runs inline, without a task of its own —
the cheapest path, for handlers that need no I/O (a heartbeat, an in-memory lookup). An ``async``
handler runs in its own task, so it may await anything, including ``conn.call(...)``. Between
the two, a plain handler whose only I/O is one future it starts (a store write) returns
``AnswerAfter(future, response)``: the response goes out once the future is done — its
exception becomes the CALLERROR — still without a task::

    @router.on(v16.StatusNotificationRequest)
    def status(request: v16.StatusNotificationRequest, conn: OcppConnection) -> Any:
        return AnswerAfter(store_write(request), v16.StatusNotificationResponse())
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from ocppkit.messages import actions
from ocppkit.messages._base import OcppRequest
from ocppkit.protocol.errors import LocalProtocolError
from ocppkit.protocol.versions import OcppVersion

if TYPE_CHECKING:
    from ocppkit.runtime.connection import OcppConnection

__all__ = ["AfterHook", "AnswerAfter", "Handler", "Route", "Router", "respond"]

Req = TypeVar("Req", bound=OcppRequest[Any])
Resp = TypeVar("Resp")


class AnswerAfter(Generic[Resp]):
    """What a plain handler returns to answer ``response`` once ``future`` is done (a failed or
    cancelled future: the CALLERROR instead), without a task of its own."""

    __slots__ = ("future", "response")

    def __init__(self, future: asyncio.Future[Any], response: Resp) -> None:
        self.future = future
        self.response = response

    def __repr__(self) -> str:
        return f"AnswerAfter({self.future!r}, {self.response!r})"


Handler = Callable[[Any, "OcppConnection"], Any]
"""``(async) (request, connection) -> response`` (``None`` for 2.1 SEND messages)."""
TypedHandler: TypeAlias = Callable[
    [Any, "OcppConnection"], Awaitable[Resp] | Resp | AnswerAfter[Resp]
]
"""A handler whose response type is checked against its request's response type."""
AfterHook = Callable[[Any, Any, "OcppConnection"], Awaitable[None]]
"""``async (request, response, connection)``, run after the response was sent."""


@dataclass(slots=True)
class Route:
    """An action's handler, its after-hook, and whether the handler is a coroutine function."""

    handler: Handler
    after: AfterHook | None = None
    is_async: bool = True


async def respond(route: Route, request: Any, conn: OcppConnection) -> Any:
    """The response of ``route``'s handler to ``request``, whatever kind of handler it is (for a
    handler that hands some requests on to the one it replaced)."""
    answer = route.handler(request, conn)
    if route.is_async:
        return await answer
    if type(answer) is AnswerAfter:
        await answer.future
        return answer.response
    return answer


class Router:
    """Maps the actions of one OCPP version to their handlers."""

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self._by_type = {spec.request: spec.action for spec in actions(version).values()}
        self._routes: dict[str, Route] = {}

    @property
    def actions(self) -> frozenset[str]:
        """The actions with a handler (the others are answered NotSupported)."""
        return frozenset(self._routes)

    def route(self, action: str) -> Route | None:
        """The handler and after-hook of ``action``, if registered."""
        return self._routes.get(action)

    def _action(self, request_type: type[OcppRequest[Any]]) -> str:
        action = self._by_type.get(request_type)
        if action is None:
            raise LocalProtocolError(
                f"{request_type.__qualname__} is not an OCPP {self.version} request"
            )
        return action

    def on(
        self, request_type: type[OcppRequest[Resp]]
    ) -> Callable[[TypedHandler[Resp]], TypedHandler[Resp]]:
        """Decorator: register the handler of ``request_type``'s action (replacing any other)."""
        action = self._action(request_type)

        def register(handler: TypedHandler[Resp]) -> TypedHandler[Resp]:
            self._set_handler(action, handler, inspect.iscoroutinefunction(handler))
            return handler

        return register

    def _set_handler(self, action: str, handler: Handler, is_async: bool) -> None:
        """Route ``action`` to ``handler`` (keeping its after-hook); ``is_async``: the handler
        returns an awaitable to run in a task of its own."""
        previous = self._routes.get(action)
        self._routes[action] = Route(handler, previous.after if previous else None, is_async)

    def add(self, request_type: type[OcppRequest[Resp]], handler: TypedHandler[Resp]) -> None:
        """Register ``handler`` for ``request_type``'s action (the non-decorator form of ``on``)."""
        self.on(request_type)(handler)

    def after(self, request_type: type[OcppRequest[Any]]) -> Callable[[AfterHook], AfterHook]:
        """Decorator: run ``hook(request, response, conn)`` after the action's response was sent."""
        action = self._action(request_type)

        def register(hook: AfterHook) -> AfterHook:
            route = self._routes.get(action)
            if route is None:
                raise LocalProtocolError(f"register a handler for {action} before its after-hook")
            route.after = hook
            return hook

        return register
