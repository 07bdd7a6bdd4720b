"""Where one validated call's time goes inside ocppkit (no sockets): a layer-by-layer breakdown.

Feeds a 1.6 MeterValues CALL (7 sampled values) to an ``OcppConnection`` over a push transport
that writes synchronously (as the picows backend does), with a plain-function handler, and times
cumulative prefixes of the work:

1. ``parse_frame``                       the frame (one msgspec decode into a tagged union)
2. + payload ``decode_payload``          strict decode + validation of the request
3. ``OcppSession`` receive + answer       1 + 2 + session bookkeeping, the event, ``send_result``
                                         (encode the response, re-check it strictly), the frame
4. ``OcppConnection.receive``            everything: 3 + dispatch + handler + write

Run: ``python benchmarks/bench_layers.py``
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocppkit.messages import v16
from ocppkit.protocol import OcppSession, OcppVersion, ValidationPolicy, decode_payload
from ocppkit.protocol.frames import Call, parse_frame
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router

SAMPLED = ",".join(
    '{{"value":"{}","context":"Sample.Periodic","measurand":"{}","unit":"{}"{}}}'.format(*row)
    for row in [
        ("1234.5", "Energy.Active.Import.Register", "Wh", ""),
        ("7.2", "Power.Active.Import", "kW", ""),
        ("16.1", "Current.Import", "A", ',"phase":"L1"'),
        ("16.0", "Current.Import", "A", ',"phase":"L2"'),
        ("15.9", "Current.Import", "A", ',"phase":"L3"'),
        ("230.1", "Voltage", "V", ',"phase":"L1-N"'),
        ("54", "SoC", "Percent", ""),
    ]
)
PAYLOAD = (
    '{"connectorId":1,"transactionId":42,"meterValue":[{"timestamp":"2025-01-02T03:04:05Z",'
    '"sampledValue":[' + SAMPLED + "]}]}"
).encode()
FRAME = b'[2,"19223201-7a2b-4c13-9e43-7b1a2ad3b9f1","MeterValues",' + PAYLOAD + b"]"


class SinkTransport:
    """A push transport that swallows what is written (synchronously)."""

    subprotocol = "ocpp1.6"

    def send_nowait(self, data: bytes) -> None:
        pass

    async def send(self, data: bytes) -> None:
        pass

    async def recv(self) -> bytes:
        raise NotImplementedError

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


def per_call(fn: Callable[[], Any], n: int = 20_000, repeats: int = 7) -> float:
    """Median µs per call of ``fn``."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(runs)


async def main() -> None:
    strict = ValidationPolicy()
    response = v16.MeterValuesResponse()

    def parse() -> None:
        parse_frame(FRAME, OcppVersion.V16)

    def parse_decode() -> None:
        frame = parse_frame(FRAME, OcppVersion.V16)
        assert isinstance(frame, Call)
        decode_payload(v16.MeterValuesRequest, frame.payload)

    answering = OcppSession(OcppVersion.V16, validation=strict)

    def session_answer() -> None:
        answering.receive_data(FRAME, 0.0)
        answering.events_received()
        answering.send_result("19223201-7a2b-4c13-9e43-7b1a2ad3b9f1", response)
        answering.data_to_send()

    router = Router(OcppVersion.V16)
    router.add(v16.MeterValuesRequest, lambda request, conn: response)
    conn = OcppConnection(SinkTransport(), OcppVersion.V16, router, validation=strict)

    def connection_receive() -> None:
        conn.receive(FRAME)

    rows = [
        ("parse_frame", per_call(parse)),
        ("+ decode_payload (strict)", per_call(parse_decode)),
        ("OcppSession receive + answer (strict both ways)", per_call(session_answer)),
        ("OcppConnection.receive (all, plain handler)", per_call(connection_receive)),
    ]
    off = OcppConnection(
        SinkTransport(), OcppVersion.V16, router, validation=ValidationPolicy(outgoing="off")
    )
    rows.append(
        ("OcppConnection.receive, outgoing check off", per_call(lambda: off.receive(FRAME)))
    )
    print(f"MeterValues CALL, {len(FRAME)} bytes, {datetime.now(UTC):%Y-%m-%d}")
    print("| step (cumulative) | µs per call |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
