"""What a charge point keeps across power loss: named maps of JSON values, and its message queue.

The stack's blocks persist through one small interface, ``StateStore``:

- **state**: per ``namespace`` (``"config"``, ``"local_list"``, ``"auth_cache"``, ``"connectors"``,
  ``"transactions"`` …) a map ``key -> JSON-compatible value``; ``put`` / ``put_many`` /
  ``delete`` are durable when they return, and ``put_many`` is atomic (all or nothing; with
  ``replace=True`` the namespace holds exactly the given items afterwards);
- **queue**: the durable outbox of messages that must survive a power loss (1.6 transaction
  messages and security events), in enqueue order, each an id plus a JSON value; ``update``
  rewrites a queued value in place (the real transactionId patched into queued messages).
  ``enqueue(value, state={(namespace, key): value or None})`` also applies state changes in the
  same atomic write (None deletes), so "the transaction ended" and "its StopTransaction is
  queued" can never be half-stored.

``MemoryStateStore`` is the in-memory fake for tests; ``SqliteStateStore`` (``ocppkit.chargepoint
.sqlite_state``) is the default, one SQLite file.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "MemoryStateStore",
    "QueuedItem",
    "StateChanges",
    "StateStore",
    "dump_time",
    "load_time",
]

QueuedItem = tuple[int, Any]
"""One queued message: its queue id (rising in enqueue order) and its JSON value."""
StateChanges = Mapping[tuple[str, str], Any]
"""``{(namespace, key): value}`` to store with an enqueue; a value of None deletes the item."""


def dump_time(when: datetime) -> str:
    """A time as it is kept in state values (RFC 3339, ``Z`` for UTC)."""
    return when.isoformat().replace("+00:00", "Z")


def load_time(text: str) -> datetime:
    """A time back from a state value."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class StateStore(Protocol):
    """Durable state of one charge point (see the module docstring)."""

    async def open(self) -> None:
        """Create or migrate the storage."""
        ...

    async def close(self) -> None:
        """Write what is pending and release the storage."""
        ...

    # -- state -------------------------------------------------------------------------------
    async def load(self, namespace: str) -> dict[str, Any]:
        """Every item of ``namespace`` (empty when none)."""
        ...

    async def put(self, namespace: str, key: str, value: Any) -> None:
        """Store one item (replacing it); durable on return."""
        ...

    async def put_many(
        self, namespace: str, items: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Store several items atomically; ``replace=True`` drops the namespace's other items."""
        ...

    async def delete(self, namespace: str, key: str) -> None:
        """Remove one item (no error when absent)."""
        ...

    # -- queue -------------------------------------------------------------------------------
    async def enqueue(self, value: Any, *, state: StateChanges | None = None) -> int:
        """Append a message to the queue and apply ``state`` changes, atomically; returns the
        message's id. Durable on return."""
        ...

    async def queued(self) -> list[QueuedItem]:
        """Every queued message, oldest first."""
        ...

    async def update(self, item_id: int, value: Any) -> None:
        """Replace a queued message's value (no error when it is gone)."""
        ...

    async def dequeue(self, item_id: int) -> None:
        """Remove a queued message (no error when it is gone)."""
        ...


class MemoryStateStore:
    """``StateStore`` in memory: the fake for tests (values are deep-copied in and out, so a
    test sees exactly what a real store would give back)."""

    def __init__(self) -> None:
        self._state: dict[str, dict[str, Any]] = {}
        self._queue: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self.is_open = False

    async def open(self) -> None:
        """Mark open (the data of an earlier open is kept, like a file)."""
        self.is_open = True

    async def close(self) -> None:
        """Mark closed."""
        self.is_open = False

    def _check(self) -> None:
        if not self.is_open:
            raise RuntimeError("the state store is not open")

    async def load(self, namespace: str) -> dict[str, Any]:
        """Every item of ``namespace``."""
        self._check()
        return copy.deepcopy(self._state.get(namespace, {}))

    async def put(self, namespace: str, key: str, value: Any) -> None:
        """Store one item."""
        self._check()
        self._state.setdefault(namespace, {})[key] = copy.deepcopy(value)

    async def put_many(
        self, namespace: str, items: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        """Store several items at once."""
        self._check()
        target = {} if replace else dict(self._state.get(namespace, {}))
        target.update(copy.deepcopy(dict(items)))
        self._state[namespace] = target

    async def delete(self, namespace: str, key: str) -> None:
        """Remove one item."""
        self._check()
        self._state.get(namespace, {}).pop(key, None)

    async def enqueue(self, value: Any, *, state: StateChanges | None = None) -> int:
        """Append to the queue (and apply ``state``)."""
        self._check()
        for (namespace, key), item in (state or {}).items():
            if item is None:
                self._state.get(namespace, {}).pop(key, None)
            else:
                self._state.setdefault(namespace, {})[key] = copy.deepcopy(item)
        item_id = next(self._ids)
        self._queue[item_id] = copy.deepcopy(value)
        return item_id

    async def queued(self) -> list[QueuedItem]:
        """The queue, oldest first."""
        self._check()
        return [(item_id, copy.deepcopy(value)) for item_id, value in self._queue.items()]

    async def update(self, item_id: int, value: Any) -> None:
        """Replace a queued value."""
        self._check()
        if item_id in self._queue:
            self._queue[item_id] = copy.deepcopy(value)

    async def dequeue(self, item_id: int) -> None:
        """Remove a queued message."""
        self._check()
        self._queue.pop(item_id, None)
