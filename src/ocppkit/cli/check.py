"""``ocppkit check``: validate OCPP-J frames, one per line, as an ocppkit peer would.

Every input line is one websocket text message (an OCPP-J frame). Each gets exactly one output
line::

    $ printf '%s\\n' '[2,"1","Heartbeat",{}]' '[3,"1",{"currentTime":"2025-01-01T00:00:00Z"}]' \\
    >   '[2,"2","Authorize",{}]' | ocppkit check --ocpp 1.6
    OK CALL Heartbeat
    OK CALLRESULT Heartbeat
    ERROR OccurenceConstraintViolation idTag: Object missing required field `idTag`

The verdicts are the ones ``OcppSession`` reaches (the same frame parser and payload decoder):

- ``OK <TYPE> <Action>``: a valid frame. ``TYPE`` is ``CALL``, ``CALLRESULT``, ``CALLERROR``,
  ``CALLRESULTERROR`` (2.1) or ``SEND`` (2.1). A reply names the action of its CALL.
- ``ERROR <errorCode> <description>``: the CALLERROR an ocppkit peer would answer, with the code
  spelled as on the wire for the version (1.6: ``FormationViolation``,
  ``OccurenceConstraintViolation``) and the description naming the field
  (``meterValue[0].sampledValue[2].measurand: Invalid enum value 'Bogus'``):

  - unparseable frame: 2.x ``RpcFrameworkError``, 1.6 ``FormationViolation``;
  - unknown message type: ``MessageTypeNotSupported`` (1.6, which has no such code:
    ``GenericError``);
  - CALL of an action the version does not have, or of a SEND-only action: ``NotImplemented``;
    SEND (2.1) of an action that is not SEND-only: ``NotImplemented``;
  - payload breaking its schema: ``FormatViolation`` (1.6 ``FormationViolation``),
    ``TypeConstraintViolation``, ``PropertyConstraintViolation``,
    ``OccurrenceConstraintViolation`` (1.6 ``OccurenceConstraintViolation``).

- ``SKIP``: a blank line (or one of whitespace only). It does not make the check fail.

Pairing: a CALLRESULT or CALLERROR is paired with the last earlier CALL of the same message id,
if that CALL has not been answered yet (it is then answered), and a CALLRESULT's payload is
validated as that action's response. A 2.1 CALLRESULTERROR is paired with the earlier CALL of
its id (normally already answered by the CALLRESULT it rejects). A reply with no such CALL is
``ERROR <frame code> unpaired: no earlier CALL with id "<id>"`` where the frame code is the
version's code for a broken RPC frame (2.x ``RpcFrameworkError``, 1.6 ``FormationViolation``).
Every CALL whose message id could be read takes part in pairing, even one rejected for its
action or payload, so the CALLERROR answering it pairs. A CALL reusing the id of a CALL not
answered yet is rejected as ``OcppSession`` rejects it (2.x ``RpcFrameworkError``, 1.6
``GenericError``: ``a CALL with id '…' is already being processed``); replies keep pairing with
the first one.

Surrounding whitespace, a trailing ``\\r`` and a UTF-8 byte-order mark on the first line are
ignored. Invalid UTF-8 gets the verdict ``OcppSession`` gives it (an unparseable frame, or a
``FormatViolation`` payload). Output text is kept on one line (control characters from the input
are escaped).

Exit status: 0 when no line is ``ERROR``, 1 otherwise, 2 on a usage error (bad option, missing
file).

With ``--lenient``, payloads are decoded as ``ValidationPolicy(incoming="lenient")`` would: what
a typed object can still hold is accepted and listed, ``OK CALL MeterValues (1 issue:
meterValue[0].sampledValue[0].unit: Invalid enum value 'kwh')``; missing required fields and
wrong JSON types are still errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, NamedTuple

import click
import msgspec

from ocppkit.messages import ActionSpec, OcppStruct, actions
from ocppkit.protocol.codec import Issue, Mode, decode_payload
from ocppkit.protocol.errors import ErrorCode, PayloadValidationError, wire_code
from ocppkit.protocol.frames import Call, CallError, CallResult, FrameError, Send, parse_frame
from ocppkit.protocol.versions import OcppVersion

__all__ = ["FrameChecker", "Verdict", "check", "check_lines"]

_BOM = b"\xef\xbb\xbf"
# Characters that would break "one output line per input line" (str.splitlines() splits on all).
_ESCAPES = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x2029)
}
_ESCAPES[ord("\n")] = "\\n"
_ESCAPES[ord("\r")] = "\\r"
_ESCAPES[ord("\t")] = "\\t"


def _one_line(text: str) -> str:
    return text.translate(_ESCAPES) if not text.isprintable() else text


class Verdict(NamedTuple):
    """The result for one input line: ``ok`` is False only for ``ERROR`` lines."""

    ok: bool
    line: str
    """The output line, without its newline (``OK CALL Heartbeat``, ``ERROR …``, ``SKIP``)."""


_SKIP = Verdict(True, "SKIP")


class FrameChecker:
    """Checks frames of one connection in order, pairing replies with the CALLs before them.

    ::

        checker = FrameChecker(OcppVersion.V201)
        checker.check(b'[2,"a","Heartbeat",{}]')   # Verdict(ok=True, line='OK CALL Heartbeat')

    ``mode`` is the payload validation mode (``"strict"`` or ``"lenient"``).
    """

    def __init__(self, version: OcppVersion, mode: Mode = "strict") -> None:
        self.version = version
        self.mode: Mode = mode
        self._actions = actions(version)
        self._frame_code = wire_code(ErrorCode.RPC_FRAMEWORK_ERROR, version)
        self._pending: dict[str, str] = {}  # message id -> action of a CALL not yet answered
        self._answered: dict[str, str] = {}  # 2.1: CALLs answered by a CALLRESULT
        self._first = True

    def check(self, line: bytes | str) -> Verdict:
        """The verdict for one line (one frame; surrounding whitespace ignored)."""
        data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        if self._first:
            self._first = False
            data = data.removeprefix(_BOM)
        data = data.strip()
        if not data:
            return _SKIP
        try:
            frame = parse_frame(data, self.version)
        except FrameError as exc:
            return self._error(exc.code, exc.reason)
        if isinstance(frame, Call):
            return self._call(frame)
        if isinstance(frame, CallResult):
            return self._result(frame)
        if isinstance(frame, CallError):
            action = self._pending.pop(frame.unique_id, None)
            if action is None:
                return self._unpaired(frame.unique_id)
            return Verdict(True, f"OK CALLERROR {_one_line(action)}")
        if isinstance(frame, Send):
            return self._send(frame)
        action = self._answered.pop(frame.unique_id, None)  # a CallResultError (2.1)
        if action is None:
            action = self._pending.get(frame.unique_id)
        if action is None:
            return self._unpaired(frame.unique_id)
        return Verdict(True, f"OK CALLRESULTERROR {_one_line(action)}")

    # -- one per frame type ------------------------------------------------------------------
    def _call(self, frame: Call) -> Verdict:
        uid, action = frame.unique_id, frame.action
        if uid in self._pending:  # as OcppSession: the first CALL stays the one a reply pairs with
            code = ErrorCode.RPC_FRAMEWORK_ERROR if self.version.is_2x else ErrorCode.GENERIC_ERROR
            return self._error(code, f"a CALL with id {uid!r} is already being processed")
        self._pending[uid] = action
        spec = self._actions.get(action)
        if spec is None or spec.send_only:
            return self._unknown_action(action)
        return self._decode("CALL", spec, spec.request, frame.payload)

    def _result(self, frame: CallResult) -> Verdict:
        uid = frame.unique_id
        action = self._pending.pop(uid, None)
        if action is None:
            return self._unpaired(uid)
        spec = self._actions.get(action)
        if spec is None or spec.response is None:
            return self._unknown_action(action)
        if self.version is OcppVersion.V21:
            self._answered[uid] = action
        return self._decode("CALLRESULT", spec, spec.response, frame.payload)

    def _send(self, frame: Send) -> Verdict:
        spec = self._actions.get(frame.action)
        if spec is None:
            return self._unknown_action(frame.action)
        if not spec.send_only:
            return self._error(
                ErrorCode.NOT_IMPLEMENTED,
                f"{frame.action!r} is not a SEND-type action (send it as a CALL)",
            )
        return self._decode("SEND", spec, spec.request, frame.payload)

    # -- helpers -----------------------------------------------------------------------------
    def _decode(
        self, kind: str, spec: ActionSpec, tp: type[OcppStruct], payload: msgspec.Raw
    ) -> Verdict:
        try:
            _, issues = decode_payload(tp, payload, self.mode)
        except PayloadValidationError as exc:
            return self._error(exc.code, exc.description)
        if issues:
            return Verdict(True, f"OK {kind} {spec.action} {_issues(issues)}")
        return Verdict(True, f"OK {kind} {spec.action}")

    def _unknown_action(self, action: str) -> Verdict:
        return self._error(
            ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r} in OCPP {self.version}"
        )

    def _unpaired(self, unique_id: str) -> Verdict:
        quoted = _one_line(msgspec.json.encode(unique_id).decode())
        return Verdict(
            False, f"ERROR {self._frame_code} unpaired: no earlier CALL with id {quoted}"
        )

    def _error(self, code: ErrorCode, description: str) -> Verdict:
        return Verdict(False, f"ERROR {wire_code(code, self.version)} {_one_line(description)}")


def _issues(issues: list[Issue]) -> str:
    noun = "issue" if len(issues) == 1 else "issues"
    return _one_line(f"({len(issues)} {noun}: {'; '.join(map(str, issues))})")


def check_lines(
    lines: Iterable[bytes | str], version: OcppVersion, mode: Mode = "strict"
) -> Iterator[Verdict]:
    """One ``Verdict`` per line of ``lines``, in order (see ``FrameChecker``)."""
    checker = FrameChecker(version, mode)
    for line in lines:
        yield checker.check(line)


@click.command(
    "check",
    epilog="""\b
Example:
  $ ocppkit check --ocpp 1.6 frames.log
  OK CALL BootNotification
  ERROR OccurenceConstraintViolation status: Object missing required field `status`
  $ tail -f capture.log | ocppkit check --ocpp 2.0.1 --lenient -""",
)
@click.option(
    "--ocpp",
    "version",
    type=click.Choice([v.value for v in OcppVersion]),
    required=True,
    help="OCPP version of the connection the frames come from.",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="Accept what lenient validation accepts and list it: OK ... (N issues: ...).",
)
@click.argument("file", type=click.File("rb"), default="-")
def check(version: str, lenient: bool, file: IO[bytes]) -> None:
    """Validate OCPP-J frames, one per line, from FILE (default: standard input).

    Prints exactly one line per input line:

    \b
      OK <CALL|CALLRESULT|CALLERROR|CALLRESULTERROR|SEND> <Action>
      ERROR <errorCode> <description with the field path>
      SKIP                       (blank line; not an error)

    The error code is the one an ocppkit peer would answer with, spelled as on
    the wire for the version (1.6: FormationViolation, OccurenceConstraintViolation).
    An unparseable frame is RpcFrameworkError (1.6: FormationViolation); an
    unknown message type MessageTypeNotSupported (1.6: GenericError); a CALL of an
    unknown or SEND-only action, or a SEND of an action that is not SEND-only,
    NotImplemented.

    A CALLRESULT or CALLERROR (and a 2.1 CALLRESULTERROR) is paired with the earlier
    CALL of the same message id, and a CALLRESULT's payload is validated as that
    action's response. Without such a CALL the line is
    'ERROR <code> unpaired: no earlier CALL with id "<id>"', with the version's
    frame-error code (RpcFrameworkError; 1.6: FormationViolation). A CALL reusing
    the id of a CALL not answered yet is RpcFrameworkError (1.6: GenericError).

    Exit status: 0 if no line is ERROR, 1 otherwise, 2 on usage errors.
    """
    checker = FrameChecker(OcppVersion(version), "lenient" if lenient else "strict")
    out = sys.stdout
    failed = False
    try:
        for raw in file:
            verdict = checker.check(raw)
            if not verdict.ok:
                failed = True
            out.write(verdict.line + "\n")
        out.flush()
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit flush from failing
        raise click.exceptions.Exit(1) from None
    if failed:
        raise click.exceptions.Exit(1)
