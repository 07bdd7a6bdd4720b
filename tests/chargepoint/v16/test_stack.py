"""Scenarios of the 1.6 charge point stack on a fake clock against a scripted CSMS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from ocppkit.chargepoint.state import MemoryStateStore, StateChanges
from ocppkit.chargepoint.v16.connectors import ConnectorError
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.messages import v16
from tests.chargepoint.v16.harness import Harness, make


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 30))


async def booted(h: Harness) -> None:
    """Take the boot and the statuses of connectors 0..N off the CSMS's queues."""
    await h.csms.next("BootNotification")
    for n in range(h.cp.connector_count + 1):
        status = await h.csms.next("StatusNotification")
        assert (status.connector_id, status.status) == (n, "Available")


@contextlib.asynccontextmanager
async def running(h: Harness) -> AsyncIterator[None]:
    """Start the stack, connect it, and take its boot and first statuses."""
    await h.cp.start()
    async with h.online():
        await booted(h)
        yield


async def charging(h: Harness, tag: str = "TAG1") -> v16.StartTransactionRequest:
    """Plug connector 1 and present ``tag``: the StartTransaction the CSMS received."""
    await h.cp.plug_in(1)
    await h.cp.present_token(tag)
    start: v16.StartTransactionRequest = await h.csms.next("StartTransaction")
    return start


# -- boot and heartbeat ---------------------------------------------------------------------------


def test_boot_first_then_every_status_then_heartbeats_skipped_after_traffic() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            assert h.cp.config.get_int("HeartbeatInterval") == 300  # from the boot answer
            h.clock.advance(299)
            await h.settle()
            assert h.csms.pending("Heartbeat") == 0
            h.clock.advance(1)
            await h.csms.next("Heartbeat")
            h.clock.advance(200)
            await h.cp.plug_in(1)  # traffic: a StatusNotification
            await h.csms.next("StatusNotification")
            h.clock.advance(100)  # 300 s since the heartbeat, 100 s since other traffic
            await h.settle()
            assert h.csms.pending("Heartbeat") == 0
            h.clock.advance(200)
            await h.csms.next("Heartbeat")

    run(main)


def test_pending_boot_is_retried_and_nothing_else_is_sent_meanwhile() -> None:
    async def main() -> None:
        h = make()
        h.csms.boot_status, h.csms.boot_interval = "Pending", 30
        await h.cp.start()
        async with h.online():
            await h.csms.next("BootNotification")
            await h.cp.plug_in(1)
            await h.settle()
            assert h.csms.pending("StatusNotification") == 0
            h.csms.boot_status = "Accepted"
            h.clock.advance(30)
            await h.csms.next("BootNotification")
            statuses = [await h.csms.next("StatusNotification") for _ in range(3)]
            assert [s.status for s in statuses] == ["Available", "Preparing", "Available"]

    run(main)


# -- transactions ----------------------------------------------------------------------------------


def test_plug_then_swipe_starts_and_the_same_token_stops() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            h.cp.meter(1, [Reading(1000.4)])
            await h.cp.plug_in(1)
            assert await h.cp.present_token("TAG1")
            assert (await h.csms.next("Authorize")).id_tag == "TAG1"
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.id_tag, start.meter_start) == (1, "TAG1", 1000)
            await h.settle()
            assert h.callbacks.energy[1] is True
            assert h.cp.connectors.status(1) == "Charging"
            h.cp.meter(1, [Reading(5000.0)])
            assert await h.cp.present_token("TAG1")
            stop = await h.csms.next("StopTransaction")
            assert (stop.transaction_id, stop.meter_stop, stop.reason) == (101, 5000, "Local")
            assert stop.id_tag == "TAG1"
            await h.settle()
            assert h.cp.connectors.status(1) == "Finishing"
            assert h.callbacks.energy[1] is False
            await h.cp.plug_out(1)
            await h.settle()
            assert h.cp.connectors.status(1) == "Available"
            assert len(h.cp.outbox) == 0

    run(main)


def test_swipe_then_plug_within_connection_timeout_else_the_authorisation_lapses() -> None:
    async def main() -> None:
        h = make(config={"ConnectionTimeOut": "60"})
        async with running(h):
            assert await h.cp.present_token("TAG1", 2)
            await h.csms.next("Authorize")
            await h.settle()
            assert h.cp.connectors.status(2) == "Preparing"
            h.clock.advance(60)
            await h.settle()
            assert h.cp.connectors.status(2) == "Available"
            await h.cp.plug_in(2)
            await h.settle()
            assert h.csms.pending("StartTransaction") == 0
            assert await h.cp.present_token("TAG2", 2)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.id_tag) == (2, "TAG2")

    run(main)


def test_offline_transaction_is_queued_and_delivered_in_order_with_the_real_id() -> None:
    async def main() -> None:
        h = make(config={"AllowOfflineTxForUnknownId": "true", "LocalAuthorizeOffline": "true"})
        await h.cp.start()
        await h.cp.plug_in(1)
        assert await h.cp.present_token("UNKNOWN")  # offline: unknown ids allowed
        h.cp.meter(1, [Reading(42.0)])
        await h.cp.present_token("UNKNOWN")
        queued = [e.action for e in h.cp.outbox.entries()]
        # StartupOfTheDevice first: a critical security event, queued at start
        assert queued == ["SecurityEventNotification", "StartTransaction", "StopTransaction"]
        async with h.online():
            await h.csms.next("BootNotification")
            start = await h.csms.next("StartTransaction")
            stop = await h.csms.next("StopTransaction")
            assert (start.id_tag, stop.transaction_id, stop.meter_stop) == ("UNKNOWN", 101, 42)
            await h.settle()
            assert len(h.cp.outbox) == 0
            # stopped before the CSMS answered: the integrator still learns the id
            [updated] = h.callbacks.updated
            assert (updated.transaction_id, updated.connector_id, updated.id_tag) == (
                101,
                1,
                "UNKNOWN",
            )

    run(main)


def test_failed_messages_are_retried_then_discarded_and_later_ones_carry_minus_one() -> None:
    async def main() -> None:
        h = make(
            config={"TransactionMessageAttempts": "2", "TransactionMessageRetryInterval": "10"}
        )
        h.csms.fail_next["StartTransaction"] = 2
        async with running(h):
            await charging(h)
            await h.settle()
            await h.cp.present_token("TAG1")  # the Stop waits behind the failed Start
            await h.settle()
            assert h.csms.pending("StopTransaction") == 0
            h.clock.advance(9)
            await h.settle()
            assert h.csms.pending("StartTransaction") == 0
            h.clock.advance(1)  # retry after interval x 1
            await h.csms.next("StartTransaction")  # fails again: 2 attempts, discarded
            stop = await h.csms.next("StopTransaction")
            assert stop.transaction_id == -1
            assert h.cp.outbox.discarded == 1

    run(main)


def test_power_loss_closes_the_open_transaction_with_its_last_reading() -> None:
    async def main() -> None:
        first = make(config={"MeterValueSampleInterval": "60"})
        await first.cp.start()
        async with first.online():
            await booted(first)
            await first.cp.plug_in(1)
            first.cp.meter(1, [Reading(100.0)])
            await first.cp.present_token("TAG1")
            await first.csms.next("StartTransaction")
            first.cp.meter(1, [Reading(700.0)])
            first.clock.advance(60)  # a sample persists the reading
            sample = await first.csms.next("MeterValues")
            assert sample.transaction_id == 101
            first.cp.meter(1, [Reading(900.0)])  # not sampled before the power loss
        # power loss: a new stack on the same storage, nothing closed
        second = make(store=first.store, csms=first.csms, clock=first.clock)
        await second.cp.start()
        async with second.online():
            await second.csms.next("BootNotification")
            stop = await second.csms.next("StopTransaction")
            assert (stop.transaction_id, stop.meter_stop, stop.reason) == (101, 700, "PowerLoss")
            await second.settle()
            assert len(second.cp.outbox) == 0
            assert second.cp.connectors.status(1) == "Available"

    run(main)


def test_ev_side_disconnect_stops_and_unlocks_when_configured() -> None:
    async def main() -> None:
        h = make(config={"UnlockConnectorOnEVSideDisconnect": "true"})
        async with running(h):
            await charging(h)
            await h.cp.plug_out(1)
            stop = await h.csms.next("StopTransaction")
            assert stop.reason == "EVDisconnected"
            assert h.callbacks.unlocked == [1]

    run(main)


def test_invalid_id_in_start_answer_stops_with_deauthorized() -> None:
    async def main() -> None:
        h = make(config={"StopTransactionOnInvalidId": "true"})
        h.csms.start_status = "Blocked"
        async with running(h):
            await charging(h)
            stop = await h.csms.next("StopTransaction")
            assert (stop.reason, stop.transaction_id) == ("DeAuthorized", 101)

    run(main)


def test_close_stops_every_timer_and_keeps_what_is_queued() -> None:
    async def main() -> None:
        h = make(config={"MeterValueSampleInterval": "60", "ClockAlignedDataInterval": "900"})
        async with running(h):
            await charging(h)
            assert h.clock.pending() > 0  # heartbeat, sampler, aligned
        await h.cp.present_token("TAG1")  # offline: the Stop stays queued
        await h.cp.close()
        assert h.clock.pending() == 0
        assert not h.store.is_open
        again = make(store=h.store, csms=h.csms, clock=h.clock)
        await again.cp.start()
        queued = [e.action for e in again.cp.outbox.entries()]
        # each start queued a StartupOfTheDevice; the first went out while online
        assert queued == ["StopTransaction", "SecurityEventNotification"]

    run(main)


def test_hardware_events_offered_power_disabled_connector_and_security_events() -> None:
    async def main() -> None:
        h = make(config={"MeterValuesSampledData": "Current.Offered,Power.Offered"})
        await h.cp.start()
        await h.cp.security_event("TamperDetectionActivated", "lid opened")  # offline: queued
        async with h.online():
            await booted(h)
            startup = await h.csms.next("SecurityEventNotification")
            assert startup.type == "StartupOfTheDevice"
            event = await h.csms.next("SecurityEventNotification")
            assert (event.type, event.tech_info) == ("TamperDetectionActivated", "lid opened")
            h.cp.connector_enabled(2, False)
            assert (await h.csms.next("StatusNotification")).status == "Unavailable"
            h.cp.connector_enabled(2, True)
            assert (await h.csms.next("StatusNotification")).status == "Available"
            h.cp.offered(1, amps=16, watts=11000)
            await h.call(v16.TriggerMessageRequest(requested_message="MeterValues", connector_id=1))
            sampled = (await h.csms.next("MeterValues")).meter_value[0].sampled_value
            assert [(s.measurand, s.value, s.unit) for s in sampled] == [
                ("Current.Offered", "16", "A"),
                ("Power.Offered", "11000", "W"),
            ]

    run(main)


# -- CSMS-initiated --------------------------------------------------------------------------------


def test_remote_start_waits_for_the_plug_and_remote_stop_stops() -> None:
    async def main() -> None:
        h = make(config={"AuthorizeRemoteTxRequests": "false"})
        async with running(h):
            answer = await h.call(v16.RemoteStartTransactionRequest(id_tag="R1", connector_id=2))
            assert answer.status == "Accepted"
            await h.csms.next("StatusNotification")  # Preparing: authorised, no plug yet
            await h.cp.plug_in(2)
            start = await h.csms.next("StartTransaction")
            assert (start.connector_id, start.id_tag) == (2, "R1")
            await h.settle()
            rejected = await h.call(v16.RemoteStopTransactionRequest(transaction_id=999))
            assert rejected.status == "Rejected"
            accepted = await h.call(v16.RemoteStopTransactionRequest(transaction_id=101))
            assert accepted.status == "Accepted"
            stop = await h.csms.next("StopTransaction")
            assert stop.reason == "Remote"
            busy = await h.call(v16.RemoteStartTransactionRequest(id_tag="R1", connector_id=9))
            assert busy.status == "Rejected"

    run(main)


def test_change_availability_is_scheduled_behind_a_transaction_and_persisted() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            await charging(h)
            answer = await h.call(v16.ChangeAvailabilityRequest(connector_id=0, type="Inoperative"))
            assert answer.status == "Scheduled"
            await h.settle()
            assert h.cp.connectors.status(2) == "Unavailable"
            assert h.cp.connectors.status(1) == "Charging"
            await h.cp.present_token("TAG1")
            await h.csms.next("StopTransaction")
            await h.settle()
            await h.cp.plug_out(1)
            assert h.cp.connectors.status(1) == "Unavailable"
        again = make(store=h.store, csms=h.csms, clock=h.clock)
        await again.cp.start()
        assert again.cp.connectors.status(1) == "Unavailable"  # persisted across a restart

    run(main)


def test_reset_stops_transactions_before_rebooting() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            await charging(h)
            h.callbacks.reset_allowed = False
            assert (await h.call(v16.ResetRequest(type="Soft"))).status == "Rejected"
            h.callbacks.reset_allowed = True
            assert (await h.call(v16.ResetRequest(type="Hard"))).status == "Accepted"
            stop = await h.csms.next("StopTransaction")
            assert stop.reason == "HardReset"
            await h.settle()
            assert h.callbacks.resets == ["Hard"]

    run(main)


def test_unlock_stops_the_transaction_then_unlocks() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            await charging(h)
            answer = await h.call(v16.UnlockConnectorRequest(connector_id=1))
            assert answer.status == "Unlocked"
            assert (await h.csms.next("StopTransaction")).reason == "UnlockCommand"
            assert h.callbacks.unlocked == [1]

    run(main)


def test_trigger_message_answers_first_then_sends() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            bad = await h.call(
                v16.TriggerMessageRequest(requested_message="StatusNotification", connector_id=7)
            )
            assert bad.status == "Rejected"
            ok = await h.call(
                v16.TriggerMessageRequest(requested_message="StatusNotification", connector_id=2)
            )
            assert ok.status == "Accepted"
            assert (await h.csms.next("StatusNotification")).connector_id == 2
            await h.call(v16.TriggerMessageRequest(requested_message="Heartbeat"))
            await h.csms.next("Heartbeat")
            await h.call(v16.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
            assert (await h.csms.next("FirmwareStatusNotification")).status == "Idle"
            h.cp.meter(1, [Reading(12.0)])
            await h.call(v16.TriggerMessageRequest(requested_message="MeterValues", connector_id=1))
            sample = (await h.csms.next("MeterValues")).meter_value[0].sampled_value[0]
            assert (sample.value, sample.context) == ("12", "Trigger")

    run(main)


def test_firmware_update_waits_for_its_retrieve_date_across_a_restart() -> None:
    async def main() -> None:
        h = make()
        h.csms.boot_interval = 86_400  # heartbeats would set the clock back to the CSMS's T0
        async with running(h):
            later = h.clock.now() + timedelta(hours=1)
            await h.call(
                v16.UpdateFirmwareRequest(location="https://fw/x.bin", retrieve_date=later)
            )
            await h.settle()
            h.clock.advance(1800)
            await h.settle()
            assert h.callbacks.firmware == []
            h.cp.firmware_status("Downloading")
            assert (await h.csms.next("FirmwareStatusNotification")).status == "Downloading"
            answer = await h.call(v16.GetDiagnosticsRequest(location="ftp://diag/"))
            assert answer.file_name == "diag.zip"
            assert [d.location for d in h.callbacks.diagnostics] == ["ftp://diag/"]
        await h.cp.close()
        again = make(store=h.store, csms=h.csms, clock=h.clock)
        await again.cp.start()
        again.clock.advance(1799)
        await again.settle()
        assert again.callbacks.firmware == []
        again.clock.advance(1)
        await again.settle()
        assert [f.location for f in again.callbacks.firmware] == ["https://fw/x.bin"]
        assert await again.store.load("firmware") == {}

    run(main)


def test_configuration_changes_apply_at_once_and_reach_the_integrator() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            answer = await h.call(
                v16.ChangeConfigurationRequest(key="HeartbeatInterval", value="30")
            )
            assert answer.status == "Accepted"
            assert h.callbacks.changed == [("HeartbeatInterval", "30")]
            h.clock.advance(30)
            await h.csms.next("Heartbeat")
            conf = await h.call(v16.GetConfigurationRequest(key=["heartbeatinterval", "Nope"]))
            assert [(k.key, k.value) for k in conf.configuration_key or []] == [
                ("HeartbeatInterval", "30")
            ]
            assert conf.unknown_key == ["Nope"]

    run(main)


def test_errors_are_tracked_apart_from_the_status() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            h.cp.raise_error(1, ConnectorError("HighTemperature", fault=False, info="hot"))
            warning = await h.csms.next("StatusNotification")
            assert (warning.status, warning.error_code, warning.info) == (
                "Available",
                "HighTemperature",
                "hot",
            )
            h.cp.raise_error(1, ConnectorError("GroundFailure"))
            fault = await h.csms.next("StatusNotification")
            assert (fault.status, fault.error_code) == ("Faulted", "GroundFailure")
            h.cp.clear_error(1, "GroundFailure")
            back = await h.csms.next("StatusNotification")
            assert (back.status, back.error_code) == ("Available", "HighTemperature")
            h.cp.clear_error(1)
            clear = await h.csms.next("StatusNotification")
            assert (clear.status, clear.error_code) == ("Available", "NoError")

    run(main)


def test_minimum_status_duration_suppresses_short_lived_states() -> None:
    async def main() -> None:
        h = make(config={"MinimumStatusDuration": "5"})
        async with running(h):
            await h.cp.plug_in(1)
            h.clock.advance(3)
            await h.cp.plug_out(1)  # Preparing for 3 s only: never reported
            h.clock.advance(10)
            await h.cp.plug_in(1)
            h.clock.advance(5)
            await h.settle()
            assert (await h.csms.next("StatusNotification")).status == "Preparing"
            assert h.csms.pending("StatusNotification") == 0

    run(main)


def test_sampled_and_stop_transaction_data() -> None:
    async def main() -> None:
        h = make(
            config={
                "MeterValueSampleInterval": "60",
                "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
                "StopTxnSampledData": "Energy.Active.Import.Register",
            }
        )
        async with running(h):
            await h.cp.plug_in(1)
            h.cp.meter(1, [Reading(10.0), Reading(7000.0, "Power.Active.Import")])
            await h.cp.present_token("TAG1")
            await h.csms.next("StartTransaction")
            h.cp.meter(1, [Reading(110.0)])
            h.clock.advance(60)
            sample = await h.csms.next("MeterValues")
            values = [
                (s.measurand, s.value, s.context) for s in sample.meter_value[0].sampled_value
            ]
            assert values == [
                ("Energy.Active.Import.Register", "110", "Sample.Periodic"),
                ("Power.Active.Import", "7000", "Sample.Periodic"),
            ]
            await h.cp.present_token("TAG1")
            stop = await h.csms.next("StopTransaction")
            contexts = [mv.sampled_value[0].context for mv in stop.transaction_data or []]
            assert contexts == ["Transaction.Begin", "Sample.Periodic", "Transaction.End"]

    run(main)


# -- found in review: each of these failed before its fix ------------------------------------


class SlowStore(MemoryStateStore):
    """Writes take a moment (as an fsync does), so other work interleaves at every write."""

    async def enqueue(self, value: Any, *, state: StateChanges | None = None) -> int:
        await asyncio.sleep(0.001)  # not a wait for an event: makes the write yield
        return await super().enqueue(value, state=state)


def test_no_transaction_starts_on_an_unavailable_or_faulted_connector() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            await h.call(v16.ChangeAvailabilityRequest(connector_id=1, type="Inoperative"))
            await h.cp.plug_in(1)
            assert not await h.cp.present_token("TAG1", 1)
            h.cp.raise_error(2, ConnectorError("GroundFailure"))
            await h.cp.plug_in(2)
            assert not await h.cp.present_token("TAG1", 2)
            await h.settle()
            assert h.csms.pending("StartTransaction") == 0

    run(main)


def test_concurrent_events_are_applied_one_at_a_time() -> None:
    async def main() -> None:
        h = make(store=SlowStore())
        async with running(h):
            await h.cp.plug_in(1)
            await asyncio.gather(h.cp.present_token("TAG1", 1), h.cp.present_token("TAG1", 1))
            await h.csms.next("StartTransaction")
            await h.csms.next("StopTransaction")  # the second swipe stopped the first's session
            await h.settle()
            assert h.csms.pending("StartTransaction") == 0
            await asyncio.gather(h.cp.present_token("TAG2", 1), h.cp.plug_out(1))
            await h.settle()
            started = h.csms.pending("StartTransaction")
            stopped = h.csms.pending("StopTransaction")
            assert started == stopped  # never a transaction left running on an empty socket
            assert h.cp.transactions.open == {}

    run(main)


def test_a_failing_callback_does_not_make_the_outbox_send_a_message_twice() -> None:
    async def main() -> None:
        h = make()

        def broken(tx: Any) -> None:
            raise RuntimeError("integrator bug")

        h.callbacks.transaction_updated = broken  # type: ignore[method-assign]
        async with running(h):
            await charging(h)
            await h.cp.present_token("TAG1")
            await h.csms.next("StopTransaction")
            await h.settle()
            assert h.csms.pending("StartTransaction") == 0
            assert len(h.cp.outbox) == 0

    run(main)


def test_triggered_messages_go_out_while_the_boot_is_pending() -> None:
    async def main() -> None:
        h = make()
        h.csms.boot_status, h.csms.boot_interval = "Pending", 60
        await h.cp.start()
        async with h.online():
            await h.csms.next("BootNotification")
            await h.cp.plug_in(1)
            await h.settle()
            assert h.csms.pending("StatusNotification") == 0  # not asked for: not sent
            await h.call(
                v16.TriggerMessageRequest(requested_message="StatusNotification", connector_id=1)
            )
            assert (await h.csms.next("StatusNotification")).status == "Preparing"

    run(main)


def test_an_availability_change_behind_a_transaction_survives_a_power_loss() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            await charging(h)
            same = await h.call(v16.ChangeAvailabilityRequest(connector_id=1, type="Operative"))
            assert same.status == "Accepted"  # already Operative: nothing to wait for
            later = await h.call(v16.ChangeAvailabilityRequest(connector_id=1, type="Inoperative"))
            assert later.status == "Scheduled"
            h.cp.transactions.on_stopped = _crash
            await h.cp.present_token("TAG1")
            await h.csms.next("StopTransaction")
        again = make(store=h.store, csms=h.csms, clock=h.clock)
        await again.cp.start()
        assert again.cp.connectors.status(1) == "Unavailable"

    run(main)


async def _crash(connector_id: int) -> None:
    """Power lost right after the StopTransaction was stored."""


def test_a_csms_answer_contradicting_the_local_list_is_reported() -> None:
    async def main() -> None:
        h = make()
        h.csms.authorize_status = "Blocked"
        async with running(h):
            listed = v16.SendLocalListRequest(
                list_version=1,
                update_type="Full",
                local_authorization_list=[
                    v16.AuthorizationData(
                        id_tag="TAG1", id_tag_info=v16.IdTagInfo(status="Accepted")
                    )
                ],
            )
            assert (await h.call(listed)).status == "Accepted"
            assert not await h.cp.present_token("TAG1", 1)  # LocalPreAuthorize off: CSMS decides
            conflict = await h.csms.next("StatusNotification")
            assert (conflict.connector_id, conflict.error_code) == (0, "LocalListConflict")

    run(main)


def test_group_stop_ignores_parent_case_and_a_faulted_cp_refuses_remote_start() -> None:
    async def main() -> None:
        h = make()
        async with running(h):
            entries = [
                v16.AuthorizationData(
                    id_tag=tag, id_tag_info=v16.IdTagInfo(status="Accepted", parent_id_tag=parent)
                )
                for tag, parent in (("A", "FLEET"), ("B", "fleet"))
            ]
            listed = v16.SendLocalListRequest(
                list_version=1, update_type="Full", local_authorization_list=entries
            )
            assert (await h.call(listed)).status == "Accepted"
            await h.cp.config.change("LocalPreAuthorize", "true")  # decided from the list
            await charging(h, "A")
            assert await h.cp.present_token("B")  # parentIdTag is a CiString20: same group
            assert (await h.csms.next("StopTransaction")).id_tag == "B"
            h.cp.raise_error(0, ConnectorError("InternalError"))  # the whole charge point
            start = await h.call(v16.RemoteStartTransactionRequest(id_tag="A", connector_id=2))
            assert start.status == "Rejected"

    run(main)
