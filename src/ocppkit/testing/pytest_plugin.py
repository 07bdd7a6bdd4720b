"""pytest fixtures for testing OCPP handlers (registered by ocppkit's ``pytest11`` entry point).

- ``ocpp_pair``: the ``connected_pair`` factory — ``async with ocpp_pair(OcppVersion.V201,
  csms=my_router) as pair: ...`` (use it from an async test: pytest-asyncio, anyio, or
  ``asyncio.run`` inside a sync test);
- ``fake_csms`` / ``fake_charge_point``: factories of fake peers, ``fake_csms(OcppVersion.V16)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ocppkit.protocol.versions import OcppVersion
from ocppkit.testing import FakePeer, connected_pair, fake_charge_point, fake_csms


@pytest.fixture
def ocpp_pair() -> Callable[..., Any]:
    """The ``ocppkit.testing.connected_pair`` factory."""
    return connected_pair


@pytest.fixture(name="fake_csms")
def fake_csms_fixture() -> Callable[[OcppVersion], FakePeer]:
    """Factory of fake CSMS peers (answer every charge point message with a valid default)."""
    return fake_csms


@pytest.fixture(name="fake_charge_point")
def fake_charge_point_fixture() -> Callable[[OcppVersion], FakePeer]:
    """Factory of fake charge point peers (accept every CSMS command)."""
    return fake_charge_point
