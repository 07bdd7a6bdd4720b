"""Typed OCPP payloads for 1.6, 2.0.1 and 2.1, generated from the official OCA JSON schemas.

Import a version's classes from its subpackage::

    from ocppkit.messages.v16 import BootNotificationRequest
    from ocppkit.messages.v201.provisioning import BootNotificationRequest  # by functional block

``actions(version)`` returns that version's registry (action -> ``ActionSpec``), importing the
version on first use so a 1.6-only program never loads the 2.1 classes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from ocppkit.messages._base import ActionSpec, CustomData, OcppRequest, OcppResponse, OcppStruct

if TYPE_CHECKING:  # the protocol package imports this one
    from importlib.resources.abc import Traversable

    from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "ActionSpec",
    "CustomData",
    "OcppRequest",
    "OcppResponse",
    "OcppStruct",
    "actions",
    "schema_dir",
]


@cache
def actions(version: OcppVersion) -> Mapping[str, ActionSpec]:
    """Every action of ``version``: name -> request class, response class, direction, block."""
    module = importlib.import_module(f"ocppkit.messages.{version.package}")
    registry: Mapping[str, ActionSpec] = module.ACTIONS
    return registry


def schema_dir(version: OcppVersion) -> Traversable:
    """The folder of official OCA JSON schemas shipped (unchanged) for ``version``."""
    return files("ocppkit.messages").joinpath("schemas", version.package)
