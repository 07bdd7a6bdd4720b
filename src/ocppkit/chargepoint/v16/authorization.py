"""OCPP 1.6 local authorization: the Local Authorization List, the Authorization Cache and the
rules that decide whether a presented idTag may charge (1.6 §3.5, §5.10, §5.15, errata).

Sans-I/O: the blocks await only the ``StateStore`` and the injected ``send_authorize``; time comes
from an injected ``clock``. ``AuthSettings`` is read on every use (ChangeConfiguration applies at
once). Rules the 1.6 text leaves open, decided here (more in each class):

- idTags are ``CiString20Type`` (case-insensitive, §2 / §3.9): lookups, the uniqueness check of
  SendLocalList and the group comparison ignore case; the idTag as received is kept.
- ``ConcurrentTx`` counts as valid like ``Accepted`` (§3.5.2); the cache stores it as
  ``Accepted`` (it describes a moment, not the idTag; as Open OCPP's ``AuthentCache``).
- A valid entry past its expiryDate reads as ``Expired`` (§3.5.1, §3.5.4).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias

import msgspec

from ocppkit.chargepoint.state import StateStore
from ocppkit.messages import v16
from ocppkit.messages.v16.local_auth_list_management import UpdateStatus

__all__ = [
    "CACHE_NAMESPACE",
    "DEFAULT_CACHE_SIZE",
    "LIST_NAMESPACE",
    "AuthDecision",
    "AuthSettings",
    "AuthSource",
    "AuthorizationCache",
    "Authorizer",
    "LocalAuthList",
    "SendAuthorize",
    "StaticAuthSettings",
    "TimeSource",
    "is_valid",
    "tag_key",
]

log = logging.getLogger(__name__)

LIST_NAMESPACE = "local_list"
"""StateStore namespace of the Local Authorization List."""
CACHE_NAMESPACE = "auth_cache"
"""StateStore namespace of the Authorization Cache."""
DEFAULT_CACHE_SIZE = 1000
"""Default bound of the Authorization Cache (entries)."""

TimeSource: TypeAlias = Callable[[], datetime]
"""Returns the current wall-clock time, aware UTC (the stack passes ``Clock.now``)."""
SendAuthorize: TypeAlias = Callable[[str], Awaitable[v16.IdTagInfo]]
"""Sends Authorize.req for an idTag and returns the idTagInfo; raises when offline / timed out."""
AuthSource: TypeAlias = Literal["local_list", "cache", "csms", "offline_unknown"]
"""Where a decision's IdTagInfo came from."""

_VALID = frozenset({"Accepted", "ConcurrentTx"})
_TAG = "tag:"
_VERSION = "version"
_BAD_DATA = (KeyError, TypeError, ValueError, msgspec.ValidationError)


def tag_key(id_tag: str) -> str:
    """The comparison key of an idTag (``CiString20Type`` is case-insensitive)."""
    return id_tag.casefold()


def is_valid(info: v16.IdTagInfo) -> bool:
    """Whether ``info`` lets the idTag charge: status Accepted or ConcurrentTx (§3.5.2)."""
    return info.status in _VALID


def _as_of(info: v16.IdTagInfo, now: datetime) -> v16.IdTagInfo:
    """``info`` at ``now``: a valid entry whose expiryDate has passed reads as Expired."""
    if is_valid(info) and info.expiry_date is not None and info.expiry_date <= now:
        return msgspec.structs.replace(info, status="Expired")
    return info


def _entry(id_tag: str, info: v16.IdTagInfo) -> dict[str, Any]:
    return {"idTag": id_tag, "idTagInfo": msgspec.to_builtins(info)}


def _info(value: Any) -> v16.IdTagInfo:
    return msgspec.convert(value["idTagInfo"], v16.IdTagInfo)


class AuthSettings(Protocol):
    """How the authorization blocks read the 1.6 configuration keys (profiles.md §1)."""

    def local_pre_authorize(self) -> bool:
        """``LocalPreAuthorize``: online, a locally valid idTag starts without Authorize."""

    def local_authorize_offline(self) -> bool:
        """``LocalAuthorizeOffline``: offline, a locally valid idTag may start."""

    def allow_offline_tx_for_unknown_id(self) -> bool:
        """``AllowOfflineTxForUnknownId``: offline, an unknown idTag may start."""

    def cache_enabled(self) -> bool:
        """``AuthorizationCacheEnabled``."""

    def local_list_enabled(self) -> bool:
        """``LocalAuthListEnabled``."""

    def local_list_max_length(self) -> int:
        """``LocalAuthListMaxLength``: most idTags the list may hold."""

    def send_local_list_max_length(self) -> int:
        """``SendLocalListMaxLength``: most idTags one SendLocalList may carry."""


@dataclass(slots=True)
class StaticAuthSettings:
    """``AuthSettings`` from plain fields (tests, or a stack without configuration keys)."""

    pre_authorize: bool = False
    authorize_offline: bool = True
    unknown_offline: bool = False
    cache_on: bool = True
    list_on: bool = True
    list_max_length: int = 1000
    send_list_max_length: int = 100

    def local_pre_authorize(self) -> bool:
        """``LocalPreAuthorize``."""
        return self.pre_authorize

    def local_authorize_offline(self) -> bool:
        """``LocalAuthorizeOffline``."""
        return self.authorize_offline

    def allow_offline_tx_for_unknown_id(self) -> bool:
        """``AllowOfflineTxForUnknownId``."""
        return self.unknown_offline

    def cache_enabled(self) -> bool:
        """``AuthorizationCacheEnabled``."""
        return self.cache_on

    def local_list_enabled(self) -> bool:
        """``LocalAuthListEnabled``."""
        return self.list_on

    def local_list_max_length(self) -> int:
        """``LocalAuthListMaxLength``."""
        return self.list_max_length

    def send_local_list_max_length(self) -> int:
        """``SendLocalListMaxLength``."""
        return self.send_list_max_length


class LocalAuthList:
    """The Local Authorization List (§3.5.2), its SendLocalList and GetLocalListVersion.

    Stored in namespace ``"local_list"`` as ``"version"`` plus one ``"tag:<casefolded idTag>"``
    item ``{"idTag", "idTagInfo"}`` per entry, always written whole with
    ``put_many(replace=True)`` so the version and the entries change together. Only ``apply``
    changes it (§3.5.2: the CP modifies the list by no other means). ``apply`` calls must not
    overlap (OCPP-J: the CSMS sends one CALL at a time).

    ``apply`` rules (§5.15, §6.41, UpdateStatus descriptions; Open OCPP ``AuthentLocalList``):

    - ``NotSupported`` while LocalAuthListEnabled is false;
    - ``Failed`` when the request carries more than SendLocalListMaxLength entries, repeats an
      idTag, the result would exceed LocalAuthListMaxLength, or the store write fails;
    - Full: every entry needs idTagInfo (else ``Failed``); no/empty list empties the list.
      ``listVersion`` must be >= 1, or 0 with an empty list (0 means "empty" and -1 "not
      supported" in GetLocalListVersion, so a non-empty list cannot carry them): else ``Failed``;
    - Differential: ``VersionMismatch`` unless ``listVersion`` > the current version; an entry
      with idTagInfo adds/updates, one without removes (absent idTags are ignored); no entries
      changes only the version.

    The version is 0 whenever the list is empty (§5.10), whatever the request said.
    """

    def __init__(self, store: StateStore, settings: AuthSettings, clock: TimeSource) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._version = 0
        self._entries: dict[str, tuple[str, v16.IdTagInfo]] = {}

    async def load(self) -> None:
        """Read the list from the store; unreadable data loads as empty (version 0), so the CSMS
        sends the list again."""
        items = await self._store.load(LIST_NAMESPACE)
        entries: dict[str, tuple[str, v16.IdTagInfo]] = {}
        try:
            for key, value in items.items():
                if key.startswith(_TAG):
                    entries[tag_key(value["idTag"])] = (str(value["idTag"]), _info(value))
            version = int(items.get(_VERSION, 0))
        except _BAD_DATA:
            log.warning("unreadable local authorization list: loaded as empty")
            entries, version = {}, 0
        self._entries = entries
        self._version = version if entries else 0

    def version(self) -> int:
        """listVersion for GetLocalListVersion: -1 while LocalAuthListEnabled is false (as Open
        OCPP; "not supported", §5.10), 0 when the list is empty."""
        if not self._settings.local_list_enabled():
            return -1
        return self._version

    def lookup(self, id_tag: str) -> v16.IdTagInfo | None:
        """The entry of ``id_tag`` as of now (Expired once past its expiryDate), or None."""
        found = self._entries.get(tag_key(id_tag))
        return None if found is None else _as_of(found[1], self._clock())

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._entries)

    async def apply(self, request: v16.SendLocalListRequest) -> v16.SendLocalListResponse:
        """Handle SendLocalList (rules in the class docstring); durable when it answers Accepted."""
        return v16.SendLocalListResponse(status=await self._apply(request))

    async def _apply(self, request: v16.SendLocalListRequest) -> UpdateStatus:
        settings = self._settings
        if not settings.local_list_enabled():
            return "NotSupported"
        items = request.local_authorization_list or []
        keys = [tag_key(item.id_tag) for item in items]
        if len(items) > settings.send_local_list_max_length() or len(set(keys)) != len(keys):
            return "Failed"
        if request.update_type == "Full":
            if request.list_version < (1 if items else 0):
                return "Failed"
            entries: dict[str, tuple[str, v16.IdTagInfo]] = {}
            for key, item in zip(keys, items, strict=True):
                if item.id_tag_info is None:
                    return "Failed"
                entries[key] = (item.id_tag, item.id_tag_info)
        else:
            if request.list_version <= self._version:
                return "VersionMismatch"
            entries = dict(self._entries)
            for key, item in zip(keys, items, strict=True):
                if item.id_tag_info is None:
                    entries.pop(key, None)
                else:
                    entries[key] = (item.id_tag, item.id_tag_info)
        if len(entries) > settings.local_list_max_length():
            return "Failed"
        version = request.list_version if entries else 0
        data: dict[str, Any] = {_TAG + key: _entry(*entry) for key, entry in entries.items()}
        data[_VERSION] = version
        try:
            await self._store.put_many(LIST_NAMESPACE, data, replace=True)
        except Exception:
            log.exception("could not store the local authorization list")
            return "Failed"
        self._entries, self._version = entries, version
        return "Accepted"


@dataclass(frozen=True, slots=True)
class _Cached:
    id_tag: str
    info: v16.IdTagInfo
    seq: int

    def dump(self) -> dict[str, Any]:
        return {**_entry(self.id_tag, self.info), "seq": self.seq}


class AuthorizationCache:
    """The Authorization Cache (§3.5.1): the latest IdTagInfo the CSMS sent for each idTag.

    Stored in namespace ``"auth_cache"``, one item per idTag (key: casefolded idTag; value
    ``{"idTag", "idTagInfo", "seq"}``); ``seq`` rises with every answer stored, so it orders the
    entries by age. At most ``max_entries`` (default ``DEFAULT_CACHE_SIZE`` = 1000): storing a new
    idTag into a full cache evicts the oldest NOT-valid entry (not Accepted/ConcurrentTx, or
    expired), else the oldest valid one — one entry per new idTag, as §3.5.1 ("remove any
    NOT-valid entries, and then, if necessary, the oldest valid entries to make space"). A valid
    entry past its expiryDate is changed to Expired when looked up (§3.5.1).

    The cache does not check AuthorizationCacheEnabled except in ``clear``: ``Authorizer``
    decides when to use it.
    """

    def __init__(
        self,
        store: StateStore,
        settings: AuthSettings,
        clock: TimeSource,
        *,
        max_entries: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._store = store
        self._settings = settings
        self._clock = clock
        self.max_entries = max_entries
        self._entries: dict[str, _Cached] = {}  # oldest first
        self._seq = 0

    async def load(self) -> None:
        """Read the cache from the store; unreadable items and those past the bound (oldest
        first, per the eviction rule) are deleted."""
        entries: list[tuple[str, _Cached]] = []
        drop: list[str] = []
        for key, value in (await self._store.load(CACHE_NAMESPACE)).items():
            try:
                entries.append((key, _Cached(str(value["idTag"]), _info(value), int(value["seq"]))))
            except _BAD_DATA:
                drop.append(key)
        entries.sort(key=lambda item: item[1].seq)
        self._entries = dict(entries)
        self._seq = entries[-1][1].seq if entries else 0
        while len(self._entries) > self.max_entries:
            drop.append(self._evict())
        for key in drop:
            await self._store.delete(CACHE_NAMESPACE, key)

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._entries)

    def peek(self, id_tag: str) -> v16.IdTagInfo | None:
        """The cached IdTagInfo of ``id_tag`` as of now (Expired once past its expiryDate), or
        None; writes nothing."""
        entry = self._entries.get(tag_key(id_tag))
        return None if entry is None else _as_of(entry.info, self._clock())

    async def lookup(self, id_tag: str) -> v16.IdTagInfo | None:
        """As ``peek``, and an entry found expired is changed to Expired in the cache and store."""
        key = tag_key(id_tag)
        entry = self._entries.get(key)
        if entry is None:
            return None
        info = _as_of(entry.info, self._clock())
        if info is not entry.info:
            entry = replace(entry, info=info)
            self._entries[key] = entry  # same age: not a new answer
            await self._store.put(CACHE_NAMESPACE, key, entry.dump())
        return info

    async def put(self, id_tag: str, info: v16.IdTagInfo) -> None:
        """Store the CSMS's IdTagInfo for ``id_tag`` (ConcurrentTx as Accepted), evicting one entry
        when a new idTag meets a full cache."""
        if info.status == "ConcurrentTx":
            info = msgspec.structs.replace(info, status="Accepted")
        key = tag_key(id_tag)
        evicted: list[str] = []
        while key not in self._entries and len(self._entries) >= self.max_entries:
            evicted.append(self._evict())
        self._seq += 1
        entry = _Cached(id_tag, info, self._seq)
        self._entries.pop(key, None)  # re-insert: the dict stays ordered by age
        self._entries[key] = entry
        for old in evicted:
            await self._store.delete(CACHE_NAMESPACE, old)
        await self._store.put(CACHE_NAMESPACE, key, entry.dump())

    async def clear(self) -> v16.ClearCacheResponse:
        """Handle ClearCache: empty the cache -> Accepted; Rejected (cache kept) while
        AuthorizationCacheEnabled is false (as 2.0.1 C11.FR.04 and Open OCPP) or when the store
        write fails."""
        if not self._settings.cache_enabled():
            return v16.ClearCacheResponse(status="Rejected")
        try:
            await self._store.put_many(CACHE_NAMESPACE, {}, replace=True)
        except Exception:
            log.exception("could not clear the authorization cache")
            return v16.ClearCacheResponse(status="Rejected")
        self._entries.clear()
        return v16.ClearCacheResponse(status="Accepted")

    def _evict(self) -> str:
        now = self._clock()
        victim = next(
            (k for k, e in self._entries.items() if not is_valid(_as_of(e.info, now))),
            next(iter(self._entries)),
        )
        del self._entries[victim]
        return victim


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """The verdict for one presented idTag.

    ``accepted`` is the verdict; ``info`` (the IdTagInfo) the best-known data (offline with
    LocalAuthorizeOffline false, a cached Accepted idTag can still be refused); ``source`` where
    that data came from; ``local_list_conflict`` True when the CSMS answer contradicts the local
    list (report StatusNotification connectorId 0, errorCode LocalListConflict, §3.5.2).
    """

    accepted: bool
    info: v16.IdTagInfo
    source: AuthSource
    local_list_conflict: bool = False

    @property
    def parent_id_tag(self) -> str | None:
        """The parentIdTag (group) of the idTag, when known."""
        return self.info.parent_id_tag


class Authorizer:
    """Decides whether a presented idTag may start charging (1.6 §3.5).

    - The local list (when enabled) comes first and is final for its idTags; the cache (when
      enabled) is consulted only for idTags not in the list (§3.5.3).
    - Online with LocalPreAuthorize: a locally valid idTag is accepted at once (no Authorize); a
      list entry that is not valid (or expired) is refused at once; a NOT-valid cache entry is
      checked with Authorize (§3.5.1).
    - Online otherwise: Authorize decides (Accepted only; ConcurrentTx refuses a start) and its
      answer is fed through ``update_from``. ``send_authorize`` raising counts as offline.
    - Offline: a known NOT-valid or expired idTag is refused, always (§3.5.4); a known valid one is
      accepted with LocalAuthorizeOffline; otherwise (unknown, or known but LocalAuthorizeOffline
      false) it is accepted only with AllowOfflineTxForUnknownId, as ``"offline_unknown"``.
    """

    def __init__(
        self,
        settings: AuthSettings,
        local_list: LocalAuthList,
        cache: AuthorizationCache,
        send_authorize: SendAuthorize,
    ) -> None:
        self.settings = settings
        self.local_list = local_list
        self.cache = cache
        self._send_authorize = send_authorize

    async def load(self) -> None:
        """Load the local list and the cache from the store."""
        await self.local_list.load()
        await self.cache.load()

    async def authorize(self, id_tag: str, *, online: bool) -> AuthDecision:
        """The decision for ``id_tag`` (rules in the class docstring)."""
        known = await self._known(id_tag)
        if online:
            if known is not None and self.settings.local_pre_authorize():
                source, info = known
                if source == "local_list" or is_valid(info):
                    return AuthDecision(is_valid(info), info, source)
            try:
                answer = await self._send_authorize(id_tag)
            except Exception as exc:
                log.info("Authorize got no answer (%r): deciding offline", exc)
            else:
                conflict = await self.update_from(id_tag, answer)
                return AuthDecision(answer.status == "Accepted", answer, "csms", conflict)
        return self._offline(known)

    async def update_from(self, id_tag: str, info: v16.IdTagInfo) -> bool:
        """Feed an IdTagInfo from Authorize / StartTransaction / StopTransaction.conf into the cache
        (when enabled). An idTag in the enabled local list is not cached (§3.5.3); returns True when
        the answer contradicts its entry (valid vs not valid) — a LocalListConflict."""
        listed = self._listed(id_tag)
        if listed is not None:
            return is_valid(listed) != is_valid(info)
        if self.settings.cache_enabled():
            await self.cache.put(id_tag, info)
        return False

    def same_group(
        self, a: str, b: str, *, parent_a: str | None = None, parent_b: str | None = None
    ) -> bool:
        """Whether idTag ``b`` may stop what ``a`` started: the same idTag (ignoring case), or the
        same parentIdTag (errata 3.5, TC_069). Parents not given are taken from the enabled local
        list, then the enabled cache; validity is not checked here."""
        if tag_key(a) == tag_key(b):
            return True
        group_a = parent_a or self._parent(a)
        group_b = parent_b or self._parent(b)
        return group_a is not None and group_b is not None and tag_key(group_a) == tag_key(group_b)

    def _listed(self, id_tag: str) -> v16.IdTagInfo | None:
        if not self.settings.local_list_enabled():
            return None
        return self.local_list.lookup(id_tag)

    async def _known(self, id_tag: str) -> tuple[AuthSource, v16.IdTagInfo] | None:
        listed = self._listed(id_tag)
        if listed is not None:
            return "local_list", listed
        if self.settings.cache_enabled():
            cached = await self.cache.lookup(id_tag)
            if cached is not None:
                return "cache", cached
        return None

    def _parent(self, id_tag: str) -> str | None:
        info = self._listed(id_tag)
        if info is None and self.settings.cache_enabled():
            info = self.cache.peek(id_tag)
        return None if info is None else info.parent_id_tag

    def _offline(self, known: tuple[AuthSource, v16.IdTagInfo] | None) -> AuthDecision:
        settings = self.settings
        if known is not None:
            source, info = known
            if not is_valid(info):
                return AuthDecision(False, info, source)
            if settings.local_authorize_offline():
                return AuthDecision(True, info, source)
        if settings.allow_offline_tx_for_unknown_id():
            info = known[1] if known else v16.IdTagInfo(status="Accepted")
            return AuthDecision(True, info, "offline_unknown")
        if known is not None:
            return AuthDecision(False, known[1], known[0])
        return AuthDecision(False, v16.IdTagInfo(status="Invalid"), "offline_unknown")
