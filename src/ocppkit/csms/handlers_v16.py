"""The CSMS's default OCPP 1.6 handlers: every charge point message, stored before answered."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from ocppkit.csms.context import CsmsContext, answer_after, stored_event_handler
from ocppkit.messages import v16
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import AnswerAfter, Router
from ocppkit.store import ConnectorStatus, MeterSample, StationRecord

__all__ = ["install_v16"]

log = logging.getLogger("ocppkit.csms")

# status reports and security events kept in the event log: action -> field with their own time
_EVENTS: dict[str, str | None] = {
    "DiagnosticsStatusNotification": None,
    "FirmwareStatusNotification": None,
    "LogStatusNotification": None,
    "SecurityEventNotification": "timestamp",
    "SignedFirmwareStatusNotification": None,
}


def _samples(meter_values: list[v16.MeterValue] | list[v16.TransactionData]) -> list[MeterSample]:
    return [
        MeterSample(
            timestamp=mv.timestamp,
            value=sv.value,
            measurand=sv.measurand or "Energy.Active.Import.Register",
            phase=sv.phase,
            unit=sv.unit,
            context=sv.context,
            location=sv.location,
        )
        for mv in meter_values
        for sv in mv.sampled_value
    ]


def _remember(
    ctx: CsmsContext, identity: str, wire_id: str, written: asyncio.Future[int | None]
) -> None:
    """A transaction's samples were stored: note its store id for the next MeterValues."""
    if not written.cancelled() and written.exception() is None:
        tx_id = written.result()
        if tx_id is not None:
            ctx.remember(identity, wire_id, tx_id)


def install_v16(router: Router, ctx: CsmsContext) -> None:
    """Register the default handlers for every 1.6 charge point -> CSMS action."""

    async def id_tag_info(token: str) -> v16.IdTagInfo:
        status, record = await ctx.token_verdict(token)
        return v16.IdTagInfo(
            status=status,  # type: ignore[arg-type]
            expiry_date=record.expiry if record else None,
            parent_id_tag=record.parent if record else None,
        )

    @router.on(v16.BootNotificationRequest)
    async def boot(
        req: v16.BootNotificationRequest, conn: OcppConnection
    ) -> v16.BootNotificationResponse:
        record = StationRecord(
            id=conn.identity,
            ocpp_version="1.6",
            vendor=req.charge_point_vendor,
            model=req.charge_point_model,
            serial_number=req.charge_point_serial_number or req.charge_box_serial_number,
            firmware_version=req.firmware_version,
        )
        decision = await ctx.boot(record)
        return v16.BootNotificationResponse(
            current_time=ctx.clock(),
            interval=ctx.interval(decision, conn.identity),
            status=decision,
        )

    @router.on(v16.HeartbeatRequest)
    def heartbeat(req: v16.HeartbeatRequest, conn: OcppConnection) -> v16.HeartbeatResponse:
        now = ctx.clock()
        ctx.store.touch(conn.identity, now)  # written behind: answered inline, no task
        return v16.HeartbeatResponse(current_time=now)

    status_ok = v16.StatusNotificationResponse()
    meter_values_ok = v16.MeterValuesResponse()

    # the frequent messages are plain handlers answered once their store write is done
    # (AnswerAfter): no task per message
    @router.on(v16.StatusNotificationRequest)
    def status(
        req: v16.StatusNotificationRequest, conn: OcppConnection
    ) -> AnswerAfter[v16.StatusNotificationResponse]:
        written = ctx.store.record_status(
            ConnectorStatus(
                station_id=conn.identity,
                evse_id=0,
                connector_id=req.connector_id,
                status=req.status,
                error_code=req.error_code,
                info=req.info,
                timestamp=req.timestamp or ctx.clock(),
            )
        )
        return answer_after(written, status_ok)

    @router.on(v16.AuthorizeRequest)
    async def authorize(req: v16.AuthorizeRequest, conn: OcppConnection) -> v16.AuthorizeResponse:
        return v16.AuthorizeResponse(id_tag_info=await id_tag_info(req.id_tag))

    @router.on(v16.StartTransactionRequest)
    async def start(
        req: v16.StartTransactionRequest, conn: OcppConnection
    ) -> v16.StartTransactionResponse:
        info = await id_tag_info(req.id_tag)
        tx = await ctx.store.start_transaction(
            conn.identity, req.connector_id, req.id_tag, float(req.meter_start), req.timestamp
        )
        ctx.remember_transaction(tx)
        log.info(
            "%s: transaction %s started on connector %d by %s",
            conn.identity,
            tx.ocpp_id,
            req.connector_id,
            req.id_tag,
        )
        return v16.StartTransactionResponse(transaction_id=int(tx.ocpp_id), id_tag_info=info)

    @router.on(v16.StopTransactionRequest)
    async def stop(
        req: v16.StopTransactionRequest, conn: OcppConnection
    ) -> v16.StopTransactionResponse:
        tx = await ctx.store.stop_transaction(
            conn.identity,
            str(req.transaction_id),
            float(req.meter_stop),
            req.timestamp,
            req.reason or "Local",
        )
        if tx is not None:
            log.info(
                "%s: transaction %s stopped (%s), %s Wh",
                conn.identity,
                tx.ocpp_id,
                tx.stop_reason,
                tx.energy_wh,
            )
        if tx is not None and req.transaction_data:
            await ctx.store.add_meter_values(tx.id, _samples(req.transaction_data))
        info = await id_tag_info(req.id_tag) if req.id_tag else None
        return v16.StopTransactionResponse(id_tag_info=info)

    @router.on(v16.MeterValuesRequest)
    def meter_values(
        req: v16.MeterValuesRequest, conn: OcppConnection
    ) -> AnswerAfter[v16.MeterValuesResponse]:
        if req.transaction_id is None:  # outside a transaction: kept in the event log, as in 2.x
            return answer_after(
                ctx.record_event(conn.identity, "MeterValues", req), meter_values_ok
            )
        samples = _samples(req.meter_value)
        wire_id = str(req.transaction_id)
        tx_id = ctx.known_transactions.get((conn.identity, wire_id))
        if tx_id is not None:
            return answer_after(ctx.store.add_meter_values(tx_id, samples), meter_values_ok)
        # one store write: added to the transaction, or to the event log if it is unknown
        unknown = ctx.event(conn.identity, "MeterValues", req)
        written = ctx.store.add_transaction_meter_values(conn.identity, wire_id, samples, unknown)
        answer = answer_after(written, meter_values_ok)
        answer.future.add_done_callback(partial(_remember, ctx, conn.identity, wire_id))
        return answer

    # messages kept in the event log --------------------------------------------------------
    unknown_vendor = v16.DataTransferResponse(status="UnknownVendorId")
    router.add(
        v16.DataTransferRequest, stored_event_handler(ctx, "DataTransfer", unknown_vendor, None)
    )

    for name, time_field in _EVENTS.items():
        response = getattr(v16, f"{name}Response")()
        router.add(
            getattr(v16, f"{name}Request"), stored_event_handler(ctx, name, response, time_field)
        )
