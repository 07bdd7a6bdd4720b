"""``ocppkit call`` against a real ``OcppServer`` on loopback.

The server runs in a background thread with its own event loop (the command runs
``asyncio.run`` in the test's thread); every test waits on events, never on the clock.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ocppkit.cli import main
from ocppkit.messages import v16, v201
from ocppkit.protocol import OcppVersion, PropertyConstraintViolationError, ValidationPolicy
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.runtime.security import server_ssl_context
from ocppkit.runtime.server import Handshake, OcppServer
from tests.runtime.certs import Pki

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
BOOT = '{"chargePointVendor": "ACME", "chargePointModel": "X1"}'
PASSWORD = "s3cret-password"


class ServerThread:
    """An ``OcppServer`` serving on 127.0.0.1 from a thread with its own event loop."""

    def __init__(self, make: Callable[[], OcppServer], ssl: Any = None) -> None:
        self._make = make
        self._ssl = ssl
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="ocpp-test-server", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.gate: asyncio.Event | None = None  # a handler waits on it (see `slow`)
        self.calls: list[tuple[str, str]] = []  # (identity, action) of every CALL handled

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(30), "server did not start"
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None
        self.release()
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive()

    def release(self) -> None:
        """Let a handler waiting on ``gate`` answer."""
        assert self.loop is not None
        assert self.gate is not None
        self.loop.call_soon_threadsafe(self.gate.set)

    def url(self, identity: str = "CP-1", *, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/ocpp/{identity}"

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.gate = asyncio.Event()
        self._stop = asyncio.Event()
        server = self._make()
        await server.start("127.0.0.1", 0, ssl=self._ssl)
        self.port = server.port
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.close(grace=5)


def routers(state: list[ServerThread]) -> dict[OcppVersion, Router]:
    """1.6: BootNotification, Heartbeat, DataTransfer (a CALLERROR with details), a
    StatusNotification that answers only once released, a StartTransaction answered with an
    invalid response. 2.0.1: Heartbeat. Anything else is answered NotSupported."""
    r16, r201 = Router(OcppVersion.V16), Router(OcppVersion.V201)

    def seen(conn: OcppConnection, action: str) -> None:
        state[0].calls.append((conn.identity, action))

    @r16.on(v16.BootNotificationRequest)
    async def boot(request: v16.BootNotificationRequest, conn: OcppConnection) -> Any:
        seen(conn, "BootNotification")
        return v16.BootNotificationResponse(status="Accepted", current_time=NOW, interval=300)

    @r16.on(v16.HeartbeatRequest)
    async def heartbeat(request: v16.HeartbeatRequest, conn: OcppConnection) -> Any:
        seen(conn, "Heartbeat")
        return v16.HeartbeatResponse(current_time=NOW)

    @r16.on(v16.DataTransferRequest)
    async def data_transfer(request: v16.DataTransferRequest, conn: OcppConnection) -> Any:
        seen(conn, "DataTransfer")
        raise PropertyConstraintViolationError(
            f"unknown vendor {request.vendor_id}", {"vendorId": request.vendor_id}
        )

    @r16.on(v16.StatusNotificationRequest)
    async def status(request: v16.StatusNotificationRequest, conn: OcppConnection) -> Any:
        seen(conn, "StatusNotification")
        gate = state[0].gate
        assert gate is not None
        await gate.wait()
        return v16.StatusNotificationResponse()

    @r16.on(v16.StartTransactionRequest)
    async def start(request: v16.StartTransactionRequest, conn: OcppConnection) -> Any:
        # sent unchecked (outgoing validation off for this action): "Bogus" breaks the schema
        info = v16.IdTagInfo(status="Bogus")  # type: ignore[arg-type]
        return v16.StartTransactionResponse(id_tag_info=info, transaction_id=7)

    @r201.on(v201.HeartbeatRequest)
    async def heartbeat201(request: v201.HeartbeatRequest, conn: OcppConnection) -> Any:
        seen(conn, "Heartbeat")
        return v201.HeartbeatResponse(current_time=NOW)

    return {OcppVersion.V16: r16, OcppVersion.V201: r201}


async def auth(handshake: Handshake) -> bool:
    """Identities starting with ``SEC`` need the password; the others get in without one."""
    if handshake.identity.startswith("SEC"):
        return handshake.password == PASSWORD.encode()
    return True


def start_server(ssl: Any = None, security_profile: int = 0) -> ServerThread:
    state: list[ServerThread] = []
    unchecked = ValidationPolicy(per_action={"StartTransaction": ("strict", "off")})
    thread = ServerThread(
        lambda: OcppServer(
            routers(state), auth=auth, validation=unchecked, security_profile=security_profile
        ),
        ssl=ssl,
    )
    state.append(thread)
    return thread


@pytest.fixture(scope="module")
def csms() -> Iterator[ServerThread]:
    with start_server() as server:
        yield server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_csms(pki: Pki) -> Iterator[ServerThread]:
    context = server_ssl_context(str(pki.server_cert), str(pki.server_key))
    with start_server(ssl=context) as server:
        yield server


def ocppkit(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["call", *args], input=stdin)


def free_port_refusing() -> socket.socket:
    """A bound, non-listening socket: connecting to its port is refused (keep it open)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


# -- answers ---------------------------------------------------------------------------------


def test_callresult_is_printed_as_json(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "1.6", csms.url("CP-boot"), "BootNotification", BOOT)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "status": "Accepted",
        "currentTime": "2025-01-02T03:04:05Z",
        "interval": 300,
    }
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert ("CP-boot", "BootNotification") in csms.calls


def test_default_payload_and_other_version(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "2.0.1", csms.url("CP-201"), "Heartbeat")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"currentTime": "2025-01-02T03:04:05Z"}


def test_payload_from_stdin_and_file(csms: ServerThread, tmp_path: Path) -> None:
    result = ocppkit("--ocpp", "1.6", csms.url(), "BootNotification", "-", stdin=BOOT)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "Accepted"
    path = tmp_path / "boot.json"
    path.write_text(BOOT)
    result = ocppkit("--ocpp", "1.6", csms.url(), "BootNotification", f"@{path}")
    assert result.exit_code == 0, result.output
    missing = ocppkit("--ocpp", "1.6", csms.url(), "BootNotification", f"@{tmp_path}/none")
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr


def test_callerror_for_an_action_the_server_lacks(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "1.6", csms.url(), "Authorize", '{"idTag": "04A2"}')
    assert result.exit_code == 1, result.output
    assert result.stdout == "CALLERROR NotSupported Authorize is not supported here\n"


def test_callerror_with_details_and_1_6_spelling(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "1.6", csms.url(), "DataTransfer", '{"vendorId": "com.x"}')
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "CALLERROR PropertyConstraintViolation unknown vendor com.x",
        'details: {"vendorId": "com.x"}',
    ]


def test_callerror_in_2_0_1(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "2.0.1", csms.url(), "StatusNotification", STATUS_201)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("CALLERROR NotSupported ")


def test_invalid_callresult_is_printed_and_exit_1(csms: ServerThread) -> None:
    payload = json.dumps(
        {"connectorId": 1, "idTag": "04A2", "meterStart": 0, "timestamp": "2025-01-01T00:00:00Z"}
    )
    result = ocppkit("--ocpp", "1.6", csms.url(), "StartTransaction", payload)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == {"idTagInfo": {"status": "Bogus"}, "transactionId": 7}
    assert result.stderr == (
        "Error: the CALLRESULT is not a valid StartTransactionResponse: "
        "idTagInfo.status: Invalid enum value 'Bogus'\n"
    )


STATUS_201 = json.dumps(
    {
        "timestamp": "2025-01-01T00:00:00Z",
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    }
)


# -- no answer: exit 2 with one line -----------------------------------------------------------


def test_unreachable_port_is_connection_refused() -> None:
    with free_port_refusing() as sock:
        port = sock.getsockname()[1]
        result = ocppkit("--ocpp", "1.6", f"ws://127.0.0.1:{port}/CP-1", "Heartbeat")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: connection refused\n"


def test_wrong_password_is_http_401(csms: ServerThread) -> None:
    url = csms.url("SEC-1")
    wrong = ocppkit("--ocpp", "1.6", "--password", "nope", url, "Heartbeat")
    assert wrong.exit_code == 2
    assert wrong.stderr == "Error: HTTP 401 unauthorized\n"
    missing = ocppkit("--ocpp", "1.6", url, "Heartbeat")
    assert (missing.exit_code, missing.stderr) == (2, "Error: HTTP 401 unauthorized\n")
    right = ocppkit("--ocpp", "1.6", "--password", PASSWORD, url, "Heartbeat")
    assert right.exit_code == 0, right.output
    env = CliRunner(env={"OCPPKIT_PASSWORD": PASSWORD}).invoke(
        main, ["call", "--ocpp", "1.6", url, "Heartbeat"]
    )
    assert env.exit_code == 0, env.output


def test_version_the_server_does_not_serve_is_http_400(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "2.1", csms.url(), "Heartbeat")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: HTTP 400 no supported OCPP subprotocol offered")
    assert result.stderr.count("\n") == 1


def test_no_reply_times_out(csms: ServerThread) -> None:
    payload = '{"connectorId": 1, "errorCode": "NoError", "status": "Available"}'
    try:
        result = ocppkit(
            "--ocpp", "1.6", "--timeout", "0.3", csms.url(), "StatusNotification", payload
        )
    finally:
        csms.release()
    assert result.exit_code == 2
    assert result.stderr == "Error: timed out: no reply to StatusNotification within 0.3 s\n"


def test_no_handshake_answer_times_out() -> None:
    with socket.socket() as listener:  # accepts TCP (backlog) but never answers the upgrade
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"ws://127.0.0.1:{listener.getsockname()[1]}/CP-1"
        result = ocppkit("--ocpp", "1.6", "--timeout", "0.3", url, "Heartbeat")
    assert result.exit_code == 2
    assert result.stderr == "Error: timed out opening the connection (after 0.3 s)\n"


# -- TLS -----------------------------------------------------------------------------------------


def test_tls_with_the_ca(tls_csms: ServerThread, pki: Pki) -> None:
    url = tls_csms.url(scheme="wss")
    result = ocppkit("--ocpp", "1.6", "--cacert", pki.ca_file, url, "Heartbeat")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"currentTime": "2025-01-02T03:04:05Z"}


def test_tls_untrusted_server(tls_csms: ServerThread, pki: Pki) -> None:
    url = tls_csms.url(scheme="wss")
    result = ocppkit("--ocpp", "1.6", "--cacert", str(pki.untrusted_ca.cert_path), url, "Heartbeat")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: TLS: certificate verify failed: ")
    assert result.stderr.count("\n") == 1


def test_client_certificate_security_profile_3(pki: Pki) -> None:
    context = server_ssl_context(
        str(pki.server_cert), str(pki.server_key), cafile=pki.ca_file, require_client_cert=True
    )
    with start_server(ssl=context, security_profile=3) as server:
        url = server.url("CP-3", scheme="wss")
        cert, key = pki.client("CP-3")
        ok = ocppkit(
            "--ocpp", "1.6", "--cacert", pki.ca_file, "--cert", cert, "--key", key, url, "Heartbeat"
        )
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout) == {"currentTime": "2025-01-02T03:04:05Z"}
        other, other_key = pki.client("CP-other")
        wrong_cn = ocppkit(
            "--ocpp", "1.6", "--cacert", pki.ca_file, "--cert", other, "--key", other_key, url,
            "Heartbeat",
        )  # fmt: skip
        assert wrong_cn.exit_code == 2
        assert wrong_cn.stderr == (
            "Error: HTTP 403 client certificate CN does not match the identity\n"
        )
        none = ocppkit("--ocpp", "1.6", "--cacert", pki.ca_file, url, "Heartbeat")
        assert none.exit_code == 2  # TLS 1.3: the refusal shows as a dropped connection
        assert none.stderr.startswith("Error: ")
        assert "certificate" in none.stderr
        assert none.stderr.count("\n") == 1


def test_key_without_cert_is_a_usage_error(pki: Pki) -> None:
    _, key = pki.client("CP-1")
    result = ocppkit("--ocpp", "1.6", "--key", key, "wss://127.0.0.1:9/CP-1", "Heartbeat")
    assert result.exit_code == 2
    assert "--key needs --cert" in result.stderr
    bad = ocppkit("--ocpp", "1.6", "--cacert", key, "wss://127.0.0.1:9/CP-1", "Heartbeat")
    assert bad.exit_code == 2
    assert "cannot load the TLS files" in bad.stderr


def test_plain_ws_to_a_tls_server_and_tls_to_a_plain_one(
    tls_csms: ServerThread, csms: ServerThread, pki: Pki
) -> None:
    plain = ocppkit("--ocpp", "1.6", tls_csms.url(), "Heartbeat")
    assert plain.exit_code == 2
    assert plain.stderr.startswith("Error: websocket handshake failed: ")
    assert plain.stderr.endswith(" (a TLS server? use wss://)\n")
    assert plain.stderr.count("\n") == 1
    tls = ocppkit("--ocpp", "1.6", "--cacert", pki.ca_file, csms.url(scheme="wss"), "Heartbeat")
    assert tls.exit_code == 2
    assert tls.stderr == (
        "Error: TLS: the server closed the connection during the TLS handshake"
        " (not a TLS server?)\n"
    )


# -- usage errors (nothing is sent) ------------------------------------------------------------


def test_invalid_payload_names_the_field(csms: ServerThread) -> None:
    calls = len(csms.calls)
    missing = ocppkit("--ocpp", "1.6", csms.url(), "BootNotification", '{"chargePointVendor": "A"}')
    assert missing.exit_code == 2
    assert "Invalid value for 'PAYLOAD_JSON': not a valid BootNotification request: " in (
        missing.stderr
    )
    assert "chargePointModel: Object missing required field `chargePointModel`" in missing.stderr
    nested = json.dumps(
        {
            "connectorId": 1,
            "meterValue": [
                {
                    "timestamp": "2025-01-01T00:00:00Z",
                    "sampledValue": [{"value": "1"}, {"value": "2", "measurand": "Bogus"}],
                }
            ],
        }
    )
    bad_enum = ocppkit("--ocpp", "1.6", csms.url(), "MeterValues", nested)
    assert bad_enum.exit_code == 2
    assert "meterValue[0].sampledValue[1].measurand: Invalid enum value 'Bogus'" in (
        bad_enum.stderr
    )
    not_json = ocppkit("--ocpp", "1.6", csms.url(), "Heartbeat", "{nope")
    assert not_json.exit_code == 2
    assert "invalid JSON" in not_json.stderr
    assert len(csms.calls) == calls  # nothing reached the server


@pytest.mark.parametrize(
    ("version", "action", "message"),
    [
        ("1.6", "Bogus", "unknown action 'Bogus' in OCPP 1.6"),
        ("1.6", "heartbeat", "unknown action 'heartbeat' in OCPP 1.6 (did you mean 'Heartbeat'?)"),
        ("1.6", "NotifyReport", "unknown action 'NotifyReport' in OCPP 1.6"),
        ("1.6", "Reset", "Reset is sent by the CSMS to a charge point"),
        ("2.0.1", "GetVariables", "GetVariables is sent by the CSMS to a charge point"),
        ("2.1", "NotifyPeriodicEventStream", "NotifyPeriodicEventStream is a SEND-type message"),
    ],
)
def test_actions_a_charge_point_cannot_call(version: str, action: str, message: str) -> None:
    with free_port_refusing() as sock:  # never contacted: refused before connecting
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/CP-1"
        result = ocppkit("--ocpp", version, url, action)
    assert result.exit_code == 2
    assert "Invalid value for 'ACTION': " + message in result.stderr
    assert "connection refused" not in result.stderr


def test_data_transfer_goes_both_ways_so_a_charge_point_may_call_it(csms: ServerThread) -> None:
    result = ocppkit("--ocpp", "1.6", csms.url(), "DataTransfer", '{"vendorId": "v"}')
    assert result.exit_code == 1  # the server's CALLERROR, so it was sent


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/CP-1", "is not a ws:// or wss:// URL"),
        ("ws://127.0.0.1:9", "does not end with the charge point identity"),
        ("ws://127.0.0.1:9/", "does not end with the charge point identity"),
        ("ws://:9/CP-1", "names no host"),
        ("ws://127.0.0.1:99999/CP-1", "Invalid value for 'URL'"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    result = ocppkit("--ocpp", "1.6", url, "Heartbeat")
    assert result.exit_code == 2
    assert message in result.stderr


def test_tls_options_need_wss(pki: Pki) -> None:
    result = ocppkit("--ocpp", "1.6", "--cacert", pki.ca_file, "ws://127.0.0.1:9/CP", "Heartbeat")
    assert result.exit_code == 2
    assert "--cacert, --cert and --key need a wss:// URL" in result.stderr


def test_version_is_required_and_checked() -> None:
    assert ocppkit("ws://127.0.0.1:9/CP-1", "Heartbeat").exit_code == 2
    result = ocppkit("--ocpp", "1.5", "ws://127.0.0.1:9/CP-1", "Heartbeat")
    assert result.exit_code == 2
    assert "'1.5' is not one of '1.6', '2.0.1', '2.1'" in result.stderr


# -- help and the real entry point ---------------------------------------------------------------


def test_help_lists_the_command_and_has_examples() -> None:
    group = CliRunner().invoke(main, ["--help"])
    assert "Send one CALL to a CSMS as a charge point." in group.output
    result = ocppkit("--help")
    assert result.exit_code == 0
    assert "Usage: main call [OPTIONS] URL ACTION [PAYLOAD_JSON]" in result.output
    assert "ocppkit call --ocpp 1.6 ws://localhost:9000/ocpp/CP-1 Heartbeat" in result.output
    assert "HTTP 401 unauthorized" in result.output


def test_real_process(csms: ServerThread) -> None:
    cmd = [sys.executable, "-m", "ocppkit", "call", "--ocpp", "1.6"]
    ok = subprocess.run(
        [*cmd, csms.url(), "BootNotification", BOOT], capture_output=True, text=True, timeout=60
    )
    assert (ok.returncode, ok.stderr) == (0, "")
    assert json.loads(ok.stdout)["interval"] == 300
    error = subprocess.run(
        [*cmd, csms.url(), "Authorize", '{"idTag": "1"}'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (error.returncode, error.stdout) == (
        1,
        "CALLERROR NotSupported Authorize is not supported here\n",
    )
