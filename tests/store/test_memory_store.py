"""The store contract on ``MemoryStore``."""

from __future__ import annotations

import pytest

from ocppkit.store.memory import MemoryStore
from tests.store.contract import StoreContract, StoreFactory


class TestMemoryStore(StoreContract):
    """``MemoryStore`` passes the contract."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New ``MemoryStore`` objects."""
        return MemoryStore
