"""The connector status table, errors apart from the status, and the StatusNotification rules."""

from __future__ import annotations

import pytest

from ocppkit.chargepoint.runtime import ManualClock
from ocppkit.chargepoint.v16.connectors import (
    ConnectorError,
    ConnectorFacts,
    Connectors,
    Reported,
    status_of,
)
from ocppkit.messages import v16
from tests.chargepoint.v16.harness import TestScheduler


@pytest.mark.parametrize(
    ("facts", "connector", "status"),
    [
        (ConnectorFacts(), 1, "Available"),
        (ConnectorFacts(plugged=True), 1, "Preparing"),
        (ConnectorFacts(authorized=True), 1, "Preparing"),
        (ConnectorFacts(reserved=True, plugged=True), 1, "Reserved"),
        (ConnectorFacts(transaction=True), 1, "Charging"),
        (ConnectorFacts(transaction=True, ev_suspended=True), 1, "SuspendedEV"),
        (
            ConnectorFacts(transaction=True, ev_suspended=True, evse_suspended=True),
            1,
            "SuspendedEVSE",
        ),
        (ConnectorFacts(finishing=True, plugged=True), 1, "Finishing"),
        (ConnectorFacts(finishing=True), 1, "Available"),
        (ConnectorFacts(operative=False, plugged=True), 1, "Unavailable"),
        (ConnectorFacts(disabled=True), 1, "Unavailable"),
        (ConnectorFacts(transaction=True, errors=[ConnectorError("GroundFailure")]), 1, "Faulted"),
        (ConnectorFacts(errors=[ConnectorError("HighTemperature", fault=False)]), 1, "Available"),
        (ConnectorFacts(plugged=True, transaction=True), 0, "Available"),
        (ConnectorFacts(operative=False), 0, "Unavailable"),
    ],
)
def test_status_table(facts: ConnectorFacts, connector: int, status: str) -> None:
    assert status_of(facts, connector) == status


def test_a_hook_that_changes_facts_again_yields_one_notification_of_the_final_status() -> None:
    clock = ManualClock()
    sent: list[v16.StatusNotificationRequest] = []

    def hook(connector_id: int, reported: Reported) -> None:
        if reported.status == "Preparing":  # e.g. a connector-0 reservation holds it again
            connectors.facts[connector_id].reserved = True
            connectors.changed(connector_id)

    connectors = Connectors(
        1, clock=clock, scheduler=TestScheduler(clock), send=sent.append, on_change=hook
    )
    connectors.facts[1].plugged = True
    connectors.changed(1)
    assert [s.status for s in sent] == ["Reserved"]
