"""A fake charger on the OCPP 1.6 charge point stack: one charging session, then it exits.
Run `ocppkit csms`, add the token (`curl -X PUT http://127.0.0.1:8080/api/idtokens/04A2B3C4`),
then `python examples/charge_point_16.py [ws://127.0.0.1:9000/CP-1]` (its state: cp-1.db)."""

import asyncio
import sys

from ocppkit.chargepoint import asyncio_runtime as aio
from ocppkit.chargepoint.sqlite_state import SqliteStateStore
from ocppkit.chargepoint.v16.callbacks import ChargerCallbacks
from ocppkit.chargepoint.v16.meter import Reading
from ocppkit.chargepoint.v16.stack import ChargePoint16
from ocppkit.runtime.client import OcppClient

TOKEN = "04A2B3C4"


class FakeCharger(ChargerCallbacks):
    def __init__(self) -> None:  # one connector: its relay (the contactor), the cable lock
        self.relay, self.locked = {1: False}, False

    async def set_energy(self, connector_id: int, allowed: bool) -> None:
        self.relay[connector_id] = self.locked = allowed
        print(f"charger: relay {connector_id} {'closed' if allowed else 'open'}")

    async def unlock(self, connector_id: int) -> bool:
        self.locked = False
        print(f"charger: cable {connector_id} unlocked")
        return True


async def main(url: str = "ws://127.0.0.1:9000/CP-1", db: str = "cp-1.db") -> None:
    fake, rt, client = FakeCharger(), aio.AsyncioRuntime(), OcppClient(url)
    store, link = SqliteStateStore(db), aio.ClientLink(client)
    cp = ChargePoint16(
        store=store, link=link, clock=rt, scheduler=rt, vendor="ACME", model="Fake", callbacks=fake
    )
    async with aio.connected_charge_point(cp, client):  # starts, connects, closes at the end
        await aio.wait_accepted(cp)  # (Pending / Rejected: the stack boots again later)
        await cp.plug_in(1)
        cp.meter(1, [Reading(1000.0)])  # Wh: the energy register as the session starts
        print(f"charger: token {TOKEN} accepted: {await cp.present_token(TOKEN)}")
        for wh in (1500.0, 2200.0, 3000.0):
            cp.meter(1, [Reading(wh)])
        await cp.plug_out(1)  # StopTransaction (EVDisconnected), queued durably
        await aio.wait_delivered(cp, 30)  # StartTransaction and StopTransaction were answered
        await rt.drain()  # and the last StatusNotification too
        print(f"charger: done, {len(cp.outbox)} message(s) still queued in {db}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:2]))
