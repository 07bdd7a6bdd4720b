"""OCPP 1.6 configuration of a charge point: typed values, ChangeConfiguration, GetConfiguration.

``Configuration`` holds one wire string per supported key (the table is ``STANDARD_KEYS`` in
``config_keys``, plus the integrator's ``register``-ed keys) and persists it in the
``StateStore`` namespace ``"config"`` (one item per key, under the key's canonical spelling).

Rules, where the 1.6 text leaves a choice:

- Keys are compared case-insensitively (``CiString50``); answers use the canonical spelling.
- Values are normalised before they are checked and stored: booleans ``true``/``false``
  (accepted in any case), integers in plain decimal (no ``+``, no leading zeros; 32-bit signed),
  list items trimmed and joined with ``,`` (an empty value is an empty list; an empty item is
  Rejected), measurands and other fixed items in the spelling of the specification.
- Only writable keys (``RW``/``W``) are persisted and restored. Read-only keys are facts of the
  build: they come from the specs and ``set_internal`` at every start, so a firmware update that
  changes one is not masked by an old stored value. A stored value that no longer passes the
  checks is ignored (logged) and the default is kept.
- ``ChangeConfiguration`` stores the value before it answers. If the store raises, the exception
  propagates (the session answers CALLERROR ``InternalError``) and the old value stays.
- A reboot-required key is stored at once (``get`` shows it) and answered ``RebootRequired``;
  the stack reads such keys only at start. Listeners are called for it too.
- Listeners run after the value is stored: ``on_change(key, …)`` for every change of that key
  (ChangeConfiguration or ``set_internal``), ``on_any_change`` for ChangeConfiguration only.
  A listener that raises is logged; the others still run and the answer stands.
- Write-only keys (``AuthorizationKey``) are never returned by GetConfiguration: the reference
  says "omit the key", so they are left out of the full list and, when asked for by name, appear
  in neither ``configurationKey`` nor ``unknownKey`` (they are known, so not "unknown").
- ``GetConfigurationMaxKeys`` caps the *request*: when more distinct keys are asked for, the first
  that many are answered and the rest are ignored, so the CSMS can ask again (unverified: the
  1.6 text only says the number of keys "MAY be limited"). The full list is never capped.
- ``SecurityProfile`` (security WP A05) can only be raised through ChangeConfiguration, and to
  1 or 2 only while an ``AuthorizationKey`` is set; certificate preconditions are the stack's
  (``add_check``).

Not re-entrant: the OCPP session handles one CALL at a time and the stack must not run two
``change``/``set_internal`` calls concurrently.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from ocppkit.chargepoint.state import StateStore
from ocppkit.chargepoint.v16.config_keys import (
    FEATURE_PROFILES,
    PHASE_ROTATIONS,
    PROFILES,
    STANDARD_KEYS,
    KeyAccess,
    KeyKind,
    KeySpec,
    Validator,
)
from ocppkit.messages import v16

__all__ = [
    "NAMESPACE",
    "STANDARD_KEYS",
    "AnyChangeListener",
    "ChangeListener",
    "Configuration",
    "KeyAccess",
    "KeyKind",
    "KeySpec",
    "Validator",
    "normalize_value",
]

NAMESPACE = "config"
"""The ``StateStore`` namespace of the configuration values."""

ChangeListener = Callable[[str], None]
"""Called with a key's new (normalised) value after it changed."""

AnyChangeListener = Callable[[str, str], None]
"""Called with the canonical key name and its new value after a ChangeConfiguration."""

_VALUE_MAX = 500  # CiString500
_INT_MAX = 2**31 - 1
_INT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_log = logging.getLogger(__name__)


def _fold(name: str) -> str:
    return name.casefold()


@functools.cache
def _choice_map(choices: tuple[str, ...]) -> dict[str, str]:
    return {_fold(choice): choice for choice in choices}


def _choose(choices: tuple[str, ...], item: str) -> str:
    try:
        return _choice_map(choices)[_fold(item)]
    except KeyError:
        raise ValueError(f"{item!r} is not an allowed value") from None


def normalize_value(spec: KeySpec, raw: str, *, validate: bool = True) -> str:
    """The wire value stored for ``raw`` under ``spec``; ``ValueError`` says why it is invalid.

    Checks kind, choices, integer range, the 500-character limit and (``validate``)
    ``spec.validator``, but not ``max_items_key`` (``Configuration`` checks that).
    """
    if spec.kind == "bool":
        value = raw.strip().lower()
        if value not in ("true", "false"):
            raise ValueError("not true or false")
    elif spec.kind == "int":
        if not _INT.fullmatch(raw):
            raise ValueError("not a decimal integer")
        number = int(raw)
        low = -_INT_MAX - 1 if spec.min_value is None else spec.min_value
        high = _INT_MAX if spec.max_value is None else spec.max_value
        if not low <= number <= high:
            raise ValueError(f"outside {low}..{high}")
        value = str(number)
    elif spec.kind == "csl":
        items = [item.strip() for item in raw.split(",")] if raw.strip() else []
        if "" in items:
            raise ValueError("empty list item")
        if spec.choices is not None:
            items = [_choose(spec.choices, item) for item in items]
        value = ",".join(items)
    else:
        value = raw if spec.choices is None else _choose(spec.choices, raw)
    if len(value) > _VALUE_MAX:
        raise ValueError(f"longer than {_VALUE_MAX} characters")
    reason = spec.validator(value) if validate and spec.validator is not None else None
    if reason is not None:
        raise ValueError(reason)
    return value


class Configuration:
    """The configuration keys of one 1.6 charge point, persisted in a ``StateStore``.

    Prefer ``await Configuration.load(store, ...)``; the constructor takes concrete specs and
    reads nothing from the store.
    """

    def __init__(self, store: StateStore, specs: Iterable[KeySpec] = ()) -> None:
        self._store = store
        self._specs: dict[str, KeySpec] = {}
        self._values: dict[str, str] = {}  # folded name -> value, supported keys only
        self._stored: dict[str, Any] = {}  # persisted values of keys not registered (yet)
        self._listeners: dict[str, list[ChangeListener]] = {}
        self._any_listeners: list[AnyChangeListener] = []
        self._checks: dict[str, list[Validator]] = {}
        for spec in specs:
            self.register(spec)
        if "securityprofile" in self._specs:
            self.add_check("SecurityProfile", self._security_profile_check)

    @classmethod
    async def load(
        cls,
        store: StateStore,
        specs: Iterable[KeySpec] = STANDARD_KEYS,
        *,
        number_of_connectors: int,
        profiles: Iterable[str] = PROFILES,
        defaults: Mapping[str, str | None] | None = None,
    ) -> Configuration:
        """Build the configuration and restore the persisted values (``store`` must be open).

        ``profiles``: the enabled feature profiles (and ``"Security"``); keys of the others are
        left out (keys with another profile label are kept); ``Core`` is mandatory. They make
        ``SupportedFeatureProfiles``, ``number_of_connectors`` makes ``NumberOfConnectors`` and
        the range of ``ConnectorPhaseRotation`` (default ``0.Unknown,1.Unknown,…``).
        ``defaults``: per-key default overrides, applied last (``None`` = not supported).
        """
        enabled = set(profiles)
        if "Core" not in enabled or not enabled <= set(PROFILES):
            raise ValueError(f"profiles must include 'Core' and be among {PROFILES}")
        if number_of_connectors < 1:
            raise ValueError("number_of_connectors must be at least 1")
        connectors = range(number_of_connectors + 1)
        derived: dict[str, str] = {
            "numberofconnectors": str(number_of_connectors),
            "supportedfeatureprofiles": ",".join(p for p in FEATURE_PROFILES if p in enabled),
        }
        specs = list(specs)
        overrides = {_fold(name): value for name, value in (defaults or {}).items()}
        if unknown := set(overrides) - {_fold(spec.name) for spec in specs}:
            raise ValueError(f"defaults for unknown keys: {sorted(unknown)}")
        chosen: list[KeySpec] = []
        for spec in specs:
            key = _fold(spec.name)
            if spec.profile in PROFILES and spec.profile not in enabled:
                continue
            if key in derived:
                spec = replace(spec, default=derived[key])
            elif key == "connectorphaserotation":
                rotations = tuple(f"{i}.{r}" for i in connectors for r in PHASE_ROTATIONS)
                default = ",".join(f"{i}.Unknown" for i in connectors)
                spec = replace(
                    spec,
                    default=default if spec.default is None else spec.default,
                    choices=rotations if spec.choices is None else spec.choices,
                )
            if key in overrides:
                spec = replace(spec, default=overrides[key])
            chosen.append(spec)
        config = cls(store, chosen)
        for name, value in (await store.load(NAMESPACE)).items():
            config._stored[_fold(name)] = value
        for key, spec in list(config._specs.items()):
            config._restore(key, spec)
        return config

    # -- keys ----------------------------------------------------------------------------------
    def register(self, spec: KeySpec) -> None:
        """Add a key (an integrator's custom key); its persisted value is restored if valid.

        The default is checked like any value except by ``spec.validator`` (so a write-only key
        may start empty). Raises ``ValueError`` when the name is taken or the default is invalid.
        """
        key = _fold(spec.name)
        if key in self._specs:
            raise ValueError(f"configuration key {spec.name!r} is already registered")
        if spec.default is not None:
            try:
                self._values[key] = normalize_value(spec, spec.default, validate=False)
            except ValueError as exc:
                raise ValueError(f"default of {spec.name}: {exc}") from None
        self._specs[key] = spec
        self._restore(key, spec)

    def _restore(self, key: str, spec: KeySpec) -> None:
        stored = self._stored.pop(key, None)
        if stored is None or spec.access == "R":
            return
        try:
            if not isinstance(stored, str):
                raise ValueError("not a string")
            self._values[key] = self._checked(spec, stored)
        except ValueError as exc:
            _log.warning("ignoring the stored value of %s: %s", spec.name, exc)

    def spec(self, name: str) -> KeySpec | None:
        """The spec of a key (any case), or ``None`` when it is not registered."""
        return self._specs.get(_fold(name))

    def add_check(self, name: str, check: Validator) -> None:
        """Add a check that ChangeConfiguration (not ``set_internal``) runs on a normalised value
        after the spec's own checks; it may read the current configuration (e.g. "only raise")."""
        self._checks.setdefault(self._key(name), []).append(check)

    def _key(self, name: str) -> str:
        key = _fold(name)
        if key not in self._specs:
            raise KeyError(f"unknown configuration key {name!r}")
        return key

    # -- values --------------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The wire value of a key (any case); ``None`` when unknown or not supported.

        Write-only keys are returned too: the stack needs ``AuthorizationKey`` (never log it).
        """
        return self._values.get(_fold(name))

    def _typed(self, name: str, kind: KeyKind) -> str | None:
        spec = self._specs.get(_fold(name))
        if spec is None:
            return None
        if spec.kind != kind:
            raise TypeError(f"{spec.name} is a {spec.kind} key, not {kind}")
        return self._values.get(_fold(name))

    def get_int(self, name: str) -> int | None:
        """An ``int`` key's value; ``None`` when unknown or not supported."""
        value = self._typed(name, "int")
        return None if value is None else int(value)

    def get_bool(self, name: str) -> bool | None:
        """A ``bool`` key's value; ``None`` when unknown or not supported."""
        value = self._typed(name, "bool")
        return None if value is None else value == "true"

    def get_list(self, name: str) -> list[str] | None:
        """A ``csl`` key's items (``[]`` for an empty value); ``None`` when not supported."""
        value = self._typed(name, "csl")
        return None if value is None else [item for item in value.split(",") if item]

    def _checked(self, spec: KeySpec, raw: str) -> str:
        value = normalize_value(spec, raw)
        bound = None if spec.max_items_key is None else self.get_int(spec.max_items_key)
        if bound is not None and value and value.count(",") + 1 > bound:
            raise ValueError(f"more than {bound} items ({spec.max_items_key})")
        return value

    async def change(self, key: str, value: str) -> v16.ConfigurationStatus:
        """Apply a ChangeConfiguration: ``NotSupported`` (unknown or unsupported key),
        ``Rejected`` (read-only or invalid), else store it and answer ``Accepted`` or
        ``RebootRequired``. Store errors propagate and leave the old value."""
        folded = _fold(key)
        spec = self._specs.get(folded)
        if spec is None or folded not in self._values:
            return "NotSupported"
        if spec.access == "R":
            return "Rejected"
        try:
            normalised = self._checked(spec, value)
            for check in self._checks.get(folded, ()):
                reason = check(normalised)
                if reason is not None:
                    raise ValueError(reason)
        except ValueError as exc:
            _log.info("ChangeConfiguration of %s rejected: %s", spec.name, exc)
            return "Rejected"
        await self._write(spec, normalised, persist=True, by_csms=True)
        return "RebootRequired" if spec.reboot_required else "Accepted"

    async def set_internal(self, name: str, value: str | int | bool) -> None:
        """Set a key as the stack or integrator (read-only keys too; no access rules, no
        ``add_check`` checks). A value makes an unsupported key supported. Writable keys are
        persisted. Raises ``KeyError`` for an unknown key, ``ValueError`` for a bad value."""
        spec = self._specs[self._key(name)]
        if isinstance(value, bool):
            value = "true" if value else "false"
        normalised = self._checked(spec, str(value))
        await self._write(spec, normalised, persist=spec.access != "R", by_csms=False)

    async def _write(self, spec: KeySpec, value: str, *, persist: bool, by_csms: bool) -> None:
        if persist:
            await self._store.put(NAMESPACE, spec.name, value)
        self._values[_fold(spec.name)] = value
        for listener in list(self._listeners.get(_fold(spec.name), ())):
            self._notify(spec.name, listener, value)
        for any_listener in list(self._any_listeners) if by_csms else ():
            self._notify(spec.name, functools.partial(any_listener, spec.name), value)

    @staticmethod
    def _notify(name: str, listener: ChangeListener, value: str) -> None:
        try:
            listener(value)
        except Exception:
            _log.exception("configuration listener for %s failed", name)

    # -- listeners -----------------------------------------------------------------------------
    def on_change(self, name: str, callback: ChangeListener) -> Callable[[], None]:
        """Call ``callback(new_value)`` after each successful change of a key (by
        ChangeConfiguration or ``set_internal``); returns a function that unsubscribes.
        Exceptions of callbacks are logged, not raised."""
        listeners = self._listeners.setdefault(self._key(name), [])
        listeners.append(callback)
        return lambda: listeners.remove(callback)

    def on_any_change(self, callback: AnyChangeListener) -> Callable[[], None]:
        """Call ``callback(name, new_value)`` after each successful ChangeConfiguration of any key
        (the integrator's "changed by the CSMS" hook; not for ``set_internal``); returns a
        function that unsubscribes. Exceptions of callbacks are logged, not raised."""
        self._any_listeners.append(callback)
        return lambda: self._any_listeners.remove(callback)

    # -- messages ------------------------------------------------------------------------------
    def _key_value(self, key: str) -> v16.KeyValue:
        spec = self._specs[key]
        return v16.KeyValue(key=spec.name, readonly=spec.access == "R", value=self._values[key])

    def get_configuration(
        self, request: v16.GetConfigurationRequest
    ) -> v16.GetConfigurationResponse:
        """Answer GetConfiguration (see the module docstring for write-only keys and the cap)."""
        if not request.key:
            every = [
                self._key_value(key)
                for key, spec in self._specs.items()
                if key in self._values and spec.access != "W"
            ]
            return v16.GetConfigurationResponse(configuration_key=every or None)
        asked: dict[str, str] = {}
        for name in request.key:
            asked.setdefault(_fold(name), name)
        cap = self.get_int("GetConfigurationMaxKeys")
        known: list[v16.KeyValue] = []
        unknown: list[str] = []
        for key, name in list(asked.items())[:cap]:
            if key not in self._values:
                unknown.append(name)
            elif self._specs[key].access != "W":
                known.append(self._key_value(key))
        return v16.GetConfigurationResponse(
            configuration_key=known or None, unknown_key=unknown or None
        )

    async def change_configuration(
        self, request: v16.ChangeConfigurationRequest
    ) -> v16.ChangeConfigurationResponse:
        """Answer ChangeConfiguration with ``change``."""
        return v16.ChangeConfigurationResponse(status=await self.change(request.key, request.value))

    def _security_profile_check(self, value: str) -> str | None:
        new, current = int(value), self.get_int("SecurityProfile") or 0
        if new <= current:
            return "the security profile can only be raised"
        if new in (1, 2) and not self.get("AuthorizationKey"):
            return "security profiles 1 and 2 need an AuthorizationKey"
        return None
