"""Shared helpers for tests that drive mobilityhouse/ocpp peers (``import ocpp``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ocpp.routing

F = TypeVar("F", bound=Callable[..., Any])


def on(action: str) -> Callable[[F], F]:
    """mobilityhouse's ``@on`` (untyped), typed for mypy --strict. Actions are given as plain
    strings: its ``Action`` enums are ``StrEnum``s with these values, so the 2.0.1 and 2.1 peers
    share their handlers."""
    decorator: Callable[[F], F] = ocpp.routing.on(action)
    return decorator


class Recording:
    """Mixin for a mobilityhouse ``ChargePoint``: records every CALL it handled as
    ``(action, snake_case kwargs)``."""

    _call_result: Any  # the version's ``ocpp.v*.call_result`` module (set by ChargePoint)

    def __init__(self, identity: str, connection: Any) -> None:
        super().__init__(identity, connection)  # type: ignore[call-arg]  # ChargePoint's
        self.received: list[tuple[str, dict[str, Any]]] = []

    def record(self, action: str, kwargs: dict[str, Any]) -> None:
        """Remember one handled CALL."""
        self.received.append((action, kwargs))
