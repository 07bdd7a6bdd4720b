"""The CSMS killed with SIGKILL in the middle of load loses nothing it acknowledged.

``python -m ocppkit csms --no-api`` runs in a subprocess on a SQLite file. Twenty OCPP 1.6
stations (``OcppClient``) boot, then run charging sessions back to back (StartTransaction,
MeterValues, StopTransaction with transactionData), every timestamp unique. The test process
records each message whose CALLRESULT it received (the acknowledged set) and, per station, the
one message it sent without an answer (in flight). After ``KILL_AFTER`` acknowledged transaction
messages (a count, not a time) the CSMS gets SIGKILL.

The file is then read with ``SqliteStore``: everything acknowledged is there exactly once (the
transactionId the station received, every meter sample once, the acknowledged meterStop), and
nothing is there that no station sent. A restarted CSMS on the same file then takes replays,
as stations send them after a reconnect: acknowledged messages again (no duplicates, the same
transactionId), the in-flight ones twice (each stored once). After a clean SIGTERM shutdown the
file holds exactly what the stations sent, each fact once.

Everything waits on events (CALLRESULTs, the CSMS's "OCPP on ws://..." line on stderr, process
exit), never on sleeps; the amount of traffic is bounded by counts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeAlias

import pytest

from ocppkit.messages import OcppRequest, v16
from ocppkit.protocol import ConnectionClosedError, OcppVersion
from ocppkit.runtime.client import OcppClient
from ocppkit.runtime.connection import OcppConnection
from ocppkit.store import IdTokenRecord
from ocppkit.store.sqlite import SqliteStore

STATIONS = 20
METER_VALUES_PER_SESSION = 3
KILL_AFTER = 300
"""Acknowledged transaction messages (Start / MeterValues / Stop) before the SIGKILL."""
MAX_SESSIONS = 100
"""Per station: bounds the load should the kill never come."""
CALL_TIMEOUT = 10.0
T0 = datetime(2025, 6, 1, tzinfo=UTC)
ENERGY: Final = "Energy.Active.Import.Register"
POWER: Final = "Power.Active.Import"
READY = re.compile(r"OCPP on ws://127\.0\.0\.1:(\d+)/<identity>")

TxRequest: TypeAlias = (
    v16.StartTransactionRequest | v16.MeterValuesRequest | v16.StopTransactionRequest
)
Fact: TypeAlias = tuple[Any, ...]
"""What the store holds, keyed by the transaction's start time (unique per station here):
``("start", start, connector, id_tag, meter_start)``, ``("stop", start, stop, meter_stop,
reason)``, ``("sample", start, timestamp, measurand, value)``."""


def run(main: Callable[[], Awaitable[None]], limit: float = 60) -> None:
    asyncio.run(asyncio.wait_for(main(), limit))


# -- the CSMS in a subprocess --------------------------------------------------------------------


@dataclass
class CsmsProcess:
    """``python -m ocppkit csms --no-api --port 0 --db FILE``, ready once it logged its port."""

    process: asyncio.subprocess.Process
    port: int
    output: list[str]
    drain: asyncio.Task[None]

    def url(self, identity: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{identity}"

    def kill_now(self) -> None:
        """SIGKILL, sent at once (no await between the trigger and the signal)."""
        self.process.kill()

    async def killed(self) -> None:
        assert await self.process.wait() == -signal.SIGKILL
        await self.drain

    async def terminate(self) -> None:
        """SIGTERM: a clean shutdown, exit status 0."""
        self.process.send_signal(signal.SIGTERM)
        assert await self.process.wait() == 0, "".join(self.output)
        await self.drain
        assert any("shutting down" in line for line in self.output)


@asynccontextmanager
async def csms_process(db: Path) -> AsyncIterator[CsmsProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocppkit",
        "csms",
        "--no-api",
        "--port",
        "0",
        "--db",
        str(db),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    stderr = process.stderr
    output: list[str] = []
    try:
        while True:  # up to the "OCPP on ws://..." line: listening
            line = (await stderr.readline()).decode()
            assert line, f"the CSMS ended before it was ready: {''.join(output)}"
            output.append(line)
            ready = READY.search(line)
            if ready:
                break

        async def drain() -> None:  # keep reading, so the CSMS never blocks on a full pipe
            async for raw in stderr:
                output.append(raw.decode())

        csms = CsmsProcess(process, int(ready.group(1)), output, asyncio.create_task(drain()))
        yield csms
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def add_tokens(db: Path) -> None:
    async with SqliteStore(db) as store:
        for number in range(STATIONS):
            await store.put_token(IdTokenRecord(token=tag(number), status="Accepted"))


def tag(number: int) -> str:
    return f"TAG-{number:02d}"


async def call(conn: OcppConnection, request: TxRequest) -> Any:
    """``conn.call`` for any of the three transaction messages (their replies differ)."""
    typed: OcppRequest[Any] = request
    return await conn.call(typed)


# -- the stations and what they know -------------------------------------------------------------


@dataclass
class Sent:
    """A transaction message a station sent; acknowledged once its CALLRESULT came back."""

    request: TxRequest
    acked: bool = False


@dataclass
class Session:
    start: Sent
    transaction_id: int | None = None
    """The transactionId the CSMS answered (None until a StartTransaction reply came)."""
    meter_values: list[Sent] = field(default_factory=list)
    stop: Sent | None = None

    def sent(self) -> list[Sent]:
        return [self.start, *self.meter_values, *([self.stop] if self.stop else [])]


@dataclass
class Ledger:
    """One station's own record of its sessions, as a station keeps its transaction queue."""

    number: int
    sessions: list[Session] = field(default_factory=list)
    in_flight: Sent | None = None
    """The message sent whose answer never came (the connection died first)."""
    tick: int = 0
    meter: int = 0

    @property
    def identity(self) -> str:
        return f"CP-{self.number:02d}"

    def now(self) -> datetime:
        """A timestamp used once: unique within the station and across stations."""
        self.tick += 1
        return T0 + timedelta(days=self.number, seconds=self.tick)

    def energy(self) -> int:
        self.meter += 250
        return self.meter


async def open_station(url: str) -> tuple[OcppClient, OcppConnection, asyncio.Task[None]]:
    client = OcppClient(
        url, versions=[OcppVersion.V16], ping_interval=None, call_timeout=CALL_TIMEOUT
    )
    conn = await client.connect()
    return client, conn, asyncio.create_task(conn.run())


async def boot(conn: OcppConnection, ledger: Ledger) -> None:
    response = await conn.call(
        v16.BootNotificationRequest(
            charge_point_vendor="Acme",
            charge_point_model="Durable",
            charge_point_serial_number=ledger.identity,
        )
    )
    assert response.status == "Accepted"


async def charge(conn: OcppConnection, ledger: Ledger, acknowledged: Callable[[], None]) -> None:
    """Sessions back to back until the connection dies (``ConnectionClosedError``)."""

    async def send(sent: Sent) -> Any:
        ledger.in_flight = sent
        response = await call(conn, sent.request)
        sent.acked = True
        ledger.in_flight = None
        acknowledged()
        return response

    for _ in range(MAX_SESSIONS):
        start = v16.StartTransactionRequest(
            connector_id=1,
            id_tag=tag(ledger.number),
            meter_start=ledger.meter,
            timestamp=ledger.now(),
        )
        session = Session(Sent(start))
        ledger.sessions.append(session)
        started = await send(session.start)
        assert started.id_tag_info.status == "Accepted"
        session.transaction_id = started.transaction_id
        for _ in range(METER_VALUES_PER_SESSION):
            sampled = [
                v16.SampledValue(value=str(ledger.energy()), measurand=ENERGY, unit="Wh"),
                v16.SampledValue(value="7400", measurand=POWER, unit="W"),
            ]
            request = v16.MeterValuesRequest(
                connector_id=1,
                transaction_id=session.transaction_id,
                meter_value=[v16.MeterValue(timestamp=ledger.now(), sampled_value=sampled)],
            )
            session.meter_values.append(Sent(request))
            await send(session.meter_values[-1])
        meter_stop = ledger.energy()
        stopped_at = ledger.now()
        session.stop = Sent(
            v16.StopTransactionRequest(
                meter_stop=meter_stop,
                timestamp=stopped_at,
                transaction_id=session.transaction_id,
                id_tag=tag(ledger.number),
                reason="EVDisconnected",
                transaction_data=[
                    v16.TransactionData(
                        timestamp=stopped_at,
                        sampled_value=[
                            v16.TransactionDataSampledValue(
                                value=str(meter_stop),
                                measurand=ENERGY,
                                unit="Wh",
                                context="Transaction.End",
                            )
                        ],
                    )
                ],
            )
        )
        stopped = await send(session.stop)
        assert stopped.id_tag_info is not None
        assert stopped.id_tag_info.status == "Accepted"


# -- expected and stored facts -------------------------------------------------------------------


def facts_of(sent: Sent, session: Session) -> list[Fact]:
    start = session.start.request
    assert isinstance(start, v16.StartTransactionRequest)
    begun = start.timestamp
    request = sent.request
    if isinstance(request, v16.StartTransactionRequest):
        return [("start", begun, request.connector_id, request.id_tag, float(request.meter_start))]
    if isinstance(request, v16.MeterValuesRequest):
        return [
            ("sample", begun, mv.timestamp, sv.measurand, sv.value)
            for mv in request.meter_value
            for sv in mv.sampled_value
        ]
    stop: list[Fact] = [
        ("stop", begun, request.timestamp, float(request.meter_stop), request.reason)
    ]
    return stop + [
        ("sample", begun, data.timestamp, sv.measurand, sv.value)
        for data in request.transaction_data or []
        for sv in data.sampled_value
    ]


def expected_facts(ledger: Ledger) -> tuple[set[Fact], set[Fact]]:
    """(required: of acknowledged messages, allowed: of acknowledged and in-flight ones)."""
    required: set[Fact] = set()
    allowed: set[Fact] = set()
    for session in ledger.sessions:
        for sent in session.sent():
            facts = facts_of(sent, session)
            allowed.update(facts)
            if sent.acked:
                required.update(facts)
            else:
                assert sent is ledger.in_flight  # a station has one message in flight at most
    return required, allowed


async def stored_facts(store: SqliteStore, identity: str) -> tuple[Counter[Fact], dict[Any, str]]:
    """Every fact the store holds for a station (counted), and transactionId by start time."""
    facts: Counter[Fact] = Counter()
    ids: dict[Any, str] = {}
    for tx in await store.list_transactions(identity):
        begun = tx.start_time
        assert tx.id_token is not None
        facts[("start", begun, tx.connector_id, tx.id_token, tx.meter_start)] += 1
        ids[begun] = tx.ocpp_id
        if tx.stop_time is not None:
            facts[("stop", begun, tx.stop_time, tx.meter_stop, tx.stop_reason)] += 1
        for sample in await store.meter_values(tx.id):
            facts[("sample", begun, sample.timestamp, sample.measurand, sample.value)] += 1
    return facts, ids


async def check_store(db: Path, ledgers: list[Ledger], *, exact: bool) -> None:
    """Everything acknowledged is stored once, nothing is stored that no station sent; with
    ``exact``, everything sent was acknowledged and is stored."""
    async with SqliteStore(db) as store:
        for ledger in ledgers:
            required, allowed = expected_facts(ledger)
            if exact:
                assert required == allowed, f"{ledger.identity}: unacknowledged messages remain"
            stored, ids = await stored_facts(store, ledger.identity)
            duplicates = sorted(fact for fact, count in stored.items() if count > 1)
            assert not duplicates, f"{ledger.identity}: stored more than once: {duplicates[:5]}"
            missing = sorted(required - stored.keys())
            assert not missing, f"{ledger.identity}: acknowledged, not stored: {missing[:5]}"
            unexpected = sorted(stored.keys() - allowed)
            assert not unexpected, f"{ledger.identity}: stored, never sent: {unexpected[:5]}"
            for session in ledger.sessions:
                start = session.start.request
                assert isinstance(start, v16.StartTransactionRequest)
                if session.transaction_id is not None:  # the id the station received
                    assert ids[start.timestamp] == str(session.transaction_id)
    answered = [s.transaction_id for ledger in ledgers for s in ledger.sessions]
    known = [number for number in answered if number is not None]
    assert len(known) == len(set(known)), "one transactionId given to two transactions"


# -- replay after the restart --------------------------------------------------------------------


async def replay(url: str, ledger: Ledger) -> int:
    """Reconnect, boot, replay acknowledged messages and the in-flight one (twice); returns the
    number of replays. Every reply must be the one the CSMS gave (or would have given)."""
    client, conn, runner = await open_station(url)
    replays = 0
    try:
        # this station rebooted too (the test below covers one that only reconnects)
        await boot(conn, ledger)
        begun = [session for session in ledger.sessions if session.start.acked]
        chosen: list[Sent] = []
        if begun:  # the first StartTransaction, and every acknowledged message of the last session
            chosen = [begun[0].start, *(sent for sent in begun[-1].sent() if sent.acked)]
        for sent in chosen:
            response = await call(conn, sent.request)
            replays += 1
            if isinstance(sent.request, v16.StartTransactionRequest):
                session = next(s for s in ledger.sessions if s.start is sent)
                assert response.transaction_id == session.transaction_id  # the same transaction
        in_flight = ledger.in_flight
        if in_flight is not None:
            replies = [await call(conn, in_flight.request) for _ in range(2)]
            replays += 2
            assert replies[0] == replies[1]
            in_flight.acked = True
            ledger.in_flight = None
            if isinstance(in_flight.request, v16.StartTransactionRequest):
                session = next(s for s in ledger.sessions if s.start is in_flight)
                session.transaction_id = replies[0].transaction_id
    finally:
        await client.close()
        await runner
    return replays


# -- the tests -----------------------------------------------------------------------------------


def test_sigkill_under_load_loses_nothing_acknowledged_and_replays_store_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "csms.db"
    ledgers = [Ledger(number) for number in range(STATIONS)]

    async def main() -> None:
        await add_tokens(db)
        async with csms_process(db) as csms:
            stations = await asyncio.gather(
                *(open_station(csms.url(ledger.identity)) for ledger in ledgers)
            )
            acknowledged = 0

            def count() -> None:
                nonlocal acknowledged
                acknowledged += 1
                if acknowledged == KILL_AFTER:
                    csms.kill_now()

            async def load(ledger: Ledger, conn: OcppConnection) -> None:
                with pytest.raises(ConnectionClosedError):  # only the kill ends a station
                    await charge(conn, ledger, count)

            try:
                await asyncio.gather(
                    *(
                        boot(conn, ledger)
                        for (_, conn, _), ledger in zip(stations, ledgers, strict=True)
                    )
                )
                await asyncio.gather(
                    *(
                        load(ledger, conn)
                        for (_, conn, _), ledger in zip(stations, ledgers, strict=True)
                    )
                )
            finally:
                for client, _, runner in stations:
                    await client.close()
                    await runner
            await csms.killed()
        assert acknowledged >= KILL_AFTER
        in_flight = [ledger.in_flight for ledger in ledgers]
        assert all(sent is not None for sent in in_flight)  # each station had one unanswered

        # what survived the kill: everything acknowledged, once
        await check_store(db, ledgers, exact=False)

        # a restarted CSMS on the same file takes the stations' replays
        async with csms_process(db) as csms:
            replays = await asyncio.gather(
                *(replay(csms.url(ledger.identity), ledger) for ledger in ledgers)
            )
            await csms.terminate()
        # each in-flight message twice, and (300 acknowledged: some session started) more
        assert sum(replays) > STATIONS * 2
        await check_store(db, ledgers, exact=True)

    run(main)


def test_a_station_that_only_reconnects_may_replay_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "csms.db"
    ledger = Ledger(0)

    async def main() -> None:
        await add_tokens(db)
        async with csms_process(db) as csms:
            client, conn, runner = await open_station(csms.url(ledger.identity))
            await boot(conn, ledger)
            started = await conn.call(
                v16.StartTransactionRequest(
                    connector_id=1, id_tag=tag(0), meter_start=0, timestamp=ledger.now()
                )
            )
            csms.kill_now()
            await csms.killed()
            await client.close()
            await runner
        async with csms_process(db) as csms:
            client, conn, runner = await open_station(csms.url(ledger.identity))
            try:  # no BootNotification: the station did not reboot, its queue goes first
                stopped = await conn.call(
                    v16.StopTransactionRequest(
                        meter_stop=1000,
                        timestamp=ledger.now(),
                        transaction_id=started.transaction_id,
                        reason="EVDisconnected",
                    )
                )
                assert stopped == v16.StopTransactionResponse()
            finally:
                await client.close()
                await runner
            await csms.terminate()
        async with SqliteStore(db) as store:
            tx = await store.get_transaction(ledger.identity, str(started.transaction_id))
        assert tx is not None
        assert tx.meter_stop == 1000

    run(main)
