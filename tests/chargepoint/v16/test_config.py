"""``Configuration`` (OCPP 1.6 configuration keys): ChangeConfiguration answers per key and value,
case-insensitive keys, persistence and store failures, listeners, MaxLength keys,
GetConfiguration (all / some / unknown / write-only / max keys), custom keys, and the key table."""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest

from ocppkit.chargepoint.state import MemoryStateStore
from ocppkit.chargepoint.v16 import config as config_module
from ocppkit.chargepoint.v16 import config_keys
from ocppkit.chargepoint.v16.config import NAMESPACE, STANDARD_KEYS, Configuration, KeySpec
from ocppkit.messages import v16

AUTH_KEY = "0123456789abcdef0123456789ABCDEF01234567"  # 20 bytes as 40 hex digits
SAME = object()  # "the value did not change"


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


async def opened_store() -> MemoryStateStore:
    store = MemoryStateStore()
    await store.open()
    return store


async def make(store: MemoryStateStore | None = None, **kwargs: Any) -> Configuration:
    kwargs.setdefault("number_of_connectors", 2)
    return await Configuration.load(store or await opened_store(), **kwargs)


def ask(config: Configuration, *keys: str) -> v16.GetConfigurationResponse:
    return config.get_configuration(v16.GetConfigurationRequest(key=list(keys) if keys else None))


# -- ChangeConfiguration, one key and value at a time -------------------------------------------
CHANGES: list[tuple[str, str, str, object]] = [
    # (key as sent, value, answer, value afterwards; SAME = unchanged)
    ("HeartbeatInterval", "120", "Accepted", "120"),
    ("heartbeatinterval", " 0042 ", "Accepted", "42"),
    ("HeartbeatInterval", "+7", "Accepted", "7"),
    ("HeartbeatInterval", "-1", "Rejected", SAME),
    ("HeartbeatInterval", "1.5", "Rejected", SAME),
    ("HeartbeatInterval", "", "Rejected", SAME),
    ("HeartbeatInterval", "1_000", "Rejected", SAME),
    ("HeartbeatInterval", "2147483648", "Rejected", SAME),
    ("MeterValueSampleInterval", "0", "Accepted", "0"),
    ("WebSocketPingInterval", "-5", "Rejected", SAME),
    ("WebSocketPingInterval", "0", "Accepted", "0"),
    ("LocalPreAuthorize", "TRUE", "Accepted", "true"),
    ("LocalAuthorizeOffline", "False", "Accepted", "false"),
    ("LocalPreAuthorize", "yes", "Rejected", SAME),
    ("LocalPreAuthorize", "1", "Rejected", SAME),
    ("AuthorizeRemoteTxRequests", "true", "Accepted", "true"),
    (
        "MeterValuesSampledData",
        "energy.active.import.register, Voltage.l1,Current.Import.L2-N",
        "Accepted",
        "Energy.Active.Import.Register,Voltage.L1,Current.Import.L2-N",
    ),
    ("MeterValuesSampledData", "Voltage.L4", "Rejected", SAME),
    ("MeterValuesSampledData", "Energy", "Rejected", SAME),
    ("MeterValuesSampledData", "Voltage,,SoC", "Rejected", SAME),
    ("MeterValuesAlignedData", " ", "Accepted", ""),
    ("StopTxnSampledData", "Power.Active.Import", "Accepted", "Power.Active.Import"),
    (
        "ConnectorPhaseRotation",
        "0.RST, 1.rts,2.NotApplicable",
        "Accepted",
        "0.RST,1.RTS,2.NotApplicable",
    ),
    ("ConnectorPhaseRotation", "3.RST", "Rejected", SAME),  # only connectors 0..2
    ("ConnectorPhaseRotation", "1.RST,1.RTS", "Rejected", SAME),
    ("ConnectorPhaseRotation", "RST", "Rejected", SAME),
    ("ConnectorPhaseRotation", "1.XYZ", "Rejected", SAME),
    ("NumberOfConnectors", "3", "Rejected", SAME),
    ("GetConfigurationMaxKeys", "10", "Rejected", SAME),
    ("SupportedFeatureProfiles", "Core", "Rejected", SAME),
    ("LocalAuthListMaxLength", "5", "Rejected", SAME),
    ("AuthorizationKey", AUTH_KEY, "Accepted", AUTH_KEY),
    ("authorizationkey", "0011" * 8, "Accepted", "0011" * 8),
    ("AuthorizationKey", "00" * 15, "Rejected", SAME),
    ("AuthorizationKey", "00" * 21, "Rejected", SAME),
    ("AuthorizationKey", "0" * 33, "Rejected", SAME),
    ("AuthorizationKey", "zz" * 16, "Rejected", SAME),
    ("AuthorizationKey", "", "Rejected", SAME),
    ("FooBar", "1", "NotSupported", None),
    ("BlinkRepeat", "3", "NotSupported", None),
    ("ReserveConnectorZeroSupported", "true", "NotSupported", None),
    ("CpoName", "ACME Charging", "Accepted", "ACME Charging"),
    ("CpoName", "x" * 501, "Rejected", SAME),
    ("SecurityProfile", "0", "Rejected", SAME),  # not raised
    ("SecurityProfile", "1", "Rejected", SAME),  # no AuthorizationKey yet
    ("SecurityProfile", "4", "Rejected", SAME),
    ("SecurityProfile", "3", "Accepted", "3"),
]


@pytest.mark.parametrize(
    ("key", "value", "status", "after"),
    [pytest.param(*case, id=f"{case[0]}={case[1][:24]!r}") for case in CHANGES],
)
def test_change_answers_and_stores_the_normalised_value(
    key: str, value: str, status: str, after: object
) -> None:
    async def main() -> None:
        store = await opened_store()
        config = await make(store)
        before = config.get(key)
        assert await config.change(key, value) == status
        assert config.get(key) == (before if after is SAME else after)
        stored = await store.load(NAMESPACE)
        if status == "Accepted":
            spec = config.spec(key)
            assert spec is not None
            assert stored == {spec.name: after}  # under the canonical spelling
        else:
            assert stored == {}

    run(main)


def test_reboot_required_key_is_stored_and_answered_reboot_required() -> None:
    async def main() -> None:
        specs = [
            replace(s, reboot_required=True) if s.name == "ConnectionTimeOut" else s
            for s in STANDARD_KEYS
        ]
        store = await opened_store()
        config = await make(store, specs=specs)
        seen: list[str] = []
        config.on_change("ConnectionTimeOut", seen.append)
        assert await config.change("ConnectionTimeOut", "030") == "RebootRequired"
        assert config.get_int("ConnectionTimeOut") == 30
        assert await store.load(NAMESPACE) == {"ConnectionTimeOut": "30"}
        assert seen == ["30"]
        assert await config.change("ConnectionTimeOut", "-3") == "Rejected"

    run(main)


def test_security_profile_only_rises_and_needs_an_authorization_key_for_1_and_2() -> None:
    async def main() -> None:
        config = await make()
        assert await config.change("SecurityProfile", "1") == "Rejected"
        assert await config.change("AuthorizationKey", AUTH_KEY) == "Accepted"
        assert await config.change("SecurityProfile", "1") == "Accepted"
        assert await config.change("SecurityProfile", "1") == "Rejected"  # equal
        assert await config.change("SecurityProfile", "0") == "Rejected"  # lower
        assert await config.change("SecurityProfile", "2") == "Accepted"
        await config.set_internal("SecurityProfile", 1)  # the stack falls back: no rule applies
        assert config.get_int("SecurityProfile") == 1

    run(main)


def test_change_configuration_wraps_change() -> None:
    async def main() -> None:
        config = await make()
        request = v16.ChangeConfigurationRequest(key="HeartbeatInterval", value="90")
        response = await config.change_configuration(request)
        assert response == v16.ChangeConfigurationResponse(status="Accepted")
        assert config.get_int("HeartbeatInterval") == 90
        unknown = v16.ChangeConfigurationRequest(key="Nope", value="1")
        assert (await config.change_configuration(unknown)).status == "NotSupported"

    run(main)


def test_authorization_key_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        config = await make()
        assert await config.change("AuthorizationKey", "ab" * 21) == "Rejected"
        assert await config.change("AuthorizationKey", AUTH_KEY) == "Accepted"

    with caplog.at_level(logging.DEBUG):
        run(main)
    assert "ab" * 21 not in caplog.text
    assert AUTH_KEY not in caplog.text


# -- keys, getters, internal values -------------------------------------------------------------
def test_keys_are_case_insensitive_and_answers_use_the_canonical_spelling() -> None:
    async def main() -> None:
        store = await opened_store()
        config = await make(store)
        assert config.get("HEARTBEATINTERVAL") == "300"
        assert config.get_int("heartbeatInterval") == 300
        assert await config.change("METERVALUESSAMPLEDDATA", "SoC") == "Accepted"
        assert await store.load(NAMESPACE) == {"MeterValuesSampledData": "SoC"}
        response = ask(config, "heartbeatinterval", "NoSuchKey")
        assert response.configuration_key == [
            v16.KeyValue(key="HeartbeatInterval", readonly=False, value="300")
        ]
        assert response.unknown_key == ["NoSuchKey"]  # echoed as sent

    run(main)


def test_typed_getters() -> None:
    async def main() -> None:
        config = await make()
        assert config.get_int("HeartbeatInterval") == 300
        assert config.get_bool("LocalAuthorizeOffline") is True
        assert config.get_bool("LocalPreAuthorize") is False
        assert config.get_list("MeterValuesSampledData") == ["Energy.Active.Import.Register"]
        assert config.get_list("StopTxnSampledData") == []
        assert config.get_list("ChargingScheduleAllowedChargingRateUnit") == ["Current", "Power"]
        assert config.get_int("BlinkRepeat") is None  # not supported
        assert config.get_int("NoSuchKey") is None
        assert config.get("NoSuchKey") is None
        with pytest.raises(TypeError):
            config.get_int("LocalPreAuthorize")
        with pytest.raises(TypeError):
            config.get_list("HeartbeatInterval")

    run(main)


def test_set_internal_bypasses_access_but_not_value_checks() -> None:
    async def main() -> None:
        store = await opened_store()
        config = await make(store)
        await config.set_internal("NumberOfConnectors", 3)
        assert config.get_int("NumberOfConnectors") == 3
        await config.set_internal("LocalPreAuthorize", True)
        assert config.get("LocalPreAuthorize") == "true"
        await config.set_internal("BlinkRepeat", "2")  # an optional key becomes supported
        assert await config.change("BlinkRepeat", "5") == "Accepted"
        # read-only keys are facts of the build: never persisted; writable ones are
        assert await store.load(NAMESPACE) == {
            "LocalPreAuthorize": "true",
            "BlinkRepeat": "5",
        }
        with pytest.raises(KeyError):
            await config.set_internal("NoSuchKey", 1)
        with pytest.raises(ValueError, match=r"outside"):
            await config.set_internal("HeartbeatInterval", -1)
        assert config.get_int("HeartbeatInterval") == 300

    run(main)


# -- persistence --------------------------------------------------------------------------------
def test_values_survive_a_reload_from_the_same_store(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        store = await opened_store()
        config = await make(store)
        assert await config.change("HeartbeatInterval", "45") == "Accepted"
        assert await config.change("MeterValuesSampledData", "Voltage.L1,SoC") == "Accepted"
        assert await config.change("AuthorizationKey", AUTH_KEY) == "Accepted"
        await store.put(NAMESPACE, "NumberOfConnectors", "9")  # read-only: not restored
        await store.put(NAMESPACE, "meterValueSampleInterval", "-4")  # invalid: default kept
        await store.put(NAMESPACE, "ConnectionTimeOut", 17)  # not a string: default kept
        await store.put(NAMESPACE, "MeterValuesAlignedData", ",".join(["SoC"] * 11))  # > MaxLength
        again = await make(store, number_of_connectors=4)
        assert again.get_int("HeartbeatInterval") == 45
        assert again.get_list("MeterValuesSampledData") == ["Voltage.L1", "SoC"]
        assert again.get("AuthorizationKey") == AUTH_KEY
        assert again.get_int("NumberOfConnectors") == 4
        assert again.get_int("MeterValueSampleInterval") == 60
        assert again.get_int("ConnectionTimeOut") == 60
        assert again.get("MeterValuesAlignedData") == "Energy.Active.Import.Register"

    with caplog.at_level(logging.WARNING):
        run(main)
    assert "MeterValueSampleInterval" in caplog.text
    assert "ConnectionTimeOut" in caplog.text


class FailingStore(MemoryStateStore):
    """A store whose writes fail while ``fail`` is set."""

    fail = False

    async def put(self, namespace: str, key: str, value: Any) -> None:
        if self.fail:
            raise OSError("disk full")
        await super().put(namespace, key, value)


def test_a_failed_store_write_keeps_the_old_value_and_calls_no_listener() -> None:
    async def main() -> None:
        store = FailingStore()
        await store.open()
        config = await make(store)
        seen: list[object] = []
        config.on_change("HeartbeatInterval", seen.append)
        config.on_any_change(lambda name, value: seen.append((name, value)))
        store.fail = True
        with pytest.raises(OSError, match="disk full"):
            await config.change("HeartbeatInterval", "10")
        with pytest.raises(OSError, match="disk full"):
            await config.set_internal("HeartbeatInterval", 20)
        assert config.get("HeartbeatInterval") == "300"
        assert seen == []
        store.fail = False
        assert (await make(store)).get("HeartbeatInterval") == "300"
        assert await config.change("HeartbeatInterval", "10") == "Accepted"
        assert seen == ["10", ("HeartbeatInterval", "10")]

    run(main)


# -- listeners ----------------------------------------------------------------------------------
def test_listeners_get_the_normalised_value_only_after_a_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        config = await make()
        per_key: list[str] = []
        every: list[tuple[str, str]] = []
        stop = config.on_change("meterValuesSampledData", per_key.append)
        config.on_any_change(lambda name, value: every.append((name, value)))
        assert await config.change("MeterValuesSampledData", "Bogus") == "Rejected"
        assert await config.change("NumberOfConnectors", "5") == "Rejected"
        assert await config.change("Nope", "1") == "NotSupported"
        assert (per_key, every) == ([], [])
        assert await config.change("metervaluessampleddata", " soc , voltage ") == "Accepted"
        assert per_key == ["SoC,Voltage"]
        assert every == [("MeterValuesSampledData", "SoC,Voltage")]
        await config.set_internal("MeterValuesSampledData", "Frequency")
        assert per_key[-1] == "Frequency"  # per-key listeners: every change
        assert len(every) == 1  # the catch-all: ChangeConfiguration only
        stop()
        assert await config.change("MeterValuesSampledData", "RPM") == "Accepted"
        assert per_key[-1] == "Frequency"

        def broken(value: str) -> None:
            raise RuntimeError("listener bug")

        config.on_change("HeartbeatInterval", broken)
        after: list[str] = []
        config.on_change("HeartbeatInterval", after.append)
        assert await config.change("HeartbeatInterval", "5") == "Accepted"
        assert after == ["5"]
        with pytest.raises(KeyError):
            config.on_change("NoSuchKey", after.append)

    with caplog.at_level(logging.ERROR):
        run(main)
    assert "listener bug" in caplog.text


# -- MaxLength ----------------------------------------------------------------------------------
def test_a_list_longer_than_its_max_length_key_is_rejected() -> None:
    async def main() -> None:
        config = await make()
        await config.set_internal("MeterValuesSampledDataMaxLength", 2)
        assert await config.change("MeterValuesSampledData", "SoC,Voltage,RPM") == "Rejected"
        assert await config.change("MeterValuesSampledData", "SoC,Voltage") == "Accepted"
        assert await config.change("MeterValuesSampledData", "") == "Accepted"
        eleven = ",".join(["SoC"] * 11)
        assert await config.change("StopTxnSampledData", eleven) == "Rejected"  # default 10
        unbounded = await make(defaults={"StopTxnSampledDataMaxLength": None})
        assert await unbounded.change("StopTxnSampledData", eleven) == "Accepted"

    run(main)


# -- GetConfiguration ---------------------------------------------------------------------------
def test_get_configuration_without_keys_lists_every_supported_readable_key() -> None:
    async def main() -> None:
        config = await make()
        assert await config.change("AuthorizationKey", AUTH_KEY) == "Accepted"
        response = ask(config)
        assert response.unknown_key is None
        listed = response.configuration_key or []
        expected = [
            s.name for s in STANDARD_KEYS if s.access != "W" and config.get(s.name) is not None
        ]
        assert [kv.key for kv in listed] == expected
        assert len(listed) == 40
        assert "AuthorizationKey" not in expected
        assert "BlinkRepeat" not in expected
        by_key = {kv.key: kv for kv in listed}
        assert by_key["NumberOfConnectors"] == v16.KeyValue(
            key="NumberOfConnectors", readonly=True, value="2"
        )
        assert by_key["HeartbeatInterval"].readonly is False
        assert by_key["SupportedFeatureProfiles"].value == (
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
        )
        assert by_key["ConnectorPhaseRotation"].value == "0.Unknown,1.Unknown,2.Unknown"
        assert all(kv.value is not None for kv in listed)
        assert config.get_configuration(v16.GetConfigurationRequest(key=[])) == response
        wire = msgspec.json.decode(msgspec.json.encode(response))
        assert set(wire) == {"configurationKey"}
        assert wire["configurationKey"][0] == {
            "key": "AllowOfflineTxForUnknownId",
            "readonly": False,
            "value": "false",
        }
        await config.set_internal("BlinkRepeat", 3)
        assert "BlinkRepeat" in [kv.key for kv in ask(config).configuration_key or []]

    run(main)


def test_get_configuration_with_keys_answers_known_and_unknown_but_never_write_only() -> None:
    async def main() -> None:
        config = await make()
        assert await config.change("AuthorizationKey", AUTH_KEY) == "Accepted"
        response = ask(
            config,
            "HeartbeatInterval",
            "nope",
            "AuthorizationKey",
            "blinkrepeat",
            "NumberOfConnectors",
        )
        assert response.configuration_key == [
            v16.KeyValue(key="HeartbeatInterval", readonly=False, value="300"),
            v16.KeyValue(key="NumberOfConnectors", readonly=True, value="2"),
        ]
        assert response.unknown_key == ["nope", "blinkrepeat"]
        only_unknown = ask(config, "Nope")
        assert (only_unknown.configuration_key, only_unknown.unknown_key) == (None, ["Nope"])
        assert AUTH_KEY not in msgspec.json.encode(ask(config, "AuthorizationKey")).decode()

    run(main)


def test_get_configuration_answers_at_most_max_keys_distinct_keys() -> None:
    async def main() -> None:
        config = await make(defaults={"GetConfigurationMaxKeys": "2"})
        response = ask(
            config, "HeartbeatInterval", "heartbeatINTERVAL", "Nope", "NumberOfConnectors"
        )
        assert [kv.key for kv in response.configuration_key or []] == ["HeartbeatInterval"]
        assert response.unknown_key == ["Nope"]  # NumberOfConnectors (3rd distinct) is ignored
        assert len(ask(config).configuration_key or []) == 40  # the full list is not capped

    run(main)


# -- profiles, load arguments -------------------------------------------------------------------
def test_profiles_select_keys_and_make_supported_feature_profiles() -> None:
    async def main() -> None:
        core = await make(profiles=("Core",), defaults={"LocalAuthListMaxLength": "5"})
        assert core.get("SupportedFeatureProfiles") == "Core"
        assert core.get("LocalAuthListEnabled") is None
        assert core.get("SecurityProfile") is None
        assert core.get("AuthorizationKey") == ""  # Core (OCPP-J) key
        assert await core.change("LocalAuthListEnabled", "false") == "NotSupported"
        some = await make(profiles=["SmartCharging", "Core", "Security"])
        assert some.get_list("SupportedFeatureProfiles") == ["Core", "SmartCharging"]
        assert some.get_int("ChargingScheduleMaxPeriods") == 48
        assert some.get_int("SecurityProfile") == 0
        for bad in [("SmartCharging",), ("Core", "Bogus")]:
            with pytest.raises(ValueError, match="profiles"):
                await make(profiles=bad)
        with pytest.raises(ValueError, match="number_of_connectors"):
            await make(number_of_connectors=0)
        with pytest.raises(ValueError, match="unknown keys"):
            await make(defaults={"HeartbeatIntervall": "5"})
        with pytest.raises(ValueError, match="HeartbeatInterval"):
            await make(defaults={"HeartbeatInterval": "soon"})

    run(main)


# -- custom keys --------------------------------------------------------------------------------
def test_custom_keys_register_validate_persist_and_list() -> None:
    async def main() -> None:
        store = await opened_store()
        mode = KeySpec(
            "VendorMode", "string", "RW", "eco", profile="Acme", choices=("eco", "boost")
        )
        pin = KeySpec(
            "VendorPin",
            "string",
            "RW",
            "0000",
            profile="Acme",
            validator=lambda v: None if v.isdigit() and len(v) == 4 else "four digits",
        )
        channel = KeySpec("VendorChannel", "string", "RW", "stable", reboot_required=True)
        config = await make(store, profiles=("Core",))
        for spec in (mode, pin, channel):
            config.register(spec)
        assert config.get("vendormode") == "eco"
        assert await config.change("vendorMODE", "BOOST") == "Accepted"
        assert config.get("VendorMode") == "boost"
        assert await config.change("VendorMode", "turbo") == "Rejected"
        assert await config.change("VendorPin", "12a4") == "Rejected"
        assert await config.change("VendorPin", "1234") == "Accepted"
        assert await config.change("VendorChannel", "beta") == "RebootRequired"
        listed = [kv.key for kv in ask(config).configuration_key or []]
        assert listed[-3:] == ["VendorMode", "VendorPin", "VendorChannel"]
        with pytest.raises(ValueError, match="already registered"):
            config.register(replace(mode, name="VENDORMODE"))
        with pytest.raises(ValueError, match="default"):
            config.register(KeySpec("VendorLevel", "int", "RW", "high"))
        # a kept value waits in the store until its key is registered again
        again = await make(store, profiles=("Core",))
        assert again.get("VendorMode") is None
        again.register(mode)
        again.register(pin)
        assert (again.get("VendorMode"), again.get("VendorPin")) == ("boost", "1234")
        # specs with their own profile label pass through load whatever profiles are enabled
        loaded = await make(specs=[*STANDARD_KEYS, mode], profiles=("Core",))
        assert loaded.get("VendorMode") == "eco"

    run(main)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "K" * 51},
        {"name": " Padded"},
        {"kind": "float"},
        {"access": "X"},
        {"kind": "int", "max_items_key": "SomeMaxLength"},
        {"kind": "string", "min_value": 0},
        {"kind": "bool", "choices": ("true",)},
    ],
)
def test_key_spec_rejects_inconsistent_fields(kwargs: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"name": "VendorKey", "kind": "csl", "access": "RW", "default": ""}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=r"."):
        KeySpec(**fields)


# -- the table ----------------------------------------------------------------------------------
REFERENCE_KEYS = {  # profiles.md §1 and security.md §9
    "AllowOfflineTxForUnknownId", "AuthorizationCacheEnabled", "AuthorizeRemoteTxRequests",
    "BlinkRepeat", "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation",
    "ConnectorPhaseRotationMaxLength", "GetConfigurationMaxKeys", "HeartbeatInterval",
    "LightIntensity", "LocalAuthorizeOffline", "LocalPreAuthorize", "MaxEnergyOnInvalidId",
    "MessageTimeout", "MeterValuesAlignedData", "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledData", "MeterValuesSampledDataMaxLength", "MeterValueSampleInterval",
    "MinimumStatusDuration", "NumberOfConnectors", "ResetRetries",
    "StopTransactionOnEVSideDisconnect", "StopTransactionOnInvalidId", "StopTxnAlignedData",
    "StopTxnAlignedDataMaxLength", "StopTxnSampledData", "StopTxnSampledDataMaxLength",
    "SupportedFeatureProfiles", "SupportedFeatureProfilesMaxLength", "TransactionMessageAttempts",
    "TransactionMessageRetryInterval", "UnlockConnectorOnEVSideDisconnect",
    "WebSocketPingInterval", "AuthorizationKey", "LocalAuthListEnabled", "LocalAuthListMaxLength",
    "SendLocalListMaxLength", "ReserveConnectorZeroSupported", "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
    "ConnectorSwitch3to1PhaseSupported", "MaxChargingProfilesInstalled",
    "SupportedFileTransferProtocols", "SecurityProfile", "CpoName",
    "AdditionalRootCertificateCheck", "CertificateSignedMaxChainSize", "CertificateStoreMaxLength",
}  # fmt: skip


def test_the_table_holds_every_reference_key_once_with_consistent_bounds() -> None:
    names = [spec.name for spec in STANDARD_KEYS]
    assert set(names) == REFERENCE_KEYS
    assert len({name.casefold() for name in names}) == len(names)
    by_name = {spec.name: spec for spec in STANDARD_KEYS}
    bounded = {s.name: s.max_items_key for s in STANDARD_KEYS if s.max_items_key}
    assert set(bounded) == {
        "MeterValuesAlignedData",
        "MeterValuesSampledData",
        "StopTxnAlignedData",
        "StopTxnSampledData",
    }
    for name, bound in bounded.items():
        assert bound == f"{name}MaxLength"
        assert (by_name[bound].kind, by_name[bound].access) == ("int", "R")
        assert set(get_args(v16.Measurand)) <= set(by_name[name].choices or ())
        assert "Voltage.L1" in (by_name[name].choices or ())
    assert by_name["AuthorizationKey"].access == "W"
    assert by_name["WebSocketPingInterval"].min_value == 0
    assert {s.profile for s in STANDARD_KEYS} <= set(config_keys.PROFILES)


def test_the_configuration_modules_stay_sans_io() -> None:
    for module in (config_module, config_keys):
        tree = ast.parse(Path(str(module.__file__)).read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not imported & {"asyncio", "websockets", "picows", "trio", "anyio"}, module
