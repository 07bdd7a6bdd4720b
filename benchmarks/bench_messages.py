"""Message-layer benchmark: ocppkit decode + validate (+ encode) against json + jsonschema.

Run from the repository root::

    python benchmarks/bench_messages.py            # defaults: 15 repeats of about 0.1 s each
    python benchmarks/bench_messages.py --repeats 15 --min-time 0.5 [--no-gc]

For each message (realistic payloads, compact JSON as a charger sends it) it measures, per
message, with ``time.perf_counter_ns`` around a tight loop, the median over the repeats (garbage
collector on, as in a server; ``--no-gc`` switches it off while timing, as ``timeit`` does):

1. ``decode_payload(RequestType, raw)`` in strict mode (JSON bytes -> validated typed object);
2. the full cycle: the same plus ``encode_payload(obj)`` back to JSON bytes;
3. a whole CALL frame through ``OcppSession.receive_data`` (frame parse, action lookup, payload
   decode + validation, the ``CallReceived`` event) and ``events_received()``;
4. for comparison, ``json.loads(raw)`` + ``validator.validate(obj)`` with a validator built once
   from the official OCA schema (the schema's own draft class: Draft4Validator for 1.6,
   Draft6Validator for 2.0.1; no format checker). This is roughly what mobilityhouse/ocpp does
   for every call (a cached ``Draft4Validator`` per action), and it yields plain dicts, not
   typed objects.

It prints the environment, a Markdown table (the one in ``benchmarks/RESULTS.md``), the largest
spread of a figure across its repeats, and whether the MeterValues target holds (decode +
validate <= 5 µs and >= 50x faster than jsonschema).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from typing import Any

import jsonschema
import jsonschema.validators

from ocppkit.messages import OcppStruct, actions, schema_dir
from ocppkit.protocol import CallReceived, OcppSession, OcppVersion
from ocppkit.protocol.codec import decode_payload, encode_payload

TS = "2025-03-14T09:26:53.589Z"


# -- the messages ---------------------------------------------------------------------------------


def boot_notification_16() -> dict[str, Any]:
    return {
        "chargePointVendor": "ACME Charging",
        "chargePointModel": "Wallbox AC22-T2",
        "chargePointSerialNumber": "ACW22-2024-000917",
        "chargeBoxSerialNumber": "CB-000917",
        "firmwareVersion": "4.12.3-rc1",
        "iccid": "8931440400012345678",
        "imsi": "262011234567890",
        "meterType": "Eastron SDM630",
        "meterSerialNumber": "SDM630-77812",
    }


def meter_values_16() -> dict[str, Any]:
    def sample(value: str, measurand: str, unit: str, **extra: str) -> dict[str, str]:
        return {
            "value": value,
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": measurand,
            "location": "Outlet",
            "unit": unit,
            **extra,
        }

    return {
        "connectorId": 1,
        "transactionId": 183_442,
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    sample("18234.7", "Energy.Active.Import.Register", "Wh"),
                    sample("11040.2", "Power.Active.Import", "W"),
                    sample("16.02", "Current.Import", "A", phase="L1"),
                    sample("15.97", "Current.Import", "A", phase="L2"),
                    sample("16.05", "Current.Import", "A", phase="L3"),
                    sample("231.4", "Voltage", "V", phase="L1-N"),
                    sample("64", "SoC", "Percent", location="EV"),
                ],
            }
        ],
    }


def transaction_event_201() -> dict[str, Any]:
    def sample(value: float, measurand: str, unit: str, **extra: str) -> dict[str, Any]:
        return {
            "value": value,
            "context": "Sample.Periodic",
            "measurand": measurand,
            "location": "Outlet",
            "unitOfMeasure": {"unit": unit},
            **extra,
        }

    return {
        "eventType": "Updated",
        "timestamp": TS,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 17,
        "offline": False,
        "numberOfPhasesUsed": 3,
        "transactionInfo": {
            "transactionId": "6f1c2a94-3b1e-4c35-9a57-2d0f9b6c1e42",
            "chargingState": "Charging",
        },
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"},
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    sample(18234.7, "Energy.Active.Import.Register", "Wh"),
                    sample(11040.2, "Power.Active.Import", "W"),
                    sample(16.02, "Current.Import", "A", phase="L1"),
                    sample(231.4, "Voltage", "V", phase="L1-N"),
                ],
            }
        ],
    }


def notify_report_201(entries: int = 50) -> dict[str, Any]:
    components = ["EVSE", "Connector", "SmartChargingCtrlr", "OCPPCommCtrlr", "TxCtrlr"]
    variables = [
        ("Available", "boolean", None),
        ("Power", "decimal", "W"),
        ("SupplyPhases", "integer", None),
        ("Enabled", "boolean", None),
        ("HeartbeatInterval", "integer", "s"),
        ("TxStartPoint", "MemberList", None),
        ("Limit", "decimal", "A"),
        ("ConnectorType", "OptionList", None),
    ]
    data = []
    for i in range(entries):
        name, data_type, unit = variables[i % len(variables)]
        characteristics: dict[str, Any] = {"dataType": data_type, "supportsMonitoring": i % 3 == 0}
        if unit:
            characteristics |= {"unit": unit, "minLimit": 0, "maxLimit": 22000.0}
        if data_type.endswith("List"):
            characteristics["valuesList"] = "EVConnected,Authorized,PowerPathClosed,EnergyTransfer"
        component: dict[str, Any] = {"name": components[i % len(components)]}
        if i % 2:
            component["evse"] = {"id": 1 + i % 2, "connectorId": 1}
        data.append(
            {
                "component": component,
                "variable": {"name": name, **({"instance": "Default"} if i % 4 == 0 else {})},
                "variableAttribute": [
                    {
                        "type": "Actual",
                        "value": "true" if data_type == "boolean" else str(i * 10),
                        "mutability": "ReadWrite" if i % 2 else "ReadOnly",
                        "persistent": True,
                        "constant": False,
                    },
                    *(
                        [{"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}]
                        if unit
                        else []
                    ),
                ],
                "variableCharacteristics": characteristics,
            }
        )
    return {"requestId": 4711, "generatedAt": TS, "tbc": False, "seqNo": 0, "reportData": data}


@dataclass(frozen=True)
class Message:
    label: str
    version: OcppVersion
    action: str
    payload: dict[str, Any]

    @property
    def raw(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":")).encode()

    @property
    def request_type(self) -> type[OcppStruct]:
        return actions(self.version)[self.action].request

    def validator(self) -> Any:
        name = self.action if self.version is OcppVersion.V16 else f"{self.action}Request"
        text = schema_dir(self.version).joinpath(f"{name}.json").read_text(encoding="utf-8-sig")
        schema = json.loads(text)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)


MESSAGES = [
    Message("1.6 BootNotification", OcppVersion.V16, "BootNotification", boot_notification_16()),
    Message("1.6 MeterValues (7 sampledValues)", OcppVersion.V16, "MeterValues", meter_values_16()),
    Message(
        "2.0.1 TransactionEvent (Updated)",
        OcppVersion.V201,
        "TransactionEvent",
        transaction_event_201(),
    ),
    Message(
        "2.0.1 NotifyReport (50 reportData)", OcppVersion.V201, "NotifyReport", notify_report_201()
    ),
]


# -- the timed loops (one function each, so the loop body is just the work) ---------------------


def loop_decode(tp: type[OcppStruct], raw: bytes, n: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(n):
        decode_payload(tp, raw)
    return time.perf_counter_ns() - start


def loop_cycle(tp: type[OcppStruct], raw: bytes, n: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(n):
        obj, _ = decode_payload(tp, raw)
        encode_payload(obj)
    return time.perf_counter_ns() - start


def loop_jsonschema(validator: Any, raw: bytes, n: int) -> int:
    loads, validate = json.loads, validator.validate
    start = time.perf_counter_ns()
    for _ in range(n):
        validate(loads(raw))
    return time.perf_counter_ns() - start


def loop_session(version: OcppVersion, frames: list[bytes], n: int) -> int:
    session = OcppSession(version)  # fresh per repeat: every frame has a new message id
    receive, drain = session.receive_data, session.events_received
    batch = frames[:n]
    start = time.perf_counter_ns()
    for frame in batch:
        receive(frame)
        drain()
    return time.perf_counter_ns() - start


@dataclass(frozen=True)
class Settings:
    repeats: int = 15
    """Timed runs per figure; the median is reported."""
    min_time: float = 0.1
    """Seconds per timed run (the iteration count is calibrated to it)."""
    gc_off: bool = False
    """Switch the garbage collector off during timed runs, as ``timeit`` does. Not by default:
    a server runs with it on, and the cost of collecting what decoding allocates is real."""


@dataclass(frozen=True)
class Figure:
    median_ns: float
    spread: float
    """Interquartile range / median of the repeats: how much the runs disagree."""

    @property
    def us(self) -> float:
        return self.median_ns / 1000


def calibrate(loop: Callable[[int], int], cfg: Settings, max_n: int | None = None) -> int:
    """Iterations for one timed run of about ``cfg.min_time`` s (also warms caches, decoders)."""
    n = 1
    while True:
        elapsed = loop(n)
        if elapsed >= cfg.min_time * 1e9 / 4 or (max_n is not None and n >= max_n):
            break
        n *= 2
    n = max(1, int(n * cfg.min_time * 1e9 / max(elapsed, 1)))
    return n if max_n is None else min(n, max_n)


def measure(
    loops: list[Callable[[int], int]], cfg: Settings, max_ns: list[int | None]
) -> list[Figure]:
    """Median ns per iteration of each loop over ``cfg.repeats`` timed runs.

    The loops take turns (one run of each per round), so that a burst of load from elsewhere on
    the machine hits all of them alike and the ratios between them stay meaningful.
    """
    counts = [calibrate(loop, cfg, max_n) for loop, max_n in zip(loops, max_ns, strict=True)]
    per_call: list[list[float]] = [[] for _ in loops]
    for _ in range(cfg.repeats):
        for loop, n, results in zip(loops, counts, per_call, strict=True):
            gc.collect()
            if cfg.gc_off:
                gc.disable()
            try:
                results.append(loop(n) / n)
            finally:
                gc.enable()
    figures = []
    for results in per_call:
        median = statistics.median(results)
        q1, _, q3 = statistics.quantiles(results, n=4)
        figures.append(Figure(median, (q3 - q1) / median))
    return figures


@dataclass(frozen=True)
class Row:
    message: Message
    size: int
    decode: Figure
    cycle: Figure
    session: Figure
    jsonschema: Figure

    @property
    def speedup(self) -> float:
        return self.jsonschema.median_ns / self.decode.median_ns


def bench(message: Message, cfg: Settings) -> Row:
    raw, tp, validator = message.raw, message.request_type, message.validator()
    # sanity: the payload is valid for both validators and survives the round trip
    obj, issues = decode_payload(tp, raw)
    assert not issues
    validator.validate(json.loads(raw))
    assert decode_payload(tp, encode_payload(obj))[0] == obj, message.label
    count = min(400_000, 64_000_000 // len(raw))  # distinct message ids, <= ~64 MB of frames
    frames = [b'[2,"%08d","%s",%s]' % (i, message.action.encode(), raw) for i in range(count)]
    probe = OcppSession(message.version)
    probe.receive_data(frames[0])
    assert [type(e) for e in probe.events_received()] == [CallReceived], message.label
    decode, cycle, session, schema = measure(
        [
            lambda n: loop_decode(tp, raw, n),
            lambda n: loop_cycle(tp, raw, n),
            lambda n: loop_session(message.version, frames, n),
            lambda n: loop_jsonschema(validator, raw, n),
        ],
        cfg,
        [None, None, len(frames), None],
    )
    return Row(message, len(raw), decode, cycle, session, schema)


# -- report -------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> list[str]:
    return [
        f"- date: {dt.date.today().isoformat()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}",
        f"- msgspec {dist_version('msgspec')}, jsonschema {dist_version('jsonschema')}, "
        f"ocppkit {dist_version('ocppkit')}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores",
    ]


def table(rows: list[Row]) -> list[str]:
    out = [
        "| message | bytes | ocppkit decode+validate µs | full cycle µs "
        "| session receive_data µs | jsonschema µs | speed-up × |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.message.label} | {r.size} | {r.decode.us:.2f} | {r.cycle.us:.2f} "
            f"| {r.session.us:.2f} | {r.jsonschema.us:.1f} | {r.speedup:.0f} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per figure (median)")
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per timed run")
    parser.add_argument("--no-gc", action="store_true", help="switch the GC off while timing")
    args = parser.parse_args(argv)
    cfg = Settings(args.repeats, args.min_time, args.no_gc)
    print("\n".join(environment()))
    command = (
        f"python benchmarks/bench_messages.py --repeats {cfg.repeats} --min-time {cfg.min_time}"
    )
    print(f"- command: {command}{' --no-gc' if cfg.gc_off else ''}")
    rows = []
    for message in MESSAGES:
        rows.append(bench(message, cfg))
        print(f"  measured {message.label}", file=sys.stderr)
    print()
    print("\n".join(table(rows)))
    print()
    worst = max(
        (f.spread, r.message.label, kind)
        for r in rows
        for kind, f in (
            ("decode", r.decode),
            ("cycle", r.cycle),
            ("session", r.session),
            ("jsonschema", r.jsonschema),
        )
    )
    print(
        f"largest spread (interquartile range / median of the repeats): {worst[0]:.1%} "
        f"({worst[1]}, {worst[2]})"
    )
    mv = next(r for r in rows if r.message.action == "MeterValues")
    ok = mv.decode.us <= 5 and mv.speedup >= 50
    print(
        f"target MeterValues: decode+validate {mv.decode.us:.2f} µs (<= 5), "
        f"{mv.speedup:.0f}x jsonschema (>= 50): {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
