"""``ocppkit call``: send one CALL to a CSMS as a charge point and print the answer.

Connects to ``URL`` as a charge point (the URL's last path segment is the identity), sends one
CALL of ``ACTION`` with ``PAYLOAD_JSON`` (default ``{}``), prints the reply and closes::

    $ ocppkit call --ocpp 1.6 ws://localhost:9000/ocpp/CP-1 BootNotification \\
    >   '{"chargePointVendor": "ACME", "chargePointModel": "X1"}'
    {"status":"Accepted","currentTime":"2025-01-01T12:00:00Z","interval":300}
    $ ocppkit call --ocpp 1.6 ws://localhost:9000/ocpp/CP-1 Authorize '{"idTag": "04A2"}'
    CALLERROR NotSupported Authorize is not supported here

Before anything is sent, ``ACTION`` must be an action of the version that a charge point sends
(direction ``cp_to_csms`` or ``both``; not a 2.1 SEND-type message), and ``PAYLOAD_JSON`` must be
a valid request of that action (strict validation, as ``OcppSession`` checks what it sends). A
violation is a usage error naming the field (``chargePointModel: Object missing required field
`chargePointModel```). ``PAYLOAD_JSON`` may also be ``-`` (read standard input) or ``@FILE``.

Outcomes, with the exit status:

- **0**: a CALLRESULT whose payload is valid for the action's response: the payload is printed on
  standard output as the server sent it (one JSON document).
- **1**: the server answered with a CALLERROR: ``CALLERROR <errorCode> <errorDescription>`` on
  standard output (the code as on the wire), then ``details: <errorDetails JSON>`` when the
  details are not empty; or its CALLRESULT breaks the response schema: the payload on standard
  output and the violation on standard error.
- **2**: a usage error, or no answer: a one-line reason on standard error, such as
  ``connection refused``, ``HTTP 401 unauthorized``, ``TLS: certificate verify failed: …``,
  ``timed out …``, ``connection closed before the reply``.

``--timeout`` bounds opening the connection (TCP, TLS and the websocket handshake) and, again,
waiting for the reply. ``wss://`` URLs verify the server against ``--cacert`` (the system's roots
without it); ``--cert``/``--key`` present a client certificate (security profile 3);
``--password`` (or ``$OCPPKIT_PASSWORD``) sends HTTP Basic credentials with the identity as the
username (profiles 1 and 2). CALLs the CSMS sends meanwhile are answered ``NotSupported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import errno
import json
import os
import re
import socket
import ssl
import sys
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import click
import msgspec
from websockets.exceptions import InvalidURI

from ocppkit.cli._tls import client_tls
from ocppkit.cli.check import _one_line
from ocppkit.messages import ActionSpec, OcppRequest, actions
from ocppkit.protocol.codec import decode_payload
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    PayloadValidationError,
)
from ocppkit.protocol.frames import Call, CallResult, FrameError, parse_frame
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.client import HandshakeError, OcppClient
from ocppkit.runtime.connection import OcppConnection

__all__ = ["call"]

_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the server",
}


class _Failure(click.ClickException):
    """No answer: printed as ``Error: <reason>`` on standard error, exit status 2."""

    exit_code = 2


# -- before connecting: the action, the payload, the URL ------------------------------------------


def _action_spec(version: OcppVersion, action: str) -> ActionSpec:
    registry = actions(version)
    spec = registry.get(action)
    if spec is None:
        by_case = {name.lower(): name for name in registry}
        guess = by_case.get(action.lower()) or next(
            iter(difflib.get_close_matches(action, list(registry), n=1)), None
        )
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise click.BadParameter(f"unknown action {action!r} in OCPP {version}{hint}")
    if spec.direction == "csms_to_cp":
        raise click.BadParameter(
            f"{action} is sent by the CSMS to a charge point; "
            "ocppkit call sends what a charge point sends"
        )
    if spec.send_only:
        raise click.BadParameter(
            f"{action} is a SEND-type message, never answered; ocppkit call sends CALLs"
        )
    return spec


def _request(spec: ActionSpec, text: str) -> OcppRequest[Any]:
    """The validated request object of ``spec``'s action from its JSON text (strict)."""
    try:
        request, _ = decode_payload(spec.request, text.encode("utf-8", "surrogatepass"), "strict")
    except PayloadValidationError as exc:
        raise click.BadParameter(
            f"not a valid {spec.action} request: {_one_line(exc.description)}",
            param_hint="'PAYLOAD_JSON'",
        ) from None
    return request


def _read_payload(text: str) -> str:
    if text == "-":
        return sys.stdin.read()
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as file:
                return file.read()
        except (OSError, UnicodeError) as exc:
            raise click.BadParameter(
                f"cannot read {text[1:]!r}: {exc}", param_hint="'PAYLOAD_JSON'"
            ) from None
    return text


def _check_url(url: str) -> tuple[bool, str]:
    """``(tls, host)`` of a ``ws://`` or ``wss://`` URL ending in the charge point identity."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'URL'") from None
    if parts.scheme not in ("ws", "wss"):
        raise click.BadParameter(f"{url!r} is not a ws:// or wss:// URL", param_hint="'URL'")
    if not host:
        raise click.BadParameter(f"{url!r} names no host", param_hint="'URL'")
    if not unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]):
        raise click.BadParameter(
            f"{url!r} does not end with the charge point identity (ws://host:port/path/<identity>)",
            param_hint="'URL'",
        )
    return parts.scheme == "wss", host


# -- the call ------------------------------------------------------------------------------------


@dataclass
class _Reply:
    """Captures the raw CALLRESULT payload of our CALL (``OcppConnection.on_frame`` hook)."""

    version: OcppVersion
    action: str
    unique_id: str | None = None
    payload: bytes | None = None

    def __call__(self, direction: Literal["in", "out"], data: bytes | str) -> None:
        try:
            frame = parse_frame(data, self.version)
        except FrameError:
            return
        if direction == "out" and type(frame) is Call and frame.action == self.action:
            self.unique_id = self.unique_id or frame.unique_id
        elif direction == "in" and type(frame) is CallResult and frame.unique_id == self.unique_id:
            self.payload = bytes(frame.payload)


@dataclass
class _Outcome:
    response: Any = None
    raw: bytes | None = None
    error: CallError | None = None
    invalid: PayloadValidationError | None = None


async def _call(
    url: str,
    version: OcppVersion,
    request: OcppRequest[Any],
    action: str,
    *,
    password: str | None,
    ssl_context: ssl.SSLContext | None,
    timeout: float,
) -> _Outcome:
    client = OcppClient(
        url,
        versions=[version],
        password=password,
        ssl=ssl_context,
        ping_interval=None,
        open_timeout=timeout,
        call_timeout=timeout,
    )
    try:
        conn = await client.connect()
    except TimeoutError:
        raise _Failure(f"timed out opening the connection (after {timeout:g} s)") from None
    reply = _Reply(version, action)
    conn.on_frame = reply
    runner = asyncio.create_task(conn.run())
    try:
        response = await conn.call(request, timeout=timeout)
    except CallError as exc:
        return _Outcome(error=exc)
    except PayloadValidationError as exc:
        return _Outcome(raw=reply.payload, invalid=exc)
    except CallTimeoutError:
        raise _Failure(f"timed out: no reply to {action} within {timeout:g} s") from None
    except ConnectionClosedError:
        raise _Failure(f"connection closed before the reply to {action}") from None
    finally:
        await _close(conn, runner, timeout)
    return _Outcome(response=response, raw=reply.payload)


async def _close(conn: OcppConnection, runner: asyncio.Task[None], timeout: float) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(1000, "ocppkit call done"), timeout)
    if not runner.done():
        runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)


# -- failures as one line ------------------------------------------------------------------------

_ERRNO = re.compile(r"\[Errno (\d+)\]")
_ERRNO_OF: dict[type[OSError], int] = {
    ConnectionRefusedError: errno.ECONNREFUSED,
    ConnectionResetError: errno.ECONNRESET,
    ConnectionAbortedError: errno.ECONNABORTED,
    BrokenPipeError: errno.EPIPE,
}


def _os_reason(exc: OSError, host: str, tls: bool) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {host!r}: {exc.strerror or exc}"
    if tls and type(exc) is ConnectionResetError and exc.errno is None:  # from asyncio's sslproto
        return "TLS: the server closed the connection during the TLS handshake (not a TLS server?)"
    code = exc.errno
    if code is None:  # asyncio: "Multiple exceptions: [Errno 111] …, [Errno 111] …"
        codes = {int(c) for c in _ERRNO.findall(str(exc))}
        code = codes.pop() if len(codes) == 1 else None
    if code is None and not str(exc):
        code = _ERRNO_OF.get(type(exc))
    if code is None:
        return _one_line(str(exc)) or type(exc).__name__
    return _REASONS.get(code) or os.strerror(code).lower()


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed: {exc.verify_message}"
    reason = exc.reason or exc.strerror or str(exc)
    return "TLS: " + str(reason).lower().replace("_", " ")


def _cause(exc: BaseException) -> BaseException | None:
    """The first TLS or socket error behind a failed handshake, if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc.__cause__, exc.__context__]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        todo += [current.__cause__, current.__context__]
    return None


def _reason(exc: BaseException, host: str, tls: bool) -> str | None:
    """The one-line reason for a connection failure; None if ``exc`` is not one."""
    if isinstance(exc, HandshakeError):
        if exc.status:
            return f"HTTP {exc.status} {_one_line(exc.reason)}"
        cause = _cause(exc)
        if cause is not None:
            return _reason(cause, host, tls)
        hint = " (a TLS server? use wss://)" if not tls and "valid HTTP" in exc.reason else ""
        return f"websocket handshake failed: {_one_line(exc.reason)}{hint}"
    if isinstance(exc, ssl.SSLError):  # an OSError: test first
        return _tls_reason(exc)
    if isinstance(exc, TimeoutError):  # an OSError too
        return "timed out"
    if isinstance(exc, OSError):
        return _os_reason(exc, host, tls)
    if isinstance(exc, InvalidURI):
        return f"invalid URL: {exc}"
    if isinstance(exc, EOFError):
        return "connection closed by the server during the handshake"
    return None


# -- the command ---------------------------------------------------------------------------------


@click.command(
    "call",
    epilog="""\b
Examples:
  $ ocppkit call --ocpp 1.6 ws://localhost:9000/ocpp/CP-1 Heartbeat
  {"currentTime":"2025-01-01T12:00:00Z"}
  $ ocppkit call --ocpp 1.6 ws://localhost:9000/ocpp/CP-1 BootNotification \\
      '{"chargePointVendor": "ACME", "chargePointModel": "X1"}'
  {"status":"Accepted","currentTime":"2025-01-01T12:00:00Z","interval":300}
  $ ocppkit call --ocpp 2.0.1 --password s3cret --cacert ca.pem \\
      wss://csms.example/ocpp/CP-1 Authorize @authorize.json
  $ ocppkit call --ocpp 1.6 ws://localhost:9000/CP-1 StatusNotification - < status.json""",
)
@click.argument("url")
@click.argument("action")
@click.argument("payload", metavar="[PAYLOAD_JSON]", default="{}", required=False)
@click.option(
    "--ocpp",
    "version",
    type=click.Choice([v.value for v in OcppVersion]),
    required=True,
    help="OCPP version to speak (offered as the only subprotocol).",
)
@click.option(
    "--password",
    envvar="OCPPKIT_PASSWORD",
    help="HTTP Basic password; the username is the identity (env: OCPPKIT_PASSWORD).",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False),
    help="CA certificate(s), PEM, to verify a wss:// server (default: system roots).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Client certificate, PEM (security profile 3).",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False),
    help="Private key of --cert, PEM (if not in the --cert file).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to connect, and again seconds to wait for the reply.",
)
def call(
    url: str,
    action: str,
    payload: str,
    version: str,
    password: str | None,
    cacert: str | None,
    cert: str | None,
    key: str | None,
    timeout: float,
) -> None:
    """Send one CALL of ACTION to the CSMS at URL, as a charge point; print the reply.

    The last path segment of URL is the charge point identity. PAYLOAD_JSON
    (default {}; '-' reads standard input, @FILE a file) must be a valid
    request of ACTION, which must be an action a charge point sends; both are
    checked before connecting.

    \b
    Output and exit status:
      0  the CALLRESULT payload, as JSON, on standard output
      1  CALLERROR <errorCode> <errorDescription> (then 'details: {...}' if
         any); or an invalid CALLRESULT: its payload on standard output, the
         violation on standard error
      2  usage error, or no answer: the reason on standard error (connection
         refused, HTTP 401 unauthorized, TLS: certificate verify failed: ...,
         timed out ...)
    """
    ocpp = OcppVersion(version)
    try:
        spec = _action_spec(ocpp, action)
    except click.BadParameter as exc:
        exc.param_hint = "'ACTION'"
        raise
    request = _request(spec, _read_payload(payload))
    tls, host = _check_url(url)
    context = client_tls(tls, cacert, cert, key)
    try:
        outcome = asyncio.run(
            _call(
                url,
                ocpp,
                request,
                spec.action,
                password=password,
                ssl_context=context,
                timeout=timeout,
            )
        )
    except _Failure:
        raise
    except Exception as exc:
        reason = _reason(exc, host, tls)
        if reason is None:
            raise
        raise _Failure(reason) from None
    _report(outcome, spec)


def _report(outcome: _Outcome, spec: ActionSpec) -> None:
    if outcome.error is not None:
        error = outcome.error
        click.echo(
            f"CALLERROR {_one_line(error.wire_code)} {_one_line(error.description)}".rstrip()
        )
        if error.details:
            click.echo(f"details: {json.dumps(error.details, ensure_ascii=False)}")
        raise click.exceptions.Exit(1)
    if outcome.invalid is not None:
        if outcome.raw is not None:
            click.echo(outcome.raw.decode("utf-8", "replace"))
        response = spec.response.__name__ if spec.response else "response"
        click.echo(
            f"Error: the CALLRESULT is not a valid {response}: "
            f"{_one_line(outcome.invalid.description)}",
            err=True,
        )
        raise click.exceptions.Exit(1)
    raw = outcome.raw
    if raw is None:  # pragma: no cover - the hook always sees the CALLRESULT first
        raw = msgspec.json.encode(outcome.response)
    click.echo(raw.decode("utf-8", "replace"))
