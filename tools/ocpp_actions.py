"""Action metadata the schemas do not carry: direction and feature profile / functional block.

Source: the OCPP 1.6 feature profiles plus the Security Whitepaper, and the 2.0.1 / 2.1 functional
blocks (Part 2 use cases), as tabulated in ``shared/ocpp-reference/messages.md``.
Used only by ``generate_messages.py``.
"""

from __future__ import annotations

CP = "cp_to_csms"
CS = "csms_to_cp"
BOTH = "both"

# 1.6 feature profiles: module name -> (title, {action: direction})
V16: dict[str, tuple[str, dict[str, str]]] = {
    "core": (
        "Core",
        {
            "Authorize": CP,
            "BootNotification": CP,
            "ChangeAvailability": CS,
            "ChangeConfiguration": CS,
            "ClearCache": CS,
            "DataTransfer": BOTH,
            "GetConfiguration": CS,
            "Heartbeat": CP,
            "MeterValues": CP,
            "RemoteStartTransaction": CS,
            "RemoteStopTransaction": CS,
            "Reset": CS,
            "StartTransaction": CP,
            "StatusNotification": CP,
            "StopTransaction": CP,
            "UnlockConnector": CS,
        },
    ),
    "firmware_management": (
        "Firmware Management",
        {
            "DiagnosticsStatusNotification": CP,
            "FirmwareStatusNotification": CP,
            "GetDiagnostics": CS,
            "UpdateFirmware": CS,
        },
    ),
    "local_auth_list_management": (
        "Local Auth List Management",
        {"GetLocalListVersion": CS, "SendLocalList": CS},
    ),
    "reservation": ("Reservation", {"CancelReservation": CS, "ReserveNow": CS}),
    "smart_charging": (
        "Smart Charging",
        {"ClearChargingProfile": CS, "GetCompositeSchedule": CS, "SetChargingProfile": CS},
    ),
    "remote_trigger": ("Remote Trigger", {"TriggerMessage": CS}),
    "security": (
        "Security (1.6 Security Whitepaper)",
        {
            "CertificateSigned": CS,
            "DeleteCertificate": CS,
            "ExtendedTriggerMessage": CS,
            "GetInstalledCertificateIds": CS,
            "GetLog": CS,
            "InstallCertificate": CS,
            "LogStatusNotification": CP,
            "SecurityEventNotification": CP,
            "SignCertificate": CP,
            "SignedFirmwareStatusNotification": CP,
            "SignedUpdateFirmware": CS,
        },
    ),
}

# 2.0.1 functional blocks: module name -> (title, {action: direction})
V201: dict[str, tuple[str, dict[str, str]]] = {
    "security": (
        "A Security",
        {"CertificateSigned": CS, "SecurityEventNotification": CP, "SignCertificate": CP},
    ),
    "provisioning": (
        "B Provisioning",
        {
            "BootNotification": CP,
            "GetBaseReport": CS,
            "GetReport": CS,
            "GetVariables": CS,
            "NotifyReport": CP,
            "Reset": CS,
            "SetNetworkProfile": CS,
            "SetVariables": CS,
        },
    ),
    "authorization": ("C Authorization", {"Authorize": CP, "ClearCache": CS}),
    "local_authorization_list": (
        "D Local Authorization List Management",
        {"GetLocalListVersion": CS, "SendLocalList": CS},
    ),
    "transactions": ("E Transactions", {"GetTransactionStatus": CS, "TransactionEvent": CP}),
    "remote_control": (
        "F Remote Control",
        {
            "RequestStartTransaction": CS,
            "RequestStopTransaction": CS,
            "TriggerMessage": CS,
            "UnlockConnector": CS,
        },
    ),
    "availability": (
        "G Availability",
        {"ChangeAvailability": CS, "Heartbeat": CP, "StatusNotification": CP},
    ),
    "reservation": (
        "H Reservation",
        {"CancelReservation": CS, "ReservationStatusUpdate": CP, "ReserveNow": CS},
    ),
    "tariff_and_cost": ("I Tariff and Cost", {"CostUpdated": CS}),
    "meter_values": ("J Meter Values", {"MeterValues": CP}),
    "smart_charging": (
        "K Smart Charging",
        {
            "ClearChargingProfile": CS,
            "ClearedChargingLimit": CP,
            "GetChargingProfiles": CS,
            "GetCompositeSchedule": CS,
            "NotifyChargingLimit": CP,
            "NotifyEVChargingNeeds": CP,
            "NotifyEVChargingSchedule": CP,
            "ReportChargingProfiles": CP,
            "SetChargingProfile": CS,
        },
    ),
    "firmware_management": (
        "L Firmware Management",
        {
            "FirmwareStatusNotification": CP,
            "PublishFirmware": CS,
            "PublishFirmwareStatusNotification": CP,
            "UnpublishFirmware": CS,
            "UpdateFirmware": CS,
        },
    ),
    "iso15118_certificate_management": (
        "M ISO 15118 Certificate Management",
        {
            "DeleteCertificate": CS,
            "Get15118EVCertificate": CP,
            "GetCertificateStatus": CP,
            "GetInstalledCertificateIds": CS,
            "InstallCertificate": CS,
        },
    ),
    "diagnostics": (
        "N Diagnostics",
        {
            "ClearVariableMonitoring": CS,
            "CustomerInformation": CS,
            "GetLog": CS,
            "GetMonitoringReport": CS,
            "LogStatusNotification": CP,
            "NotifyCustomerInformation": CP,
            "NotifyEvent": CP,
            "NotifyMonitoringReport": CP,
            "SetMonitoringBase": CS,
            "SetMonitoringLevel": CS,
            "SetVariableMonitoring": CS,
        },
    ),
    "display_message": (
        "O Display Message",
        {
            "ClearDisplayMessage": CS,
            "GetDisplayMessages": CS,
            "NotifyDisplayMessages": CP,
            "SetDisplayMessage": CS,
        },
    ),
    "data_transfer": ("P Data Transfer", {"DataTransfer": BOTH}),
}

_V21_NEW: dict[str, dict[str, str]] = {
    "authorization": {
        "NotifySettlement": CP,
        "NotifyWebPaymentStarted": CS,
        "VatNumberValidation": CP,
    },
    "tariff_and_cost": {
        "ChangeTransactionTariff": CS,
        "ClearTariffs": CS,
        "GetTariffs": CS,
        "SetDefaultTariff": CS,
    },
    "smart_charging": {
        "NotifyPriorityCharging": CP,
        "PullDynamicScheduleUpdate": CP,
        "UpdateDynamicSchedule": CS,
        "UsePriorityCharging": CS,
    },
    "iso15118_certificate_management": {"GetCertificateChainStatus": CP},
    "diagnostics": {
        "AdjustPeriodicEventStream": CS,
        "ClosePeriodicEventStream": CP,
        "GetPeriodicEventStream": CS,
        "NotifyPeriodicEventStream": CP,
        "OpenPeriodicEventStream": CP,
    },
    "bidirectional_power_transfer": {"AFRRSignal": CS, "NotifyAllowedEnergyTransfer": CS},
    "der_control": {
        "ClearDERControl": CS,
        "GetDERControl": CS,
        "NotifyDERAlarm": CP,
        "NotifyDERStartStop": CP,
        "ReportDERControl": CP,
        "SetDERControl": CS,
    },
    "battery_swapping": {"BatterySwap": CP, "RequestBatterySwap": CS},
}
_V21_TITLES = {
    "bidirectional_power_transfer": "Q Bidirectional Power Transfer",
    "der_control": "R DER Control",
    "battery_swapping": "S Battery Swapping",
}


def _v21() -> dict[str, tuple[str, dict[str, str]]]:
    blocks = {name: (title, dict(actions)) for name, (title, actions) in V201.items()}
    for name, actions in _V21_NEW.items():
        if name not in blocks:
            blocks[name] = (_V21_TITLES[name], {})
        blocks[name][1].update(actions)
    return blocks


V21 = _v21()

# 2.1 actions sent as SEND (message type 6): no response.
SEND_ONLY = {"NotifyPeriodicEventStream"}
