"""The CSMS's default OCPP 2.0.1 / 2.1 handlers (the two share these messages' shapes)."""

from __future__ import annotations

import logging
from functools import partial
from types import ModuleType
from typing import Any

from ocppkit.csms.context import CsmsContext, answer_after, stored_event_handler
from ocppkit.messages import actions, v21, v201
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router
from ocppkit.store import ConnectorStatus, MeterSample, StationRecord

__all__ = ["id_token_info", "install_v2x"]

log = logging.getLogger("ocppkit.csms")

_ENERGY = "Energy.Active.Import.Register"


def _samples(meter_values: list[Any] | None) -> list[MeterSample]:
    return [
        MeterSample(
            timestamp=mv.timestamp,
            value=repr(sv.value) if isinstance(sv.value, float) else str(sv.value),
            measurand=sv.measurand or _ENERGY,
            phase=sv.phase,
            unit=sv.unit_of_measure.unit if sv.unit_of_measure else None,
            context=sv.context,
            location=sv.location,
        )
        for mv in meter_values or []
        for sv in mv.sampled_value
    ]


def _energy_wh(meter_values: list[Any] | None) -> float | None:
    """The last Energy.Active.Import.Register reading in Wh, if any."""
    reading: float | None = None
    for mv in meter_values or []:
        for sv in mv.sampled_value:
            if (sv.measurand or _ENERGY) == _ENERGY and sv.phase is None:
                unit = sv.unit_of_measure
                scale = 10 ** (unit.multiplier or 0) if unit else 1
                factor = 1000.0 if unit and unit.unit == "kWh" else 1.0
                reading = float(sv.value) * scale * factor
    return reading


# station messages kept in the event log: action -> (the request field holding the message's
# own time, if any; the answer's fields). Actions a version does not have are skipped.
_EVENTS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "MeterValues": (None, {}),  # outside transactions (2.x sends those in TransactionEvent)
    "FirmwareStatusNotification": (None, {}),
    "LogStatusNotification": (None, {}),
    "SecurityEventNotification": ("timestamp", {}),
    "NotifyReport": ("generated_at", {}),
    "NotifyEvent": ("generated_at", {}),
    # the data of CSMS requests (GetMonitoringReport, CustomerInformation, GetDisplayMessages,
    # GetChargingProfiles) and what the station reports by itself
    "NotifyMonitoringReport": ("generated_at", {}),
    "NotifyCustomerInformation": ("generated_at", {}),
    "NotifyDisplayMessages": (None, {}),
    "ReportChargingProfiles": (None, {}),
    "NotifyChargingLimit": (None, {}),
    "ClearedChargingLimit": (None, {}),
    "ReservationStatusUpdate": (None, {}),
    "PublishFirmwareStatusNotification": (None, {}),
    # ISO 15118 charging needs: this CSMS computes no schedules (2.0.1 has no NoChargingProfile)
    "NotifyEVChargingNeeds": ("timestamp", {"status": "NoChargingProfile"}),
    "NotifyEVChargingSchedule": (None, {"status": "Accepted"}),
    # 2.1
    "BatterySwap": (None, {}),
    "NotifyDERAlarm": ("timestamp", {}),
    "NotifyDERStartStop": ("timestamp", {}),
    "ReportDERControl": (None, {}),
    "NotifyPriorityCharging": (None, {}),
    "NotifySettlement": ("settlement_time", {}),
    "OpenPeriodicEventStream": (None, {"status": "Rejected"}),  # no streams here
    "ClosePeriodicEventStream": (None, {}),
    "PullDynamicScheduleUpdate": (None, {"status": "Rejected"}),  # no dynamic profiles
}
_V201_ANSWERS: dict[str, dict[str, Any]] = {"NotifyEVChargingNeeds": {"status": "Rejected"}}


async def id_token_info(ctx: CsmsContext, pkg: ModuleType, token: Any) -> Any:
    """``pkg.IdTokenInfoType`` of an id token (``pkg``: v201 or v21): its status from the store
    (Invalid if unknown, Expired past expiry), its expiry and its parent as the group."""
    status, record = await ctx.token_verdict(token.id_token)
    group = (
        pkg.IdTokenType(id_token=record.parent, type="Central")
        if record and record.parent
        else None
    )
    return pkg.IdTokenInfoType(
        status=status,
        cache_expiry_date_time=record.expiry if record else None,
        group_id_token=group,
    )


def install_v2x(router: Router, ctx: CsmsContext) -> None:
    """Register the default handlers for every 2.x station -> CSMS action of these blocks."""
    pkg: ModuleType = v201 if router.version is OcppVersion.V201 else v21
    label = router.version.value

    token_info = partial(id_token_info, ctx, pkg)

    async def boot(req: Any, conn: OcppConnection) -> Any:
        station = req.charging_station
        record = StationRecord(
            id=conn.identity,
            ocpp_version=label,
            vendor=station.vendor_name,
            model=station.model,
            serial_number=station.serial_number,
            firmware_version=station.firmware_version,
        )
        decision = await ctx.boot(record)
        return pkg.BootNotificationResponse(
            current_time=ctx.clock(),
            interval=ctx.interval(decision, conn.identity),
            status=decision,
        )

    def heartbeat(req: Any, conn: OcppConnection) -> Any:
        now = ctx.clock()
        ctx.store.touch(conn.identity, now)  # written behind: answered inline, no task
        return pkg.HeartbeatResponse(current_time=now)

    status_ok = pkg.StatusNotificationResponse()

    def status(req: Any, conn: OcppConnection) -> Any:  # answered once stored, no task
        written = ctx.store.record_status(
            ConnectorStatus(
                station_id=conn.identity,
                evse_id=req.evse_id,
                connector_id=req.connector_id,
                status=req.connector_status,
                timestamp=req.timestamp,
            )
        )
        return answer_after(written, status_ok)

    async def authorize(req: Any, conn: OcppConnection) -> Any:
        return pkg.AuthorizeResponse(id_token_info=await token_info(req.id_token))

    async def transaction_event(req: Any, conn: OcppConnection) -> Any:
        info = req.transaction_info
        tx, new = await ctx.store.transaction_event(
            conn.identity,
            info.transaction_id,
            req.seq_no,
            req.event_type,
            req.timestamp,
            evse_id=req.evse.id if req.evse else 0,
            connector_id=(req.evse.connector_id or 0) if req.evse else 0,
            id_token=req.id_token.id_token if req.id_token else None,
            meter_wh=_energy_wh(req.meter_value),
            stop_reason=info.stopped_reason,
        )
        if new and req.event_type != "Updated":  # a replay is not news
            log.info(
                "%s: transaction %s %s (seqNo %d)",
                conn.identity,
                tx.ocpp_id,
                req.event_type.lower(),
                req.seq_no,
            )
        if req.meter_value:
            await ctx.store.add_meter_values(tx.id, _samples(req.meter_value))
        id_token_info = await token_info(req.id_token) if req.id_token else None
        return pkg.TransactionEventResponse(id_token_info=id_token_info)

    data_transfer = stored_event_handler(
        ctx, "DataTransfer", pkg.DataTransferResponse(status="UnknownVendorId"), None
    )
    for request_type, handler in (
        (pkg.BootNotificationRequest, boot),
        (pkg.HeartbeatRequest, heartbeat),
        (pkg.StatusNotificationRequest, status),
        (pkg.AuthorizeRequest, authorize),
        (pkg.TransactionEventRequest, transaction_event),
        (pkg.DataTransferRequest, data_transfer),
    ):
        router.add(request_type, handler)
    known = actions(router.version)
    for name, (time_field, fields) in _EVENTS.items():
        if name not in known:
            continue
        spec = known[name]
        if router.version is OcppVersion.V201:
            fields = _V201_ANSWERS.get(name, fields)
        if time_field not in spec.request.__struct_fields__:
            time_field = None
        assert spec.response is not None
        handler = stored_event_handler(ctx, name, spec.response(**fields), time_field)
        router.add(spec.request, handler)
    if router.version is OcppVersion.V21:
        vat = stored_event_handler(ctx, "VatNumberValidation", _vat_number_answer, None)
        router.add(v21.VatNumberValidationRequest, vat)
        chain = stored_event_handler(
            ctx, "GetCertificateChainStatus", partial(_chain_status_answer, ctx), None
        )
        router.add(v21.GetCertificateChainStatusRequest, chain)


def _vat_number_answer(req: v21.VatNumberValidationRequest) -> v21.VatNumberValidationResponse:
    """2.1 VatNumberValidation: Rejected, since this CSMS cannot check a VAT number (override
    the handler with a service that can)."""
    return v21.VatNumberValidationResponse(
        vat_number=req.vat_number, evse_id=req.evse_id, status="Rejected"
    )


def _chain_status_answer(
    ctx: CsmsContext, req: v21.GetCertificateChainStatusRequest
) -> v21.GetCertificateChainStatusResponse:
    """2.1 GetCertificateChainStatus: each certificate's status Failed (no OCSP responder
    here), to be asked again now."""
    now = ctx.clock()
    statuses = [
        v21.CertificateStatusType(
            certificate_hash_data=asked.certificate_hash_data,
            source=asked.source,
            status="Failed",
            next_update=now,
        )
        for asked in req.certificate_status_requests
    ]
    return v21.GetCertificateChainStatusResponse(certificate_status=statuses)
