"""OCPP versions and their websocket subprotocol tokens."""

from __future__ import annotations

import enum

__all__ = ["OcppVersion"]


class OcppVersion(enum.StrEnum):
    """An OCPP-J version ocppkit speaks. The value is the version number (``"2.0.1"``)."""

    V16 = "1.6"
    V201 = "2.0.1"
    V21 = "2.1"

    @property
    def subprotocol(self) -> str:
        """The ``Sec-WebSocket-Protocol`` token (``ocpp2.0.1``)."""
        return "ocpp" + self.value

    @property
    def package(self) -> str:
        """The ``ocppkit.messages`` subpackage holding this version's classes (``v201``)."""
        return "v" + self.value.replace(".", "")

    @property
    def is_2x(self) -> bool:
        """True for 2.0.1 and 2.1."""
        return self is not OcppVersion.V16

    @classmethod
    def from_subprotocol(cls, token: str) -> OcppVersion:
        """``"ocpp1.6"`` -> ``OcppVersion.V16``; raises ``ValueError`` for other tokens."""
        if token.startswith("ocpp"):
            try:
                return cls(token[4:])
            except ValueError:
                pass
        raise ValueError(f"not an OCPP subprotocol ocppkit supports: {token!r}")

    @classmethod
    def parse(cls, text: str) -> OcppVersion:
        """Accept ``1.6``, ``16``, ``ocpp1.6``, ``2.0.1``, ``201``, ``2.1``, ``21`` …"""
        t = text.strip().lower().removeprefix("ocpp").removeprefix("v")
        aliases = {"16": "1.6", "1.6j": "1.6", "201": "2.0.1", "21": "2.1"}
        try:
            return cls(aliases.get(t, t))
        except ValueError:
            raise ValueError(f"unknown OCPP version {text!r} (use 1.6, 2.0.1 or 2.1)") from None
