"""Error code spellings per version, the exception per code, and version parsing."""

from __future__ import annotations

import pytest

from ocppkit.protocol import errors
from ocppkit.protocol.errors import CallError, ErrorCode, parse_code, wire_code
from ocppkit.protocol.versions import OcppVersion

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21


@pytest.mark.parametrize(
    ("code", "v16", "v2x"),
    [
        (ErrorCode.FORMAT_VIOLATION, "FormationViolation", "FormatViolation"),
        (
            ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
            "OccurenceConstraintViolation",
            "OccurrenceConstraintViolation",
        ),
        (ErrorCode.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
        (ErrorCode.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "TypeConstraintViolation", "TypeConstraintViolation"),
        (ErrorCode.RPC_FRAMEWORK_ERROR, "FormationViolation", "RpcFrameworkError"),
        (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "GenericError", "MessageTypeNotSupported"),
    ],
)
def test_sending_spelling_per_version(code: ErrorCode, v16: str, v2x: str) -> None:
    assert wire_code(code, V16) == v16
    assert wire_code(code, V201) == v2x
    assert wire_code(code, V21) == v2x


def test_1_6_sends_only_its_ten_codes() -> None:
    sent = {wire_code(code, V16) for code in ErrorCode}
    assert len(sent) == 10
    assert sent.isdisjoint({"FormatViolation", "RpcFrameworkError", "MessageTypeNotSupported"})


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("FormationViolation", ErrorCode.FORMAT_VIOLATION),
        ("FormatViolation", ErrorCode.FORMAT_VIOLATION),
        ("OccurenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("OccurrenceConstraintViolation", ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ("RpcFrameworkError", ErrorCode.RPC_FRAMEWORK_ERROR),
        ("Nonsense", None),
    ],
)
def test_every_spelling_is_accepted_on_input(text: str, code: ErrorCode | None) -> None:
    assert parse_code(text) is code


def test_not_implemented_and_not_supported_keep_their_spec_meanings() -> None:
    assert errors.NotImplementedCallError.code == "NotImplemented"
    assert errors.NotSupportedError.code == "NotSupported"
    assert "does not know the action" in (errors.NotImplementedCallError.__doc__ or "")
    assert "known but" in (errors.NotSupportedError.__doc__ or "")


def test_one_exception_class_per_code() -> None:
    classes = {CallError.from_code(code.value).__class__ for code in ErrorCode}
    assert len(classes) == len(ErrorCode)
    for code in ErrorCode:
        error = CallError.from_code(code.value, "d", {"x": 1})
        assert (error.code, error.description, error.details) == (code, "d", {"x": 1})
    unknown = CallError.from_code("Weird", "d")
    assert type(unknown) is errors.GenericError
    assert unknown.wire_code == "Weird"


def test_payload_validation_error_becomes_the_call_error_of_its_code() -> None:
    failure = errors.PayloadValidationError(ErrorCode.TYPE_CONSTRAINT_VIOLATION, "a.b", "bad")
    call_error = failure.to_call_error()
    assert type(call_error) is errors.TypeConstraintViolationError
    assert call_error.description == "a.b: bad"


@pytest.mark.parametrize(
    ("text", "version"),
    [("1.6", V16), ("ocpp1.6", V16), ("16", V16), ("2.0.1", V201), ("201", V201), ("2.1", V21)],
)
def test_version_parsing(text: str, version: OcppVersion) -> None:
    assert OcppVersion.parse(text) is version


def test_subprotocol_tokens() -> None:
    assert [v.subprotocol for v in OcppVersion] == ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
    assert OcppVersion.from_subprotocol("ocpp2.0.1") is V201
    for bad in ("ocpp2.0", "ocpp1.5", "wamp"):
        with pytest.raises(ValueError, match="subprotocol"):
            OcppVersion.from_subprotocol(bad)
    with pytest.raises(ValueError, match="unknown OCPP version"):
        OcppVersion.parse("3.0")
