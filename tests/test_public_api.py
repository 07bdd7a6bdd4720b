"""The curated public API is pinned: a change here is a deliberate API change."""

from __future__ import annotations

import inspect

import ocppkit
import ocppkit.protocol
import ocppkit.sim
import ocppkit.smartcharging


def test_top_level_exports_are_pinned() -> None:
    assert sorted(ocppkit.__all__) == [
        "CallError",
        "CustomData",
        "ErrorCode",
        "OcppError",
        "OcppSession",
        "OcppStruct",
        "OcppVersion",
        "PayloadValidationError",
        "ValidationPolicy",
        "__version__",
        "actions",
        "decode_call",
        "decode_payload",
        "encode_payload",
    ]


def test_smart_charging_exports_are_pinned() -> None:
    assert sorted(ocppkit.smartcharging.__all__) == [
        "ChargingLimit",
        "ClearFilter",
        "CompositePeriod",
        "CompositeSchedule",
        "Electrical",
        "Period",
        "Profile",
        "ProfileRejected",
        "ProfileSet",
        "Rules",
        "Running",
        "Schedule",
        "Source",
        "check_profile",
        "composite_schedule",
        "limit_at",
        "next_change",
        "share_cap",
    ]


def test_simulator_exports_are_pinned() -> None:
    assert sorted(ocppkit.sim.__all__) == [
        "Fleet",
        "FleetStats",
        "Scenario",
        "SimStation",
        "TransactionRecord",
        "default_tokens",
        "load_scenario",
    ]


def test_every_export_exists_and_public_callables_have_docstrings() -> None:
    for module in (ocppkit, ocppkit.protocol, ocppkit.smartcharging, ocppkit.sim):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_readme_example_decodes_a_frame_into_a_typed_field() -> None:
    frame = b'[2,"1","BootNotification",{"chargePointVendor":"ACME","chargePointModel":"X1"}]'
    call = ocppkit.decode_call(frame, ocppkit.OcppVersion.V16)
    from ocppkit.messages.v16 import BootNotificationRequest

    assert isinstance(call.request, BootNotificationRequest)
    assert call.request.charge_point_vendor == "ACME"
