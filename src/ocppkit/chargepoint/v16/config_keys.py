"""The OCPP 1.6 configuration keys as data: ``KeySpec`` and the ``STANDARD_KEYS`` table.

One row per key of the Core, LocalAuthListManagement, Reservation and SmartCharging profiles
(OCPP 1.6 edition 2 chapter 9 with its errata, OCPP-J ``WebSocketPingInterval`` and
``AuthorizationKey``) and of the security white paper (pseudo-profile ``"Security"``). A default
of ``None`` means "not supported" until the integrator gives the key a value; optional keys of
hardware the stack cannot know about (``BlinkRepeat``, ``LightIntensity`` …) start that way.
``NumberOfConnectors``, ``SupportedFeatureProfiles`` and ``ConnectorPhaseRotation`` get their
defaults from ``Configuration.load``'s arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Literal, TypeAlias, get_args

from ocppkit.messages.v16 import Measurand, Phase

__all__ = [
    "FEATURE_PROFILES",
    "MEASURAND_ITEMS",
    "PHASE_ROTATIONS",
    "PROFILES",
    "STANDARD_KEYS",
    "FeatureProfile",
    "KeyAccess",
    "KeyKind",
    "KeySpec",
    "Validator",
    "authorization_key_error",
    "phase_rotation_error",
]

KeyKind: TypeAlias = Literal["bool", "int", "csl", "string"]
"""How a value is read: ``true``/``false``, a decimal integer, a comma-separated list, text."""

KeyAccess: TypeAlias = Literal["R", "RW", "W"]
"""Read-only, read-write, or write-only (never returned by GetConfiguration)."""

FeatureProfile: TypeAlias = Literal[
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
]
"""A ``SupportedFeatureProfiles`` item (no generated alias: the schemas do not spell these)."""

FEATURE_PROFILES: tuple[FeatureProfile, ...] = get_args(FeatureProfile)
"""Every 1.6 feature profile, in the order the specification lists them."""

PROFILES: tuple[str, ...] = (*FEATURE_PROFILES, "Security")
"""Every profile label of ``STANDARD_KEYS``: the feature profiles and the security WP keys."""

Validator: TypeAlias = Callable[[str], str | None]
"""Checks a normalised value: returns why it is invalid, or ``None`` when it is fine."""

PHASE_ROTATIONS = ("RST", "RTS", "SRT", "STR", "TRS", "TSR", "NotApplicable", "Unknown")
"""The rotations a ``ConnectorPhaseRotation`` item may name after its ``<connectorId>.``."""

_MEASURANDS: tuple[str, ...] = get_args(Measurand)
MEASURAND_ITEMS: tuple[str, ...] = _MEASURANDS + tuple(
    f"{measurand}.{phase}" for measurand in _MEASURANDS for phase in get_args(Phase)
)
"""Valid items of the measurand lists: a measurand, optionally with a phase (``Voltage.L1``)."""

_KINDS: tuple[str, ...] = get_args(KeyKind)
_ACCESS: tuple[str, ...] = get_args(KeyAccess)


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: how its value is checked, who may write it, where it belongs."""

    name: str
    """The key as the specification spells it (compared case-insensitively)."""
    kind: KeyKind
    """How the wire string is parsed and normalised."""
    access: KeyAccess
    """``R`` (ChangeConfiguration is Rejected), ``RW``, or ``W`` (write-only)."""
    default: str | None
    """Initial wire value; ``None`` = not supported unless the integrator sets a value."""
    _: KW_ONLY
    profile: str = "Core"
    """Feature profile (or ``"Security"``, or any label for a custom key)."""
    reboot_required: bool = False
    """A change is stored but answered ``RebootRequired`` (it applies after a reboot)."""
    validator: Validator | None = None
    """Extra check of the normalised value, after the kind/choices/range checks."""
    choices: tuple[str, ...] | None = None
    """Allowed values (``string``) or list items (``csl``), matched case-insensitively and
    stored in the spelling given here."""
    max_items_key: str | None = None
    """For a ``csl``: the integer key bounding its number of items (``...MaxLength``)."""
    min_value: int | None = None
    """For an ``int``: the smallest accepted value."""
    max_value: int | None = None
    """For an ``int``: the largest accepted value."""

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= 50 or self.name.strip() != self.name:
            raise ValueError(f"key name {self.name!r}: 1..50 characters, no outer blanks")
        if self.kind not in _KINDS or self.access not in _ACCESS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r} or access {self.access!r}")
        if self.max_items_key is not None and self.kind != "csl":
            raise ValueError(f"{self.name}: max_items_key needs kind 'csl'")
        if (self.min_value, self.max_value) != (None, None) and self.kind != "int":
            raise ValueError(f"{self.name}: min_value/max_value need kind 'int'")
        if self.choices is not None and self.kind not in ("csl", "string"):
            raise ValueError(f"{self.name}: choices need kind 'csl' or 'string'")


_ROTATION = re.compile(r"(\d+)\.([A-Za-z]+)")


def phase_rotation_error(value: str) -> str | None:
    """``ConnectorPhaseRotation``: items ``<connectorId>.<rotation>``, each connector once."""
    seen: set[int] = set()
    rotations = {rotation.lower() for rotation in PHASE_ROTATIONS}
    for item in value.split(",") if value else ():
        match = _ROTATION.fullmatch(item)
        if match is None or match[2].lower() not in rotations:
            return f"{item!r} is not <connectorId>.<{'|'.join(PHASE_ROTATIONS)}>"
        connector = int(match[1])
        if connector in seen:
            return f"connector {connector} is listed twice"
        seen.add(connector)
    return None


_HEX = re.compile(r"[0-9A-Fa-f]*")


def authorization_key_error(value: str) -> str | None:
    """``AuthorizationKey``: 16 to 20 bytes written as hex (32 to 40 hex digits, security WP)."""
    if not _HEX.fullmatch(value):
        return "not hexadecimal"
    if not 32 <= len(value) <= 40 or len(value) % 2:
        return "must be 16 to 20 bytes (32 to 40 hex digits)"
    return None


def _measurands(name: str, default: str, profile: str = "Core") -> tuple[KeySpec, KeySpec]:
    """A measurand list and its ``...MaxLength`` key (10 items: a 3-phase meter's readings)."""
    bound = f"{name}MaxLength"
    return (
        KeySpec(
            name,
            "csl",
            "RW",
            default,
            choices=MEASURAND_ITEMS,
            max_items_key=bound,
            profile=profile,
        ),
        KeySpec(bound, "int", "R", "10", min_value=0, profile=profile),
    )


def _non_negative(name: str, default: str | None) -> KeySpec:
    """A Core read-write count or number of seconds: negative values are Rejected."""
    return KeySpec(name, "int", "RW", default, min_value=0)


# Defaults: what a public AC charger ships with; the CSMS usually overrides the intervals
# (HeartbeatInterval also comes with BootNotification.conf).
STANDARD_KEYS: tuple[KeySpec, ...] = (
    # -- Core ------------------------------------------------------------------------------
    KeySpec("AllowOfflineTxForUnknownId", "bool", "RW", "false"),
    KeySpec("AuthorizationCacheEnabled", "bool", "RW", "true"),
    KeySpec("AuthorizeRemoteTxRequests", "bool", "RW", "false"),  # R or RW: CP's choice
    _non_negative("BlinkRepeat", None),  # hardware: the integrator enables it
    _non_negative("ClockAlignedDataInterval", "0"),  # 0 = no clock-aligned data
    _non_negative("ConnectionTimeOut", "60"),
    KeySpec("ConnectorPhaseRotation", "csl", "RW", None, validator=phase_rotation_error),
    KeySpec("ConnectorPhaseRotationMaxLength", "int", "R", None, min_value=0),
    KeySpec("GetConfigurationMaxKeys", "int", "R", "50", min_value=1),
    _non_negative("HeartbeatInterval", "300"),
    KeySpec("LightIntensity", "int", "RW", None, min_value=0, max_value=100),  # hardware
    KeySpec("LocalAuthorizeOffline", "bool", "RW", "true"),
    KeySpec("LocalPreAuthorize", "bool", "RW", "false"),
    _non_negative("MaxEnergyOnInvalidId", None),
    KeySpec("MessageTimeout", "int", "RW", None, min_value=1),  # errata 3.83
    *_measurands("MeterValuesAlignedData", "Energy.Active.Import.Register"),
    *_measurands("MeterValuesSampledData", "Energy.Active.Import.Register"),
    _non_negative("MeterValueSampleInterval", "60"),  # 0 = no periodic samples
    _non_negative("MinimumStatusDuration", None),
    KeySpec("NumberOfConnectors", "int", "R", None, min_value=1),
    _non_negative("ResetRetries", "3"),
    KeySpec("StopTransactionOnEVSideDisconnect", "bool", "RW", "true"),
    KeySpec("StopTransactionOnInvalidId", "bool", "RW", "true"),
    *_measurands("StopTxnAlignedData", ""),  # empty = none
    *_measurands("StopTxnSampledData", ""),
    KeySpec("SupportedFeatureProfiles", "csl", "R", None, choices=FEATURE_PROFILES),
    KeySpec("SupportedFeatureProfilesMaxLength", "int", "R", None),  # errata: pointless
    _non_negative("TransactionMessageAttempts", "3"),
    _non_negative("TransactionMessageRetryInterval", "60"),
    KeySpec("UnlockConnectorOnEVSideDisconnect", "bool", "RW", "true"),  # fixed cable: R false
    _non_negative("WebSocketPingInterval", "60"),  # OCPP-J; 0 = no pings from the CP
    KeySpec("AuthorizationKey", "string", "W", "", validator=authorization_key_error),
    # -- LocalAuthListManagement -----------------------------------------------------------
    KeySpec("LocalAuthListEnabled", "bool", "RW", "true", profile="LocalAuthListManagement"),
    KeySpec("LocalAuthListMaxLength", "int", "R", "1000", profile="LocalAuthListManagement"),
    KeySpec("SendLocalListMaxLength", "int", "R", "100", profile="LocalAuthListManagement"),
    # -- Reservation -----------------------------------------------------------------------
    KeySpec("ReserveConnectorZeroSupported", "bool", "R", None, profile="Reservation"),
    # -- SmartCharging ---------------------------------------------------------------------
    KeySpec("ChargeProfileMaxStackLevel", "int", "R", "10", profile="SmartCharging"),
    KeySpec(
        "ChargingScheduleAllowedChargingRateUnit",
        "csl",
        "R",
        "Current,Power",
        choices=("Current", "Power"),  # not the schema's "A"/"W"
        profile="SmartCharging",
    ),
    KeySpec("ChargingScheduleMaxPeriods", "int", "R", "48", profile="SmartCharging"),
    KeySpec("ConnectorSwitch3to1PhaseSupported", "bool", "R", None, profile="SmartCharging"),
    KeySpec("MaxChargingProfilesInstalled", "int", "R", "30", profile="SmartCharging"),
    # -- FirmwareManagement (referenced by the security white paper) -----------------------
    KeySpec("SupportedFileTransferProtocols", "csl", "R", None, profile="FirmwareManagement"),
    # -- Security white paper --------------------------------------------------------------
    KeySpec("SecurityProfile", "int", "RW", "0", min_value=0, max_value=3, profile="Security"),
    KeySpec("CpoName", "string", "RW", "", profile="Security"),
    KeySpec("AdditionalRootCertificateCheck", "bool", "R", "false", profile="Security"),
    KeySpec(
        "CertificateSignedMaxChainSize",
        "int",
        "R",
        "10000",
        min_value=0,
        max_value=10000,
        profile="Security",
    ),
    KeySpec("CertificateStoreMaxLength", "int", "R", "10", min_value=0, profile="Security"),
)
"""Every standard 1.6 key, in specification order within each profile."""
