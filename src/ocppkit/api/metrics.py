"""The API's Prometheus metrics (``GET /metrics``, one ``CollectorRegistry`` per app).

- ``ocppkit_connected_stations{version}``: live connections (gauge);
- ``ocppkit_ocpp_calls_total{version, direction, action, outcome}``: every answered CALL seen
  on the wire, ``direction`` ``from_station`` or ``to_station``, ``outcome`` ``result`` or
  ``error`` (2.1 SEND messages from stations: ``outcome="send"``);
- ``ocppkit_api_calls_total{action, outcome}`` and ``ocppkit_api_call_duration_seconds{action}``
  (histogram): calls made through the API, outcome ``result``, ``call_error``,
  ``invalid_response``, ``timeout``, ``closed`` or ``cancelled`` (the HTTP request went away);
- ``ocppkit_message_log_queue_depth`` (gauge): frames of ``csms.message_log`` waiting for the
  store, and ``ocppkit_message_log_dropped_total``: frames it dropped because the store did not
  keep up (both 0 without a message log).

The OCPP call counters come from a tap on every connection of ``csms.server`` (through
``OcppServer.on_frame``, chained after the factory already set there, and on the connections
open when the app is made): see ``install_taps``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ocppkit.csms.role import Csms
from ocppkit.protocol.frames import Call, CallResult, FrameError, Send, parse_frame
from ocppkit.protocol.frames import CallError as CallErrorFrame
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import FrameHook, OcppConnection

__all__ = ["LiveCollector", "Metrics", "install_taps"]

log = logging.getLogger("ocppkit.api")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ocpp_calls = Counter(
            "ocppkit_ocpp_calls",
            "OCPP calls answered, seen on the wire, by direction and outcome",
            ["version", "direction", "action", "outcome"],
            registry=registry,
        )
        self.api_calls = Counter(
            "ocppkit_api_calls",
            "Calls to stations made through the HTTP API, by outcome",
            ["action", "outcome"],
            registry=registry,
        )
        self.api_latency = Histogram(
            "ocppkit_api_call_duration_seconds",
            "Time from sending a call made through the HTTP API to its outcome",
            ["action"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class LiveCollector(Collector):
    """Read when scraped: connections by version, the CSMS message log's queue and drops."""

    def __init__(self, csms: Csms) -> None:
        self._csms = csms

    def collect(self) -> Iterable[Metric]:
        connected = GaugeMetricFamily(
            "ocppkit_connected_stations", "Stations connected now", labels=["version"]
        )
        counts: dict[OcppVersion, int] = dict.fromkeys(self._csms.server.versions, 0)
        for conn in list(self._csms.server.connections.values()):
            counts[conn.version] = counts.get(conn.version, 0) + 1
        for version, count in sorted(counts.items()):
            connected.add_metric([version.value], count)
        yield connected
        message_log = self._csms.message_log
        depth = GaugeMetricFamily(
            "ocppkit_message_log_queue_depth", "Frames waiting to be written to the message log"
        )
        depth.add_metric([], message_log.pending if message_log is not None else 0)
        yield depth
        dropped = CounterMetricFamily(
            "ocppkit_message_log_dropped",
            "Frames of the message log dropped because the store did not keep up",
        )
        dropped.add_metric([], message_log.dropped if message_log is not None else 0)
        yield dropped


class _Tap:
    """The frame hook of one connection: counts the calls answered in both directions."""

    __slots__ = ("_identity", "_metrics", "_received", "_sent", "_version")

    _REMEMBER = 1000  # unanswered calls remembered per direction

    def __init__(self, conn: OcppConnection, metrics: Metrics) -> None:
        self._identity = conn.identity
        self._version = conn.version
        self._metrics = metrics
        self._received: dict[str, str] = {}  # CALLs from the station: unique id -> action
        self._sent: dict[str, str] = {}  # CALLs to the station

    def __call__(self, direction: Literal["in", "out"], data: bytes | str) -> None:
        try:
            self._observe(direction, data)
        except Exception:  # a hook must never break the connection
            log.exception("%s: frame hook failed", self._identity)

    def _observe(self, direction: Literal["in", "out"], data: bytes | str) -> None:
        try:
            frame = parse_frame(data, self._version)
        except FrameError:
            return
        incoming = direction == "in"
        if isinstance(frame, Send):
            self._count("from_station" if incoming else "to_station", frame.action, "send")
        elif isinstance(frame, Call):
            pending = self._received if incoming else self._sent
            pending[frame.unique_id] = frame.action
            if len(pending) > self._REMEMBER:
                del pending[next(iter(pending))]
        elif isinstance(frame, CallResult | CallErrorFrame):
            pending = self._sent if incoming else self._received
            action = pending.pop(frame.unique_id, None)
            if action is not None:
                outcome = "result" if isinstance(frame, CallResult) else "error"
                self._count("to_station" if incoming else "from_station", action, outcome)

    def _count(self, direction: str, action: str, outcome: str) -> None:
        self._metrics.ocpp_calls.labels(self._version.value, direction, action, outcome).inc()


def _chain(first: FrameHook | None, second: FrameHook) -> FrameHook:
    if first is None:
        return second

    def both(direction: Literal["in", "out"], data: bytes | str) -> None:
        first(direction, data)
        second(direction, data)

    return both


def install_taps(csms: Csms, metrics: Metrics) -> None:
    """Count the OCPP calls of every connection of ``csms.server`` in ``metrics``: those open
    now and those to come (chained after the ``on_frame`` factory already set)."""
    server = csms.server
    previous = server.on_frame

    def factory(conn: OcppConnection) -> FrameHook | None:
        theirs = previous(conn) if previous is not None else None
        return _chain(theirs, _Tap(conn, metrics))

    server.on_frame = factory
    for conn in list(server.connections.values()):
        conn.on_frame = _chain(conn.on_frame, _Tap(conn, metrics))
