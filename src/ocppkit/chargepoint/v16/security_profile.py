"""Security profile switches of the 1.6 charge point (Security Whitepaper A05, A01).

- ChangeConfiguration(SecurityProfile) accepted (the configuration checks it: only upward, an
  AuthorizationKey for 1 and 2; the certificate block adds a CSMS root for 2 and 3 and our
  certificate for 3): the stack reconnects once with the new profile (``StackContext.reconnect``,
  bound by the adapter); when that attempt fails, the previous profile is restored, the fallback
  is logged (ReconfigurationOfSecurityParameters) and the stack reconnects with it. Without an
  adapter hook the new profile takes effect at the next connection.
- ChangeConfiguration(AuthorizationKey) accepted: the stack reconnects with the new key at once
  (the CSMS stops taking the old one).
- Every change of SecurityProfile, AuthorizationKey or CpoName is a
  ReconfigurationOfSecurityParameters security event (never carrying the key).
"""

from __future__ import annotations

import functools
import logging

from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.chargepoint.v16.security_log import SecurityLog

__all__ = ["SecurityProfiles"]

log = logging.getLogger("ocppkit.chargepoint")

_SECURITY_KEYS = ("SecurityProfile", "AuthorizationKey", "CpoName")


class SecurityProfiles:
    """Applies security configuration changes to the connection."""

    def __init__(self, ctx: StackContext, security_log: SecurityLog) -> None:
        self.ctx = ctx
        self.security_log = security_log
        self.active = ctx.config.get_int("SecurityProfile") or 0
        """The profile of the connection in use (or of the next one)."""
        for key in _SECURITY_KEYS:
            ctx.config.on_change(key, functools.partial(self._reconfigured, key))
        ctx.config.on_any_change(self._changed_by_csms)

    def _reconfigured(self, key: str, value: str) -> None:
        event = self.security_log.record("ReconfigurationOfSecurityParameters", f"{key} changed")
        self.ctx.scheduler.spawn(event, "ocppkit security event")

    def _changed_by_csms(self, key: str, value: str) -> None:
        if key == "SecurityProfile":
            switch = functools.partial(self.switch, int(value))
            self.ctx.after_answer(switch, "ocppkit security profile switch")
        elif key == "AuthorizationKey":
            self.ctx.reconnect_soon("new AuthorizationKey")

    async def switch(self, new: int) -> None:
        """Reconnect with profile ``new``; fall back to the previous one when that fails."""
        ctx, old = self.ctx, self.active
        if ctx.reconnect is None:
            log.info("security profile %d takes effect at the next connection", new)
            self.active = new
            return
        if await ctx.reconnect():
            log.info("security profile %d in use", new)
            self.active = new
            return
        if ctx.closing:
            return
        log.warning("security profile %d failed to connect: back to %d", new, old)
        await ctx.config.set_internal("SecurityProfile", old)
        await self.security_log.record(
            "ReconfigurationOfSecurityParameters", f"SecurityProfile {new} failed, back to {old}"
        )
        await ctx.reconnect()
