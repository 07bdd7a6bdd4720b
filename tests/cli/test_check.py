"""``ocppkit check``: verdicts, pairing, spellings, exit codes, I/O (via CliRunner and for real)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from ocppkit.cli import main
from ocppkit.cli.check import FrameChecker, check_lines
from ocppkit.messages import actions
from ocppkit.protocol import (
    CallCompleted,
    CallFailed,
    CallReceived,
    FrameError,
    OcppSession,
    OcppVersion,
    PayloadValidationError,
    SendReceived,
    parse_frame,
)
from ocppkit.protocol.codec import decode_payload
from ocppkit.protocol.errors import wire_code
from ocppkit.protocol.frames import Call

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
TS = "2025-01-01T12:00:00Z"


def frame(*items: Any) -> str:
    return json.dumps(list(items), separators=(",", ":"), ensure_ascii=False)


def run(version: str, text: str | bytes, *args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--ocpp", version, *args], input=text)


# -- payloads -------------------------------------------------------------------------------------
BOOT_16 = {"chargePointVendor": "ACME", "chargePointModel": "Wallbox"}
BOOT_RESP_16 = {"status": "Accepted", "currentTime": TS, "interval": 300}
BOOT_2X = {"reason": "PowerUp", "chargingStation": {"model": "Wallbox", "vendorName": "ACME"}}
BOOT_RESP_2X = {"status": "Accepted", "currentTime": TS, "interval": 300}
HEARTBEAT_RESP = {"currentTime": TS}


def meter_values_16(measurand: str = "Voltage") -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    {"value": "1234.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "16.0", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "230.1", "measurand": measurand, "phase": "L1-N", "unit": "V"},
                ],
            }
        ],
    }


def transaction_event_201(measurand: str = "Voltage") -> dict[str, Any]:
    return {
        "eventType": "Updated",
        "timestamp": TS,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 3,
        "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "04A2B3C4", "type": "ISO14443"},
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    {"value": 1234.5, "measurand": "Energy.Active.Import.Register"},
                    {"value": 16.0, "measurand": "Current.Import", "phase": "L1"},
                    {"value": 230.1, "measurand": measurand, "phase": "L1-N"},
                ],
            }
        ],
    }


STREAM_21 = {"id": 1, "pending": 0, "basetime": TS, "data": [{"t": 0.5, "v": "230.1"}]}

# -- table: (id, version, [(input line, expected output line), ...], exit code) ------------------
Case = tuple[str, str, list[tuple[str, str]], int]

CASES: list[Case] = [
    (
        "v16-every-frame-type-ok",
        "1.6",
        [
            (frame(2, "1", "BootNotification", BOOT_16), "OK CALL BootNotification"),
            (frame(3, "1", BOOT_RESP_16), "OK CALLRESULT BootNotification"),
            (frame(2, "2", "MeterValues", meter_values_16()), "OK CALL MeterValues"),
            (frame(4, "2", "InternalError", "db down", {}), "OK CALLERROR MeterValues"),
            (frame(2, "3", "Heartbeat", {}), "OK CALL Heartbeat"),
            (frame(4, "3", "FormationViolation", "", {}), "OK CALLERROR Heartbeat"),
        ],
        0,
    ),
    (
        "v201-every-frame-type-ok",
        "2.0.1",
        [
            (frame(2, "a", "BootNotification", BOOT_2X), "OK CALL BootNotification"),
            (frame(3, "a", BOOT_RESP_2X), "OK CALLRESULT BootNotification"),
            (
                frame(2, "b", "TransactionEvent", transaction_event_201()),
                "OK CALL TransactionEvent",
            ),
            (frame(4, "b", "GenericError", "x", {"k": 1}), "OK CALLERROR TransactionEvent"),
        ],
        0,
    ),
    (
        "v21-every-frame-type-ok",
        "2.1",
        [
            (frame(2, "a", "BootNotification", BOOT_2X), "OK CALL BootNotification"),
            (frame(3, "a", BOOT_RESP_2X), "OK CALLRESULT BootNotification"),
            (frame(5, "a", "FormatViolation", "bad", {}), "OK CALLRESULTERROR BootNotification"),
            (frame(2, "b", "Heartbeat", {}), "OK CALL Heartbeat"),
            (frame(4, "b", "NotSupported", "no", {}), "OK CALLERROR Heartbeat"),
            (
                frame(6, "s", "NotifyPeriodicEventStream", STREAM_21),
                "OK SEND NotifyPeriodicEventStream",
            ),
        ],
        0,
    ),
    (
        "v16-result-validated-as-response-spelling-1.6",
        "1.6",
        [
            (frame(2, "b", "BootNotification", BOOT_16), "OK CALL BootNotification"),
            (
                frame(3, "b", {"currentTime": TS, "interval": 300}),
                "ERROR OccurenceConstraintViolation status: Object missing required field `status`",
            ),
        ],
        1,
    ),
    *[
        (
            f"v{v}-result-validated-as-response-spelling-2x",
            v,
            [
                (frame(2, "b", "BootNotification", BOOT_2X), "OK CALL BootNotification"),
                (
                    frame(3, "b", {"currentTime": TS, "interval": 300}),
                    "ERROR OccurrenceConstraintViolation status: "
                    "Object missing required field `status`",
                ),
            ],
            1,
        )
        for v in ("2.0.1", "2.1")
    ],
    (
        "result-pairs-with-its-own-call-not-the-last-one",
        "1.6",
        [
            (frame(2, "h", "Heartbeat", {}), "OK CALL Heartbeat"),
            (frame(2, "b", "BootNotification", BOOT_16), "OK CALL BootNotification"),
            (frame(3, "h", HEARTBEAT_RESP), "OK CALLRESULT Heartbeat"),
            (
                frame(3, "b", HEARTBEAT_RESP),
                "ERROR OccurenceConstraintViolation status: Object missing required field `status`",
            ),
        ],
        1,
    ),
    (
        "v16-unpaired-result-and-error-and-second-answer",
        "1.6",
        [
            (
                frame(3, "nope", HEARTBEAT_RESP),
                'ERROR FormationViolation unpaired: no earlier CALL with id "nope"',
            ),
            (
                frame(4, "x", "GenericError", "", {}),
                'ERROR FormationViolation unpaired: no earlier CALL with id "x"',
            ),
            (frame(2, "1", "Heartbeat", {}), "OK CALL Heartbeat"),
            (frame(3, "1", HEARTBEAT_RESP), "OK CALLRESULT Heartbeat"),
            (
                frame(3, "1", HEARTBEAT_RESP),
                'ERROR FormationViolation unpaired: no earlier CALL with id "1"',
            ),
        ],
        1,
    ),
    *[
        (
            f"v{v}-call-reusing-a-pending-id",
            v,
            [
                (frame(2, "1", "Heartbeat", {}), "OK CALL Heartbeat"),
                (
                    frame(2, "1", "Authorize", {}),
                    f"ERROR {code} a CALL with id '1' is already being processed",
                ),
                # the reply pairs with the first CALL; once answered, the id is free again
                (frame(3, "1", HEARTBEAT_RESP), "OK CALLRESULT Heartbeat"),
                (frame(2, "1", "Heartbeat", {}), "OK CALL Heartbeat"),
            ],
            1,
        )
        for v, code in (("1.6", "GenericError"), ("2.0.1", "RpcFrameworkError"))
    ],
    (
        "v201-unpaired-result",
        "2.0.1",
        [
            (
                frame(3, "a\u0085b", {}),
                'ERROR RpcFrameworkError unpaired: no earlier CALL with id "a\\x85b"',
            ),
            (
                frame(3, 'q"1', {}),
                'ERROR RpcFrameworkError unpaired: no earlier CALL with id "q\\"1"',
            ),
        ],
        1,
    ),
    (
        "v21-unpaired-callresulterror",
        "2.1",
        [
            (
                frame(5, "z", "GenericError", "", {}),
                'ERROR RpcFrameworkError unpaired: no earlier CALL with id "z"',
            )
        ],
        1,
    ),
    (
        "a-result-never-pairs-with-a-later-call",
        "2.0.1",
        [
            (
                frame(3, "1", HEARTBEAT_RESP),
                'ERROR RpcFrameworkError unpaired: no earlier CALL with id "1"',
            ),
            (frame(2, "1", "Heartbeat", {}), "OK CALL Heartbeat"),
        ],
        1,
    ),
    *[
        (
            f"v{v}-unknown-action",
            v,
            [
                (
                    frame(2, "1", "FlyToTheMoon", {}),
                    f"ERROR NotImplemented unknown action 'FlyToTheMoon' in OCPP {v}",
                ),
                # a CALL rejected for its action still pairs with the CALLERROR answering it
                (frame(4, "1", "NotImplemented", "", {}), "OK CALLERROR FlyToTheMoon"),
            ],
            1,
        )
        for v in ("1.6", "2.0.1", "2.1")
    ],
    (
        "v16-action-of-another-version",
        "1.6",
        [
            (
                frame(2, "1", "TransactionEvent", {}),
                "ERROR NotImplemented unknown action 'TransactionEvent' in OCPP 1.6",
            )
        ],
        1,
    ),
    (
        "v21-call-of-send-only-action",
        "2.1",
        [
            (
                frame(2, "1", "NotifyPeriodicEventStream", STREAM_21),
                "ERROR NotImplemented unknown action 'NotifyPeriodicEventStream' in OCPP 2.1",
            )
        ],
        1,
    ),
    (
        "v21-send-of-call-action",
        "2.1",
        [
            (
                frame(6, "1", "Heartbeat", {}),
                "ERROR NotImplemented 'Heartbeat' is not a SEND-type action (send it as a CALL)",
            ),
            (frame(6, "2", "Nope", {}), "ERROR NotImplemented unknown action 'Nope' in OCPP 2.1"),
        ],
        1,
    ),
    (
        "v21-send-bad-payload",
        "2.1",
        [
            (
                frame(6, "1", "NotifyPeriodicEventStream", {**STREAM_21, "pending": -1}),
                "ERROR PropertyConstraintViolation pending: Expected `int` >= 0",
            )
        ],
        1,
    ),
    (
        "v16-bad-enum-full-path",
        "1.6",
        [
            (
                frame(2, "1", "MeterValues", meter_values_16("Bogus")),
                "ERROR PropertyConstraintViolation meterValue[0].sampledValue[2].measurand: "
                "Invalid enum value 'Bogus'",
            )
        ],
        1,
    ),
    (
        "v201-bad-enum-full-path",
        "2.0.1",
        [
            (
                frame(2, "1", "TransactionEvent", transaction_event_201("Bogus")),
                "ERROR PropertyConstraintViolation meterValue[0].sampledValue[2].measurand: "
                "Invalid enum value 'Bogus'",
            )
        ],
        1,
    ),
    (
        "v16-payload-codes-1.6-spelling",
        "1.6",
        [
            (
                frame(2, "1", "Authorize", {}),
                "ERROR OccurenceConstraintViolation idTag: Object missing required field `idTag`",
            ),
            (
                frame(2, "2", "Authorize", {"idTag": 5}),
                "ERROR TypeConstraintViolation idTag: Expected `str`, got `int`",
            ),
            (
                frame(2, "3", "Authorize", {"idTag": "x" * 21}),
                "ERROR PropertyConstraintViolation idTag: Expected `str` of length <= 20",
            ),
            (
                frame(2, "4", "Authorize", {"idTag": "a", "x": 1}),
                "ERROR FormationViolation x: Object contains unknown field `x`",
            ),
            (
                frame(2, "5", "Authorize", []),
                "ERROR FormationViolation Expected `object`, got `array`",
            ),
        ],
        1,
    ),
    (
        "v201-payload-codes-2x-spelling",
        "2.0.1",
        [
            (
                frame(2, "1", "Authorize", {}),
                "ERROR OccurrenceConstraintViolation idToken: "
                "Object missing required field `idToken`",
            ),
            (
                frame(2, "4", "Heartbeat", {"x": 1}),
                "ERROR FormatViolation x: Object contains unknown field `x`",
            ),
        ],
        1,
    ),
    (
        "v16-unparseable",
        "1.6",
        [
            (
                "hello",
                "ERROR FormationViolation not valid JSON: "
                "JSON is malformed: invalid character (byte 0)",
            ),
            ('{"a":1}', "ERROR FormationViolation a frame must be a non-empty JSON array"),
            (
                '[2,"1","Heartbeat"]',
                "ERROR FormationViolation malformed CALL: expected [2, id, action, {payload}]",
            ),
            ('[2,1,"Heartbeat",{}]', "ERROR FormationViolation message id must be a string"),
            (
                frame(2, "x" * 37, "Heartbeat", {}),
                "ERROR FormationViolation message id longer than 36 characters",
            ),
        ],
        1,
    ),
    *[
        (
            f"v{v}-unparseable",
            v,
            [
                (
                    "[2,",
                    "ERROR RpcFrameworkError not valid JSON: Input data was truncated",
                ),
                ("[]", "ERROR RpcFrameworkError a frame must be a non-empty JSON array"),
                (
                    '["2","1","Heartbeat",{}]',
                    "ERROR RpcFrameworkError message type must be an integer",
                ),
            ],
            1,
        )
        for v in ("2.0.1", "2.1")
    ],
    (
        "v16-unknown-message-type-has-no-1.6-code",
        "1.6",
        [
            (frame(7, "1", {}), "ERROR GenericError message type 7 is not supported in OCPP 1.6"),
            (
                frame(5, "1", "GenericError", "", {}),
                "ERROR GenericError message type 5 is not supported in OCPP 1.6",
            ),
            (
                frame(6, "1", "Heartbeat", {}),
                "ERROR GenericError message type 6 is not supported in OCPP 1.6",
            ),
        ],
        1,
    ),
    (
        "v201-unknown-message-type",
        "2.0.1",
        [
            (
                frame(7, "1", {}),
                "ERROR MessageTypeNotSupported message type 7 is not supported in OCPP 2.0.1",
            ),
            (
                frame(6, "1", "NotifyPeriodicEventStream", STREAM_21),
                ("ERROR MessageTypeNotSupported message type 6 is not supported in OCPP 2.0.1"),
            ),
        ],
        1,
    ),
    (
        "v21-unknown-message-type",
        "2.1",
        [
            (
                frame(1, "1", {}),
                "ERROR MessageTypeNotSupported message type 1 is not supported in OCPP 2.1",
            )
        ],
        1,
    ),
    (
        "blank-lines-skip-and-do-not-fail",
        "2.0.1",
        [
            ("", "SKIP"),
            (frame(2, "1", "Heartbeat", {}), "OK CALL Heartbeat"),
            ("   \t ", "SKIP"),
            ("\r", "SKIP"),
        ],
        0,
    ),
    (
        "surrounding-whitespace-and-crlf",
        "1.6",
        [
            ("  " + frame(2, "1", "Heartbeat", {}) + "  \r", "OK CALL Heartbeat"),
            ("\t" + frame(3, "1", HEARTBEAT_RESP) + "\r", "OK CALLRESULT Heartbeat"),
        ],
        0,
    ),
    (
        "control-characters-escaped-one-line",
        "1.6",
        [
            (
                frame(2, "1", "Heartbeat", {"a\nb\u2028c": 1}),
                "ERROR FormationViolation a\\nb\\u2028c: "
                "Object contains unknown field `a\\nb\\u2028c`",
            ),
            (frame(4, "1", "GenericError", "", {}), "OK CALLERROR Heartbeat"),
        ],
        1,
    ),
]


@pytest.mark.parametrize(
    ("version", "rows", "exit_code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_table(version: str, rows: list[tuple[str, str]], exit_code: int) -> None:
    text = "".join(line + "\n" for line, _ in rows)
    result = run(version, text)
    assert result.output.split("\n")[:-1] == [expected for _, expected in rows]
    assert result.output.endswith("\n")
    assert result.exit_code == exit_code


# -- lenient --------------------------------------------------------------------------------------


def test_lenient_lists_issues_and_passes() -> None:
    mv = meter_values_16()
    mv["meterValue"][0]["sampledValue"][0]["unit"] = "kwh"
    mv["meterValue"][0]["sampledValue"][1]["measurand"] = "Bogus"
    text = "\n".join(
        [
            frame(2, "1", "MeterValues", mv),
            frame(2, "2", "Heartbeat", {"x": 1}),
            frame(3, "2", HEARTBEAT_RESP),
        ]
    )
    result = run("1.6", text, "--lenient")
    assert result.output.splitlines() == [
        "OK CALL MeterValues (2 issues: meterValue[0].sampledValue[0].unit: Invalid enum value "
        "'kwh'; meterValue[0].sampledValue[1].measurand: Invalid enum value 'Bogus')",
        "OK CALL Heartbeat (1 issue: x: Object contains unknown field `x`)",
        "OK CALLRESULT Heartbeat",
    ]
    assert result.exit_code == 0
    strict = run("1.6", text)
    assert strict.output.splitlines()[:2] == [
        "ERROR PropertyConstraintViolation meterValue[0].sampledValue[0].unit: "
        "Invalid enum value 'kwh'",
        "ERROR FormationViolation x: Object contains unknown field `x`",
    ]
    assert strict.exit_code == 1


def test_lenient_still_rejects_missing_required_fields() -> None:
    result = run("2.0.1", frame(2, "1", "Authorize", {}), "--lenient")
    assert result.output == (
        "ERROR OccurrenceConstraintViolation idToken: Object missing required field `idToken`\n"
    )
    assert result.exit_code == 1


# -- I/O, exit codes ------------------------------------------------------------------------------

GOOD = frame(2, "1", "Heartbeat", {}) + "\n" + frame(3, "1", HEARTBEAT_RESP) + "\n"
BAD = frame(2, "1", "Heartbeat", {"x": 1}) + "\n"


def test_file_argument_and_stdin_agree(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_text(GOOD + BAD)
    from_file = run("2.0.1", "", str(path))
    from_stdin = run("2.0.1", GOOD + BAD)
    from_dash = run("2.0.1", GOOD + BAD, "-")
    expected = [
        "OK CALL Heartbeat",
        "OK CALLRESULT Heartbeat",
        "ERROR FormatViolation x: Object contains unknown field `x`",
    ]
    for result in (from_file, from_stdin, from_dash):
        assert result.output.splitlines() == expected
        assert result.exit_code == 1


def test_last_line_without_newline_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.rstrip("\n").encode())
    result = run("1.6", "", str(path))
    assert result.output == "OK CALL Heartbeat\nOK CALLRESULT Heartbeat\n"
    assert result.exit_code == 0


def test_empty_input_is_ok() -> None:
    result = run("1.6", "")
    assert (result.output, result.exit_code) == ("", 0)


@pytest.mark.parametrize(
    ("version", "frame_code", "payload_code"),
    [
        ("1.6", "FormationViolation", "FormationViolation"),
        ("2.1", "RpcFrameworkError", "FormatViolation"),
    ],
)
def test_invalid_utf8(version: str, frame_code: str, payload_code: str) -> None:
    text = (
        b'[2,"1","Heartbeat",{"\xff":1}]\n'
        + b'[2,"\xc3","Heartbeat",{}]\n'
        + frame(2, "2", "DataTransfer", {"vendorId": "h\u00e9llo\u2603"}).encode()
    )
    result = run(version, text)
    out = result.output.splitlines()
    assert len(out) == 3
    assert out[0].startswith(f"ERROR {payload_code} invalid JSON: ")
    assert out[1].startswith(f"ERROR {frame_code} not valid JSON: ")
    assert out[2] == "OK CALL DataTransfer"
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--ocpp", "1.6", "/nonexistent/frames.log"], "No such file"),
        (["check", "--ocpp", "3.0"], "'3.0' is not one of"),
        (["check"], "Missing option '--ocpp'"),
        (["check", "--ocpp", "1.6", "--bogus"], "No such option"),
        (["nope"], "No such command"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, input=GOOD)
    assert result.exit_code == 2
    assert message in result.output
    assert "OK" not in result.output


def test_help_documents_output_codes_and_example() -> None:
    result = CliRunner().invoke(main, ["check", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for needle in (
        "OK <CALL|CALLRESULT|CALLERROR|CALLRESULTERROR|SEND> <Action>",
        "SKIP",
        'unpaired: no earlier CALL with id "<id>"',
        "RpcFrameworkError; 1.6: FormationViolation",
        "Exit status: 0 if no line is ERROR, 1 otherwise, 2 on usage errors.",
        "$ ocppkit check --ocpp 1.6 frames.log",
        "--lenient",
    ):
        assert needle in help_text
    group = CliRunner().invoke(main, ["--help"])
    assert group.exit_code == 0
    assert "check" in group.output


def test_console_script_points_at_main() -> None:
    (script,) = entry_points(group="console_scripts", name="ocppkit")
    assert script.value == "ocppkit.cli:main"
    assert script.load() is main


def test_real_entry_point_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "frames.log"
    path.write_text(GOOD)
    cmd = [sys.executable, "-m", "ocppkit", "check", "--ocpp", "2.0.1"]
    ok = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout) == (0, "OK CALL Heartbeat\nOK CALLRESULT Heartbeat\n")
    bad = subprocess.run(cmd, input=BAD + "\n", capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stdout == "ERROR FormatViolation x: Object contains unknown field `x`\nSKIP\n"
    missing = subprocess.run(
        [*cmd, str(tmp_path / "missing")], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert "Usage: ocppkit check" in missing.stderr


# -- exactly one output line per input line, whatever comes in -------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
_frames = st.builds(
    lambda kind, uid, action, payload: frame(kind, uid, action, payload),
    st.sampled_from([2, 3, 4, 5, 6, 7]),
    st.sampled_from(["1", "2", ""]) | st.text(max_size=40),
    st.sampled_from(["Heartbeat", "BootNotification", "MeterValues", "NotifyPeriodicEventStream"])
    | st.text(max_size=5),
    _json,
)
_line = _frames | st.text(max_size=30).map(lambda s: s.replace("\n", ""))


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(_line, max_size=8), version=st.sampled_from(["1.6", "2.0.1", "2.1"]))
def test_one_output_line_per_input_line(lines: list[str], version: str) -> None:
    lines = [line.replace("\n", "") for line in lines]  # one frame per line, by construction
    text = "".join(line + "\n" for line in lines)
    result = CliRunner().invoke(main, ["check", "--ocpp", version], input=text)
    out = result.output.splitlines()
    assert len(out) == len(lines)
    assert all(line.split(" ", 1)[0] in ("OK", "ERROR", "SKIP") for line in out)
    assert result.exit_code == (1 if any(line.startswith("ERROR") for line in out) else 0)


# -- the same verdicts as OcppSession ------------------------------------------------------------

PARITY_CALLS: list[tuple[OcppVersion, str | bytes]] = [
    (V16, frame(2, "1", "BootNotification", BOOT_16)),
    (V16, frame(2, "1", "BootNotification", {"chargePointVendor": "A"})),
    (V16, frame(2, "1", "MeterValues", meter_values_16("Bogus"))),
    (V16, frame(2, "1", "Authorize", {"idTag": 7})),
    (V16, frame(2, "1", "Authorize", {"idTag": "a", "x": None})),
    (
        V16,
        frame(
            2,
            "1",
            "StatusNotification",
            {
                "connectorId": 0,
                "errorCode": "NoError",
                "status": "Available",
                "timestamp": "yesterday",
            },
        ),
    ),
    (V16, frame(2, "1", "FlyToTheMoon", {})),
    (V16, '[2,"1","Heartbeat"]'),
    (V16, "[2,1,2,3]"),
    (V201, frame(2, "1", "TransactionEvent", transaction_event_201())),
    (V201, frame(2, "1", "TransactionEvent", transaction_event_201("Bogus"))),
    (V201, frame(2, "1", "TransactionEvent", {**transaction_event_201(), "seqNo": "3"})),
    (
        V201,
        frame(
            2, "1", "Authorize", {"idToken": {"idToken": "a", "type": "ISO14443"}, "customData": {}}
        ),
    ),
    (V201, frame(2, "1", "NotifyPeriodicEventStream", STREAM_21)),
    (V16, frame(7, "1", {})),
    (V201, "not json"),
    (V201, "[7]"),
    (V201, frame(7, "1", {})),
    (V21, frame(2, "1", "NotifyPeriodicEventStream", STREAM_21)),
    (V21, frame(2, "1", "BootNotification", BOOT_2X)),
    (V21, frame(2, "1", "BootNotification", {**BOOT_2X, "reason": "Bogus"})),
    (V21, frame(9, "1", "x", {})),
    (V21, '[2,"1","Heartbeat",{}, 5]'),
    (V21, b'[2,"1","Heartbeat",{"\xff":1}]'),
    (V16, b'[2,"1","Heartbeat",{"\xff":1}]'),
    (V201, b'[2,"\xc3","Heartbeat",{}]'),
]


@pytest.mark.parametrize(("version", "line"), PARITY_CALLS)
def test_call_verdict_matches_session(version: OcppVersion, line: str | bytes) -> None:
    session = OcppSession(version)
    session.receive_data(line)
    replies = session.data_to_send()
    events = session.events_received()
    (verdict,) = check_lines([line], version)
    if replies:
        (reply,) = replies
        _, _, code, description, _ = msgspec.json.decode(reply)
        assert verdict.line == f"ERROR {code} {description}"
        assert not verdict.ok
    elif any(isinstance(e, CallReceived) for e in events):
        (received,) = (e for e in events if isinstance(e, CallReceived))
        assert verdict == (True, f"OK CALL {received.action}")
    else:  # 1.6 cannot answer without a message id, nor an unknown message type
        assert version is V16
        with pytest.raises(FrameError) as exc:
            parse_frame(line, version)
        assert verdict == (False, f"ERROR {wire_code(exc.value.code, version)} {exc.value.reason}")


PARITY_RESULTS: list[tuple[OcppVersion, str, str]] = [
    (V16, frame(2, "r", "BootNotification", BOOT_16), frame(3, "r", BOOT_RESP_16)),
    (
        V16,
        frame(2, "r", "BootNotification", BOOT_16),
        frame(3, "r", {"currentTime": TS, "interval": 1}),
    ),
    (
        V16,
        frame(2, "r", "BootNotification", BOOT_16),
        frame(3, "r", {**BOOT_RESP_16, "status": "Yes"}),
    ),
    (V16, frame(2, "r", "Heartbeat", {}), frame(3, "r", {"currentTime": "noon"})),
    (
        V201,
        frame(2, "r", "BootNotification", BOOT_2X),
        frame(3, "r", {"currentTime": TS, "interval": 1}),
    ),
    (V201, frame(2, "r", "Heartbeat", {}), frame(3, "r", {})),
    (V21, frame(2, "r", "BootNotification", BOOT_2X), frame(3, "r", BOOT_RESP_2X)),
    (
        V21,
        frame(2, "r", "BootNotification", BOOT_2X),
        frame(3, "r", {**BOOT_RESP_2X, "interval": 1.5}),
    ),
]


@pytest.mark.parametrize(("version", "call_line", "result_line"), PARITY_RESULTS)
def test_result_verdict_matches_session(
    version: OcppVersion, call_line: str, result_line: str
) -> None:
    call = parse_frame(call_line, version)
    assert isinstance(call, Call)
    spec = actions(version)[call.action]
    request, _ = decode_payload(spec.request, call.payload)
    session = OcppSession(version)
    session.send_call(request, now=0.0, unique_id=call.unique_id)
    session.receive_data(result_line)
    (event,) = session.events_received()
    checked = list(check_lines([call_line, result_line], version))
    assert checked[0] == (True, f"OK CALL {call.action}")
    if isinstance(event, CallCompleted):
        assert checked[1] == (True, f"OK CALLRESULT {call.action}")
    else:
        assert isinstance(event, CallFailed)
        assert isinstance(event.error, PayloadValidationError)
        expected = f"ERROR {wire_code(event.error.code, version)} {event.error.description}"
        assert checked[1] == (False, expected)


@pytest.mark.parametrize("version", [V16, V201, V21])
def test_duplicate_call_verdict_matches_session(version: OcppVersion) -> None:
    line = frame(2, "dup", "Heartbeat", {})
    session = OcppSession(version)
    session.receive_data(line)
    session.receive_data(line)
    (reply,) = session.data_to_send()
    _, _, code, description, _ = msgspec.json.decode(reply)
    assert list(check_lines([line, line], version)) == [
        (True, "OK CALL Heartbeat"),
        (False, f"ERROR {code} {description}"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        frame(6, "s", "NotifyPeriodicEventStream", STREAM_21),
        frame(6, "s", "NotifyPeriodicEventStream", {**STREAM_21, "data": []}),
        frame(6, "s", "Heartbeat", {}),
    ],
)
def test_send_verdict_matches_session(line: str) -> None:
    session = OcppSession(V21)
    session.receive_data(line)
    (event,) = session.events_received()
    assert session.data_to_send() == []  # a SEND is never answered
    (verdict,) = check_lines([line], V21)
    assert verdict.ok is isinstance(event, SendReceived)


def test_checker_api_accepts_str_and_bytes() -> None:
    checker = FrameChecker(V201)
    assert checker.check(frame(2, "1", "Heartbeat", {})) == (True, "OK CALL Heartbeat")
    assert checker.check(frame(3, "1", HEARTBEAT_RESP).encode()) == (
        True,
        "OK CALLRESULT Heartbeat",
    )
    assert checker.check(b"  ") == (True, "SKIP")
