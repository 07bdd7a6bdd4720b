"""Names for the OCPP 1.6 types the 1.6 JSON schemas define inline, without a name.

Keys are schema paths: ``<schema file stem>.<field>[].<field>`` (``[]`` = array item). Values are
the type names of the OCPP 1.6 specification, section 7 ("Types"). Where two inline schemas share
a spec name but differ (the 1.6 StopTransaction schema's sampled value allows no ``Celsius`` unit
and no minimum item count), the variant gets a ``TransactionData`` prefix. The generator fails on
any inline type missing from this table, so a new schema cannot slip through unnamed.
"""

from __future__ import annotations

OBJECTS: dict[str, str] = {
    "AuthorizeResponse.idTagInfo": "IdTagInfo",
    "SendLocalList.localAuthorizationList[].idTagInfo": "IdTagInfo",
    "StartTransactionResponse.idTagInfo": "IdTagInfo",
    "StopTransactionResponse.idTagInfo": "IdTagInfo",
    "SendLocalList.localAuthorizationList[]": "AuthorizationData",
    "GetCompositeScheduleResponse.chargingSchedule": "ChargingSchedule",
    "RemoteStartTransaction.chargingProfile.chargingSchedule": "ChargingSchedule",
    "SetChargingProfile.csChargingProfiles.chargingSchedule": "ChargingSchedule",
    "GetCompositeScheduleResponse.chargingSchedule.chargingSchedulePeriod[]": "ChargingSchedulePeriod",
    "RemoteStartTransaction.chargingProfile.chargingSchedule.chargingSchedulePeriod[]": (
        "ChargingSchedulePeriod"
    ),
    "SetChargingProfile.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[]": (
        "ChargingSchedulePeriod"
    ),
    "RemoteStartTransaction.chargingProfile": "ChargingProfile",
    "SetChargingProfile.csChargingProfiles": "ChargingProfile",
    "GetConfigurationResponse.configurationKey[]": "KeyValue",
    "MeterValues.meterValue[]": "MeterValue",
    "MeterValues.meterValue[].sampledValue[]": "SampledValue",
    "StopTransaction.transactionData[]": "TransactionData",
    "StopTransaction.transactionData[].sampledValue[]": "TransactionDataSampledValue",
}

ENUMS: dict[str, str] = {
    "AuthorizeResponse.idTagInfo.status": "AuthorizationStatus",
    "SendLocalList.localAuthorizationList[].idTagInfo.status": "AuthorizationStatus",
    "StartTransactionResponse.idTagInfo.status": "AuthorizationStatus",
    "StopTransactionResponse.idTagInfo.status": "AuthorizationStatus",
    "BootNotificationResponse.status": "RegistrationStatus",
    "CancelReservationResponse.status": "CancelReservationStatus",
    "ClearCacheResponse.status": "ClearCacheStatus",
    "GetCompositeScheduleResponse.status": "GetCompositeScheduleStatus",
    "RemoteStartTransactionResponse.status": "RemoteStartStopStatus",
    "RemoteStopTransactionResponse.status": "RemoteStartStopStatus",
    "ResetResponse.status": "ResetStatus",
    "ChangeAvailability.type": "AvailabilityType",
    "ChangeAvailabilityResponse.status": "AvailabilityStatus",
    "ChangeConfigurationResponse.status": "ConfigurationStatus",
    "ClearChargingProfile.chargingProfilePurpose": "ChargingProfilePurposeType",
    "RemoteStartTransaction.chargingProfile.chargingProfilePurpose": "ChargingProfilePurposeType",
    "SetChargingProfile.csChargingProfiles.chargingProfilePurpose": "ChargingProfilePurposeType",
    "ClearChargingProfileResponse.status": "ClearChargingProfileStatus",
    "DataTransferResponse.status": "DataTransferStatus",
    "DiagnosticsStatusNotification.status": "DiagnosticsStatus",
    "FirmwareStatusNotification.status": "FirmwareStatus",
    "GetCompositeSchedule.chargingRateUnit": "ChargingRateUnitType",
    "GetCompositeScheduleResponse.chargingSchedule.chargingRateUnit": "ChargingRateUnitType",
    "RemoteStartTransaction.chargingProfile.chargingSchedule.chargingRateUnit": "ChargingRateUnitType",
    "SetChargingProfile.csChargingProfiles.chargingSchedule.chargingRateUnit": "ChargingRateUnitType",
    "MeterValues.meterValue[].sampledValue[].context": "ReadingContext",
    "StopTransaction.transactionData[].sampledValue[].context": "ReadingContext",
    "MeterValues.meterValue[].sampledValue[].format": "ValueFormat",
    "StopTransaction.transactionData[].sampledValue[].format": "ValueFormat",
    "MeterValues.meterValue[].sampledValue[].measurand": "Measurand",
    "StopTransaction.transactionData[].sampledValue[].measurand": "Measurand",
    "MeterValues.meterValue[].sampledValue[].phase": "Phase",
    "StopTransaction.transactionData[].sampledValue[].phase": "Phase",
    "MeterValues.meterValue[].sampledValue[].location": "Location",
    "StopTransaction.transactionData[].sampledValue[].location": "Location",
    "MeterValues.meterValue[].sampledValue[].unit": "UnitOfMeasure",
    "StopTransaction.transactionData[].sampledValue[].unit": "TransactionDataUnitOfMeasure",
    "RemoteStartTransaction.chargingProfile.chargingProfileKind": "ChargingProfileKindType",
    "SetChargingProfile.csChargingProfiles.chargingProfileKind": "ChargingProfileKindType",
    "RemoteStartTransaction.chargingProfile.recurrencyKind": "RecurrencyKindType",
    "SetChargingProfile.csChargingProfiles.recurrencyKind": "RecurrencyKindType",
    "ReserveNowResponse.status": "ReservationStatus",
    "Reset.type": "ResetType",
    "SendLocalList.updateType": "UpdateType",
    "SendLocalListResponse.status": "UpdateStatus",
    "SetChargingProfileResponse.status": "ChargingProfileStatus",
    "StatusNotification.errorCode": "ChargePointErrorCode",
    "StatusNotification.status": "ChargePointStatus",
    "StopTransaction.reason": "Reason",
    "TriggerMessage.requestedMessage": "MessageTrigger",
    "TriggerMessageResponse.status": "TriggerMessageStatus",
    "UnlockConnectorResponse.status": "UnlockStatus",
}
