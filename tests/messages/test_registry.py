"""The action registries: complete, consistent with the shipped schemas, and generated afresh."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from ocppkit.messages import ActionSpec, OcppStruct, actions, schema_dir
from ocppkit.protocol import OcppVersion
from tests.messages.schema_payloads import schema_name

ROOT = Path(__file__).resolve().parents[2]
SHARED_SCHEMAS = ROOT.parent / "shared" / "ocpp-schemas"
VERSIONS = list(OcppVersion)
IDS = [v.package for v in VERSIONS]
COUNTS = {OcppVersion.V16: 39, OcppVersion.V201: 64, OcppVersion.V21: 91}


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_action_counts(version: OcppVersion) -> None:
    assert len(actions(version)) == COUNTS[version]


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_actions_is_the_package_registry(version: OcppVersion) -> None:
    module = importlib.import_module(f"ocppkit.messages.{version.package}")
    assert actions(version) is module.ACTIONS
    for name, spec in actions(version).items():
        assert isinstance(spec, ActionSpec)
        assert spec.action == name
        assert getattr(module, spec.request.__name__) is spec.request
        if spec.response is not None:
            assert getattr(module, spec.response.__name__) is spec.response


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_every_action_resolves_both_types(version: OcppVersion) -> None:
    for name, spec in actions(version).items():
        assert issubclass(spec.request, OcppStruct), name
        assert spec.request.__name__.endswith("Request"), name
        if version is OcppVersion.V21 and name == "NotifyPeriodicEventStream":
            continue
        assert spec.response is not None, name
        assert issubclass(spec.response, OcppStruct), name
        assert spec.response.__name__.endswith("Response"), name
        assert not spec.send_only


def test_21_notify_periodic_event_stream_is_send_only() -> None:
    spec = actions(OcppVersion.V21)["NotifyPeriodicEventStream"]
    assert spec.response is None
    assert spec.send_only
    assert [a for a, s in actions(OcppVersion.V21).items() if s.send_only] == [spec.action]
    for version in (OcppVersion.V16, OcppVersion.V201):
        assert not any(s.send_only for s in actions(version).values())


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_direction_and_block(version: OcppVersion) -> None:
    for name, spec in actions(version).items():
        assert spec.direction in ("cp_to_csms", "csms_to_cp", "both"), name
        assert spec.block.strip(), name
    directions = {spec.direction for spec in actions(version).values()}
    assert {"cp_to_csms", "csms_to_cp"} <= directions
    assert actions(version)["BootNotification"].direction == "cp_to_csms"
    assert actions(version)["DataTransfer"].direction == "both"


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_schema_files_and_registry_match_one_to_one(version: OcppVersion) -> None:
    files = sorted(f.name for f in schema_dir(version).iterdir() if f.name.endswith(".json"))
    expected: list[str] = []
    for name, spec in actions(version).items():
        expected.append(f"{schema_name(version, name, 'request')}.json")
        if spec.response is not None:
            expected.append(f"{schema_name(version, name, 'response')}.json")
    assert len(expected) == len(set(expected))
    assert sorted(expected) == files


@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_class_names_are_the_action_names(version: OcppVersion) -> None:
    for name, spec in actions(version).items():
        assert spec.request.__name__ == f"{name}Request"
        if spec.response is not None:
            assert spec.response.__name__ == f"{name}Response"


def test_generated_modules_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "tools/generate_messages.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not SHARED_SCHEMAS.is_dir(), reason="no ../shared/ocpp-schemas next to the repo"
)
@pytest.mark.parametrize("version", VERSIONS, ids=IDS)
def test_shipped_schemas_are_the_shared_ones_byte_for_byte(version: OcppVersion) -> None:
    shipped = {
        f.name: f.read_bytes() for f in schema_dir(version).iterdir() if f.name.endswith(".json")
    }
    shared_dir = SHARED_SCHEMAS / version.package
    shared = {f.name: f.read_bytes() for f in shared_dir.iterdir() if f.name.endswith(".json")}
    assert sorted(shipped) == sorted(shared)
    differing = [name for name in shipped if shipped[name] != shared[name]]
    assert differing == []
