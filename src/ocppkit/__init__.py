"""ocppkit: the Open Charge Point Protocol (OCPP 1.6J, 2.0.1, 2.1) stack for Python.

The curated public API. Typed payloads live in ``ocppkit.messages.v16`` / ``v201`` / ``v21``;
the sans-I/O protocol core in ``ocppkit.protocol``.
"""

from __future__ import annotations

from ocppkit.messages import CustomData, OcppStruct, actions
from ocppkit.protocol import (
    CallError,
    ErrorCode,
    OcppError,
    OcppSession,
    OcppVersion,
    PayloadValidationError,
    ValidationPolicy,
    decode_call,
    decode_payload,
    encode_payload,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CallError",
    "CustomData",
    "ErrorCode",
    "OcppError",
    "OcppSession",
    "OcppStruct",
    "OcppVersion",
    "PayloadValidationError",
    "ValidationPolicy",
    "__version__",
    "actions",
    "decode_call",
    "decode_payload",
    "encode_payload",
]
