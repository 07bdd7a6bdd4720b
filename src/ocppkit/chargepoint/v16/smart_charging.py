"""Smart charging on the 1.6 charge point (1.6 §3.13, §5.5, §5.7, §5.16): profiles kept,
composite schedules answered, and the effective limit *applied* through the integrator.

- SetChargingProfile: checked by ``ocppkit.smartcharging`` (the reason of a rejection is logged,
  1.6 answers only ``Rejected``), then stored (namespace ``"charging_profiles"``, key = profile
  id, the 1.6 wire form and its connector) before Accepted goes out; replacing by id or by
  (stackLevel, purpose, connector).
- ClearChargingProfile: every given field must match; Accepted when something was removed, else
  Unknown.
- GetCompositeSchedule: from the moment of receipt for ``duration`` s, in the asked unit (default:
  the first of ``ChargingScheduleAllowedChargingRateUnit``); an unknown connector or a duration
  of 0 is Rejected;
  connector 0 is the station's total.
- RemoteStartTransaction's ``chargingProfile`` (a TxProfile without transactionId, else the remote
  start is Rejected) is installed for the transaction it starts.
- Tx profiles are removed when their transaction ends, expired profiles (``validTo``) when found.
- **Applied**: ``ChargerCallbacks.apply_limit(connector, ChargingLimit)`` is called for every
  connector at start-up, whenever profiles or transactions change and at every instant a
  schedule changes period (a timer), with only the connectors whose limit changed. The station
  cap (StationMax) is shared between the connectors with a transaction: each gets at most its
  own limit, and what one cannot use is shared by the others (water-filling); connector 0 gets
  the station's total (the connectors' own limits summed), capped by StationMax.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.state import load_time
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.chargepoint.v16.transactions import Transactions
from ocppkit.messages import v16
from ocppkit.runtime.router import Router
from ocppkit.smartcharging import (
    ChargingLimit,
    Electrical,
    ProfileRejected,
    ProfileSet,
    Rules,
    Running,
    composite_schedule,
    limit_at,
    next_change,
)
from ocppkit.smartcharging.sharing import share_cap
from ocppkit.smartcharging.v16 import (
    clear_filter,
    composite_response,
    profile_from_v16,
    rate_units,
    rules_v16,
)

__all__ = ["SmartCharging"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "charging_profiles"
_HORIZON = timedelta(days=1)  # look this far for the next change; look again after it


class SmartCharging:
    """The SmartCharging feature profile of one charge point."""

    def __init__(
        self,
        ctx: StackContext,
        transactions: Transactions,
        router: Router,
        electrical: Electrical,
    ) -> None:
        self.ctx = ctx
        self.tx = transactions
        self.electrical = electrical
        self.installed = ProfileSet()
        self._wire: dict[int, dict[str, Any]] = {}  # profile id -> what is stored
        self.applied: dict[int, ChargingLimit] = {}
        """The limit last given to ``apply_limit``, per connector (0: the station's total)."""
        self._timer: Handle | None = None
        router.add(v16.SetChargingProfileRequest, self.set_profile)
        router.add(v16.ClearChargingProfileRequest, self.clear_profile)
        router.add(v16.GetCompositeScheduleRequest, self.get_composite_schedule)

    # -- state -----------------------------------------------------------------------------------
    async def load(self) -> None:
        """Restore the installed profiles, drop what expired, apply the limits."""
        for key, stored in (await self.ctx.store.load(_NS)).items():
            try:
                wire = msgspec.convert(stored["profile"], v16.ChargingProfile)
                profile = profile_from_v16(wire, int(stored["connector"]))
            except (msgspec.ValidationError, KeyError, ValueError) as exc:
                log.warning("charging profile %s not restored: %s", key, exc)
                continue
            self.installed.profiles[profile.id] = profile
            self._wire[profile.id] = stored
        await self._purge()
        self.apply()

    def running(self) -> dict[int, Running]:
        """The transactions per connector, as the smart charging rules see them."""
        outbox = self.ctx.outbox
        return {
            n: Running(load_time(record["start"]), outbox.transaction_id(record["local"]))
            for n, record in self.tx.open.items()
        }

    def _rules(self) -> Rules:
        config = self.ctx.config
        return rules_v16(
            self.ctx.connectors.count,
            max_stack_level=config.get_int("ChargeProfileMaxStackLevel") or 0,
            max_periods=config.get_int("ChargingScheduleMaxPeriods") or 0,
            max_installed=config.get_int("MaxChargingProfilesInstalled") or 0,
            allowed_units=config.get_list("ChargingScheduleAllowedChargingRateUnit"),
        )

    async def _install(self, wire: v16.ChargingProfile, connector: int) -> None:
        """Check, store and install one profile (``ProfileRejected`` when it may not be)."""
        profile = profile_from_v16(wire, connector)
        candidate = ProfileSet(self.installed.profiles)
        candidate.install(profile, self._rules(), running=self.running())
        stored = {
            **self._wire,
            profile.id: {"connector": connector, "profile": msgspec.to_builtins(wire)},
        }
        await self._store(candidate, stored)

    async def _store(self, installed: ProfileSet, wire: dict[int, dict[str, Any]]) -> None:
        """Persist exactly ``installed`` (one atomic write), then make it current."""
        kept = {str(pid): wire[pid] for pid in installed.profiles}
        await self.ctx.store.put_many(_NS, kept, replace=True)
        self.installed = installed
        self._wire = {pid: wire[pid] for pid in installed.profiles}

    async def _purge(self) -> None:
        """Drop expired profiles and those of ended transactions."""
        candidate = ProfileSet(self.installed.profiles)
        if candidate.purge(self.ctx.clock.now(), self.running()):
            await self._store(candidate, self._wire)

    # -- handlers --------------------------------------------------------------------------------
    async def set_profile(
        self, req: v16.SetChargingProfileRequest, conn: Any
    ) -> v16.SetChargingProfileResponse:
        """Install a profile (stored before Accepted goes out)."""
        try:
            await self._install(req.cs_charging_profiles, req.connector_id)
        except ProfileRejected as exc:
            log.info("SetChargingProfile rejected (%s): %s", exc.code, exc)
            return v16.SetChargingProfileResponse(status="Rejected")
        self.apply()
        return v16.SetChargingProfileResponse(status="Accepted")

    async def clear_profile(
        self, req: v16.ClearChargingProfileRequest, conn: Any
    ) -> v16.ClearChargingProfileResponse:
        """Remove the profiles matching every given field."""
        candidate = ProfileSet(self.installed.profiles)
        gone = candidate.clear(clear_filter(req))
        if gone:
            await self._store(candidate, self._wire)
            self.apply()
        return v16.ClearChargingProfileResponse(status="Accepted" if gone else "Unknown")

    def get_composite_schedule(
        self, req: v16.GetCompositeScheduleRequest, conn: Any
    ) -> v16.GetCompositeScheduleResponse:
        """The composite schedule from now for ``duration`` seconds."""
        if not 0 <= req.connector_id <= self.ctx.connectors.count or req.duration <= 0:
            return v16.GetCompositeScheduleResponse(status="Rejected")
        units = rate_units(self.ctx.config.get_list("ChargingScheduleAllowedChargingRateUnit"))
        unit = req.charging_rate_unit or (units[0] if units else "A")
        schedule = composite_schedule(
            self.installed,
            req.connector_id,
            self.ctx.clock.now(),
            req.duration,
            unit=unit,
            electrical=self.electrical,
            running=self.running(),
            connectors=tuple(self.ctx.connectors.ids()),
        )
        return composite_response(schedule)

    # -- transactions ----------------------------------------------------------------------------
    def remote_start_profile_error(self, profile: v16.ChargingProfile) -> str | None:
        """Why RemoteStartTransaction's ``chargingProfile`` is refused (None: it is fine)."""
        if profile.charging_profile_purpose != "TxProfile":
            return "chargingProfile is not a TxProfile"
        if profile.transaction_id is not None:
            return "chargingProfile.transactionId is set"
        return None

    async def transaction_started(
        self, connector: int, profile: v16.ChargingProfile | None
    ) -> None:
        """A transaction started: install the remote start's profile, apply the limits."""
        if profile is not None:
            try:
                await self._install(profile, connector)
            except ProfileRejected as exc:
                log.info("RemoteStart chargingProfile not installed (%s): %s", exc.code, exc)
        self.apply()

    async def transaction_ended(self, connector: int) -> None:
        """A transaction ended: its Tx profiles go, the limits are applied again."""
        await self._purge()
        self.apply()

    # -- applying --------------------------------------------------------------------------------
    def limits(self) -> dict[int, ChargingLimit]:
        """The effective limit of every connector now (0: the station's total, the connectors'
        own limits summed and capped by StationMax)."""
        return self._limits(self.ctx.clock.now(), self.running(), tuple(self.ctx.connectors.ids()))

    def _limits(
        self, now: datetime, running: Mapping[int, Running], ids: tuple[int, ...]
    ) -> dict[int, ChargingLimit]:
        el = self.electrical

        def at(n: int) -> ChargingLimit:
            found = limit_at(self.installed, n, now, electrical=el, running=running, connectors=ids)
            return ChargingLimit.from_amps(found.limit, found.phases, el, found.source)

        own = {n: at(n) for n in ids}
        cap = at(0)
        if cap.source is not None and cap.source.purpose == "StationMax":
            charging = {n: own[n].amps for n in ids if n in running}
            for n, amps in share_cap(cap.amps, charging).items():
                if amps < own[n].amps:
                    own[n] = ChargingLimit.from_amps(amps, own[n].phases, el, cap.source)
        return {0: cap, **own}

    def apply(self) -> None:
        """Give the integrator the limits that changed; arm the timer for the next change."""
        self.cancel_timers()
        # one reading of the clock for both: a change point between two readings would be
        # neither applied nor timed
        now, running, ids = self.ctx.clock.now(), self.running(), tuple(self.ctx.connectors.ids())
        for n, limit in self._limits(now, running, ids).items():
            if self.applied.get(n) != limit:
                self.applied[n] = limit
                self.ctx.callbacks.apply_limit(n, limit)
        if self.ctx.closing:
            return
        due = next_change(self.installed, ids, now, _HORIZON, running=running)
        delay = (due - now).total_seconds() if due is not None else _HORIZON.total_seconds()
        self._timer = self.ctx.scheduler.call_later(delay, self._due)

    def _due(self) -> None:
        self._timer = None
        self.ctx.scheduler.spawn(self._refresh(), "ocppkit smart charging")

    async def _refresh(self) -> None:
        await self._purge()
        self.apply()

    def cancel_timers(self) -> None:
        """Stop the period timer (closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
