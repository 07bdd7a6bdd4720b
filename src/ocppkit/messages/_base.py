"""Building blocks of the generated message classes.

- ``OcppStruct``: base of every payload class (keyword-only, absent optional fields omitted on
  encode, unknown fields rejected on decode unless the schema leaves the object open);
  ``OcppRequest[R]`` for CALL / SEND payloads (``R`` is the response class, so a typed ``call()``
  returns that type) and ``OcppResponse`` for CALLRESULT payloads.
- ``DateTime``: a timezone-aware ``datetime`` (RFC 3339 with offset on the wire).
- ``CustomData``: the open 2.x ``customData`` object, kept whole (a ``dict``), ``vendorId`` checked.
- ``check_decimals``: the 1.6 ``multipleOf: 0.1`` rule, checked exactly on decimal digits.
- ``ActionSpec``: one registry entry (action -> request type, response type, direction, block).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeAlias, TypeVar

import msgspec

__all__ = [
    "ActionSpec",
    "CustomData",
    "DateTime",
    "Direction",
    "OcppRequest",
    "OcppResponse",
    "OcppStruct",
    "check_decimals",
    "dec_hook",
    "relaxed_decimals",
]

DateTime: TypeAlias = Annotated[datetime, msgspec.Meta(tz=True)]
"""A timezone-aware datetime; encoded as RFC 3339 (``2025-01-01T12:00:00Z``)."""

Direction: TypeAlias = Literal["cp_to_csms", "csms_to_cp", "both"]
"""Who sends an action's request: the charge point, the CSMS, or either."""


class OcppStruct(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Base of every generated OCPP payload and nested type.

    Construct with keyword arguments using the snake_case names; the wire (camelCase) names are
    applied on encode. Optional fields default to ``None`` and are left out of the JSON.
    """

    __ocpp_decimals__: ClassVar[dict[str, int]] = {}


R = TypeVar("R")


class OcppRequest(OcppStruct, Generic[R]):
    """A CALL (or 2.1 SEND) payload; ``R`` is the class of its response (``None`` for SEND)."""


class OcppResponse(OcppStruct):
    """A CALLRESULT payload."""


class CustomData(dict[str, Any]):
    """The OCPP 2.x ``customData`` extension object: ``vendorId`` plus any vendor properties.

    It is a plain ``dict`` of wire names, kept whole so that a proxy forwards it unchanged::

        CustomData({"vendorId": "com.example", "batteryTemp": 31})
    """

    @property
    def vendor_id(self) -> str:
        """The ``vendorId`` (reverse-DNS name of the vendor)."""
        value: str = self["vendorId"]
        return value


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec decode hook for the non-native types of the generated classes."""
    if tp is CustomData:
        if not isinstance(obj, dict):
            raise TypeError(f"Expected `object`, got `{type(obj).__name__}`")
        vendor = obj.get("vendorId")
        if vendor is None:
            raise ValueError("Object missing required field `vendorId`")
        if not isinstance(vendor, str):
            raise TypeError("Expected `str` for field `vendorId`")
        if len(vendor) > 255:
            raise ValueError("Expected `str` of length <= 255 for field `vendorId`")
        return CustomData(obj)
    raise NotImplementedError(f"no decoder for {tp!r}")


_relaxed: contextvars.ContextVar[bool] = contextvars.ContextVar("ocppkit_relaxed", default=False)


@contextmanager
def relaxed_decimals() -> Iterator[None]:
    """Within this block, constructing a class does not enforce the 1.6 decimal-place rule."""
    token = _relaxed.set(True)
    try:
        yield
    finally:
        _relaxed.reset(token)


def decimal_places_ok(value: float, places: int) -> bool:
    """True when ``value`` has at most ``places`` decimal digits (as written on the wire)."""
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return not isinstance(exponent, int) or exponent >= -places


def check_decimals(obj: OcppStruct) -> None:
    """Enforce the 1.6 schemas' ``multipleOf: 0.1`` on the fields a class lists as decimals."""
    if _relaxed.get():
        return
    for name, places in obj.__ocpp_decimals__.items():
        value = getattr(obj, name)
        if value is not None and not decimal_places_ok(value, places):
            wire = obj.__struct_encode_fields__[obj.__struct_fields__.index(name)]
            raise ValueError(
                f"Invalid value for `{wire}`: {value!r} has more than {places} decimal place(s)"
            )


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action of one OCPP version: its payload classes, who sends it, where it belongs."""

    action: str
    """The action name as on the wire (``BootNotification``)."""
    request: type[OcppRequest[Any]]
    """The CALL (or 2.1 SEND) payload class."""
    response: type[OcppResponse] | None
    """The CALLRESULT payload class; ``None`` for SEND-only actions."""
    direction: Direction
    """Who sends the request."""
    block: str
    """1.6 feature profile or 2.x functional block (``B Provisioning``)."""

    @property
    def send_only(self) -> bool:
        """True for 2.1 SEND-type actions (no response)."""
        return self.response is None
