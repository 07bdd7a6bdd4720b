"""Two OCPP 2.0.1 sessions talking to each other in memory: no sockets, no event loop.

Run: python examples/sans_io_pair.py
"""

from __future__ import annotations

from datetime import UTC, datetime

from ocppkit import OcppSession, OcppVersion
from ocppkit.messages.v201 import (
    BootNotificationRequest,
    BootNotificationResponse,
    ChargingStationType,
)
from ocppkit.protocol import CallCompleted, CallReceived


def main() -> None:
    station = OcppSession(OcppVersion.V201)
    csms = OcppSession(OcppVersion.V201)

    boot = BootNotificationRequest(
        reason="PowerUp", charging_station=ChargingStationType(model="X1", vendor_name="ACME")
    )
    station.send_call(boot, now=0.0)
    for frame in station.data_to_send():
        print("station ->", frame.decode())
        csms.receive_data(frame, now=0.1)

    for event in csms.events_received():
        if isinstance(event, CallReceived) and isinstance(event.request, BootNotificationRequest):
            print("csms got a boot from", event.request.charging_station.vendor_name)
            reply = BootNotificationResponse(
                current_time=datetime.now(UTC).replace(microsecond=0),
                interval=300,
                status="Accepted",
            )
            csms.send_result(event.unique_id, reply)
    for frame in csms.data_to_send():
        print("csms    ->", frame.decode())
        station.receive_data(frame, now=0.2)

    for event in station.events_received():
        if isinstance(event, CallCompleted) and isinstance(
            event.response, BootNotificationResponse
        ):
            print(
                "station: boot",
                event.response.status,
                "heartbeat every",
                event.response.interval,
                "s",
            )


if __name__ == "__main__":
    main()
