"""1.6 local authorization: decisions over online/offline x local list / cache / expired / blocked /
unknown x settings; SendLocalList (Full, Differential, VersionMismatch, too long, disabled);
persistence across a reload; cache expiry, bound and ClearCache; the CSMS answer feeding the
cache; a failing ``send_authorize`` counting as offline. No sleeps: time is a settable clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocppkit.chargepoint.state import MemoryStateStore
from ocppkit.chargepoint.v16.authorization import (
    CACHE_NAMESPACE,
    LIST_NAMESPACE,
    AuthorizationCache,
    Authorizer,
    AuthSource,
    LocalAuthList,
    StaticAuthSettings,
)
from ocppkit.messages import v16
from ocppkit.messages.v16.common import AuthorizationStatus
from ocppkit.messages.v16.local_auth_list_management import UpdateType

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
PAST = T0 - timedelta(minutes=1)
LATER = T0 + timedelta(hours=1)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


def info(
    status: AuthorizationStatus = "Accepted",
    *,
    parent: str | None = None,
    expiry: datetime | None = None,
) -> v16.IdTagInfo:
    return v16.IdTagInfo(status=status, parent_id_tag=parent, expiry_date=expiry)


def send_list(
    version: int, update: UpdateType, entries: Mapping[str, v16.IdTagInfo | None] | None
) -> v16.SendLocalListRequest:
    items = None
    if entries is not None:
        items = [v16.AuthorizationData(id_tag=k, id_tag_info=v) for k, v in entries.items()]
    return v16.SendLocalListRequest(
        list_version=version, update_type=update, local_authorization_list=items
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeCsms:
    """``send_authorize``: answers from ``answers`` (Invalid when absent), raises when offline."""

    def __init__(self) -> None:
        self.answers: dict[str, v16.IdTagInfo] = {}
        self.calls: list[str] = []
        self.offline = False

    async def __call__(self, id_tag: str) -> v16.IdTagInfo:
        self.calls.append(id_tag)
        if self.offline:
            raise ConnectionError("no answer")
        return self.answers.get(id_tag, info("Invalid"))


class FailingStore(MemoryStateStore):
    fail = False

    async def put_many(
        self, namespace: str, items: Mapping[str, Any], *, replace: bool = False
    ) -> None:
        if self.fail:
            raise OSError("disk full")
        await super().put_many(namespace, items, replace=replace)


@dataclass
class Rig:
    store: MemoryStateStore
    settings: StaticAuthSettings
    clock: FakeClock = field(default_factory=FakeClock)
    csms: FakeCsms = field(default_factory=FakeCsms)
    max_entries: int = 1000
    auth: Authorizer = field(init=False)

    def __post_init__(self) -> None:
        self.auth = Authorizer(
            self.settings,
            LocalAuthList(self.store, self.settings, self.clock),
            AuthorizationCache(self.store, self.settings, self.clock, max_entries=self.max_entries),
            self.csms,
        )

    @property
    def local_list(self) -> LocalAuthList:
        return self.auth.local_list

    @property
    def cache(self) -> AuthorizationCache:
        return self.auth.cache


async def rig(
    settings: StaticAuthSettings | None = None,
    *,
    store: MemoryStateStore | None = None,
    max_entries: int = 1000,
) -> Rig:
    store = store or MemoryStateStore()
    await store.open()
    r = Rig(store, settings or StaticAuthSettings(), max_entries=max_entries)
    await r.auth.load()
    return r


# -- decisions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    online: bool
    where: str | None  # "list", "cache" or None (unknown)
    status: AuthorizationStatus = "Accepted"
    expired: bool = False
    settings: dict[str, bool] = field(default_factory=dict)
    csms: AuthorizationStatus | None = None  # answer; None = send_authorize raises
    accepted: bool = False
    source: AuthSource = "csms"
    shown: AuthorizationStatus = "Accepted"  # status of the decision's IdTagInfo
    asked: bool = False  # Authorize was sent


PRE = {"pre_authorize": True}
NO_OFFLINE = {"authorize_offline": False}
UNKNOWN = {"unknown_offline": True}

CASES = {
    # online, LocalPreAuthorize false: the CSMS decides, even for local ids
    "on-list-hit-asks": Case(True, "list", csms="Accepted", accepted=True, asked=True),
    "on-cache-hit-asks": Case(True, "cache", csms="Blocked", shown="Blocked", asked=True),
    "on-unknown-accepted": Case(True, None, csms="Accepted", accepted=True, asked=True),
    "on-unknown-blocked": Case(True, None, csms="Blocked", shown="Blocked", asked=True),
    # online, LocalPreAuthorize true: locally valid ids start without Authorize
    "pre-list-hit": Case(True, "list", settings=PRE, accepted=True, source="local_list"),
    "pre-cache-hit": Case(True, "cache", settings=PRE, accepted=True, source="cache"),
    "pre-list-blocked-final": Case(
        True, "list", "Blocked", settings=PRE, source="local_list", shown="Blocked"
    ),
    "pre-list-expired-final": Case(
        True, "list", expired=True, settings=PRE, source="local_list", shown="Expired"
    ),
    "pre-cache-blocked-asks": Case(
        True, "cache", "Blocked", settings=PRE, csms="Accepted", accepted=True, asked=True
    ),
    "pre-cache-expired-asks": Case(
        True, "cache", expired=True, settings=PRE, csms="Expired", shown="Expired", asked=True
    ),
    "pre-unknown-asks": Case(True, None, settings=PRE, csms="Accepted", accepted=True, asked=True),
    "pre-concurrent-list-valid": Case(
        True,
        "list",
        "ConcurrentTx",
        settings=PRE,
        accepted=True,
        source="local_list",
        shown="ConcurrentTx",
    ),
    # offline
    "off-list-hit": Case(False, "list", accepted=True, source="local_list"),
    "off-cache-hit": Case(False, "cache", accepted=True, source="cache"),
    "off-cache-hit-no-local-offline": Case(False, "cache", settings=NO_OFFLINE, source="cache"),
    "off-cache-hit-no-local-offline-unknown-ok": Case(
        False, "cache", settings=NO_OFFLINE | UNKNOWN, accepted=True, source="offline_unknown"
    ),
    "off-list-blocked": Case(
        False, "list", "Blocked", settings=UNKNOWN, source="local_list", shown="Blocked"
    ),
    "off-list-expired": Case(
        False, "list", expired=True, settings=UNKNOWN, source="local_list", shown="Expired"
    ),
    "off-cache-invalid": Case(
        False, "cache", "Invalid", settings=UNKNOWN, source="cache", shown="Invalid"
    ),
    "off-cache-expired": Case(
        False, "cache", expired=True, settings=UNKNOWN, source="cache", shown="Expired"
    ),
    "off-unknown-allowed": Case(
        False, None, settings=UNKNOWN, accepted=True, source="offline_unknown"
    ),
    "off-unknown-refused": Case(False, None, source="offline_unknown", shown="Invalid"),
    "off-cache-disabled": Case(
        False, "cache", settings={"cache_on": False}, source="offline_unknown", shown="Invalid"
    ),
    "off-list-disabled": Case(
        False, "list", settings={"list_on": False}, source="offline_unknown", shown="Invalid"
    ),
    # online, but send_authorize raises: decided as offline
    "raise-unknown-allowed": Case(
        True, None, settings=UNKNOWN, accepted=True, source="offline_unknown", asked=True
    ),
    "raise-unknown-refused": Case(
        True, None, source="offline_unknown", shown="Invalid", asked=True
    ),
    "raise-cache-hit": Case(True, "cache", accepted=True, source="cache", asked=True),
    "raise-cache-blocked": Case(
        True,
        "cache",
        "Blocked",
        settings=PRE | UNKNOWN,
        source="cache",
        shown="Blocked",
        asked=True,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decision_table(case: Case) -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(**case.settings))
        stored = info(case.status, parent="G1", expiry=PAST if case.expired else LATER)
        if case.where == "list":  # filled while enabled, then the case's setting applies
            r.settings.list_on, list_on = True, r.settings.list_on
            assert (await r.local_list.apply(send_list(1, "Full", {"TAG": stored}))).status == (
                "Accepted"
            )
            r.settings.list_on = list_on
        elif case.where == "cache":
            await r.cache.put("TAG", stored)
        if case.csms is None:
            r.csms.offline = True
        else:
            r.csms.answers["tag"] = info(case.csms)

        decision = await r.auth.authorize("tag", online=case.online)  # case-insensitive

        assert (decision.accepted, decision.source) == (case.accepted, case.source)
        assert decision.info.status == case.shown
        assert r.csms.calls == (["tag"] if case.asked else [])
        if case.where is not None and case.source in ("local_list", "cache"):
            assert decision.parent_id_tag == "G1"

    run(main)


def test_local_list_entry_wins_over_a_cache_entry() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(unknown_offline=True))
        await r.cache.put("TAG", info("Accepted"))  # cached before the list named it
        await r.local_list.apply(send_list(1, "Full", {"TAG": info("Blocked")}))
        decision = await r.auth.authorize("TAG", online=False)
        assert (decision.accepted, decision.source) == (False, "local_list")

    run(main)


# -- the CSMS answer and the cache ----------------------------------------------------------------


def test_csms_answers_update_the_cache() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(unknown_offline=True))
        r.csms.answers = {"A": info(parent="G"), "B": info("Blocked"), "C": info("ConcurrentTx")}
        for tag in "ABC":
            await r.auth.authorize(tag, online=True)
        assert len(r.cache) == 3
        assert r.cache.peek("a") == info(parent="G")
        assert r.cache.peek("C") == info("Accepted")  # ConcurrentTx is a moment, not the idTag
        # offline, the cached answers decide: B is refused although unknown ids are allowed
        a, b = await r.auth.authorize("A", online=False), await r.auth.authorize("B", online=False)
        assert (a.accepted, a.source, a.parent_id_tag) == (True, "cache", "G")
        assert (b.accepted, b.source) == (False, "cache")
        # StartTransaction / StopTransaction answers update an entry
        assert await r.auth.update_from("A", info("Blocked")) is False
        assert (await r.auth.authorize("A", online=False)).accepted is False

    run(main)


def test_authorize_concurrent_tx_refuses_a_start() -> None:
    async def main() -> None:
        r = await rig()
        r.csms.answers["A"] = info("ConcurrentTx")
        decision = await r.auth.authorize("A", online=True)
        assert (decision.accepted, decision.source) == (False, "csms")

    run(main)


def test_failed_authorize_leaves_the_cache_alone() -> None:
    async def main() -> None:
        r = await rig()
        r.csms.offline = True
        await r.auth.authorize("A", online=True)
        assert len(r.cache) == 0
        assert await r.store.load(CACHE_NAMESPACE) == {}

    run(main)


def test_local_list_ids_are_not_cached_and_conflicts_are_reported() -> None:
    async def main() -> None:
        r = await rig()
        await r.local_list.apply(send_list(1, "Full", {"L": info(), "X": info("Blocked")}))
        assert await r.auth.update_from("l", info("Blocked")) is True  # list says valid
        assert await r.auth.update_from("L", info("ConcurrentTx")) is False  # both valid
        assert await r.auth.update_from("X", info("Invalid")) is False  # both not valid
        assert len(r.cache) == 0
        r.csms.answers["L"] = info("Blocked")
        decision = await r.auth.authorize("L", online=True)  # no LocalPreAuthorize: ask
        assert (decision.accepted, decision.source, decision.local_list_conflict) == (
            False,
            "csms",
            True,
        )
        assert r.local_list.lookup("L") == info()  # only SendLocalList changes the list
        assert await r.auth.update_from("other", info()) is False
        assert len(r.cache) == 1

    run(main)


def test_disabled_cache_is_not_fed() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(cache_on=False))
        r.csms.answers["A"] = info()
        assert (await r.auth.authorize("A", online=True)).accepted
        assert len(r.cache) == 0

    run(main)


# -- SendLocalList / GetLocalListVersion ----------------------------------------------------------


async def statuses(r: Rig, *requests: v16.SendLocalListRequest) -> list[str]:
    return [(await r.local_list.apply(request)).status for request in requests]


def test_full_update_replaces_the_list_and_is_stored_whole() -> None:
    async def main() -> None:
        r = await rig()
        assert r.local_list.version() == 0  # never set
        first = {"Alice": info(), "BOB": info("Blocked", parent="G")}
        assert await statuses(r, send_list(3, "Full", first)) == ["Accepted"]
        assert (r.local_list.version(), len(r.local_list)) == (3, 2)
        assert r.local_list.lookup("alice") == info()
        assert r.local_list.lookup("bob") == info("Blocked", parent="G")
        stored = await r.store.load(LIST_NAMESPACE)
        assert stored["version"] == 3
        assert stored["tag:bob"] == {
            "idTag": "BOB",
            "idTagInfo": {"parentIdTag": "G", "status": "Blocked"},
        }
        assert await statuses(r, send_list(2, "Full", {"Carol": info()})) == ["Accepted"]
        assert r.local_list.lookup("alice") is None  # a Full list replaces, any version
        assert set(await r.store.load(LIST_NAMESPACE)) == {"version", "tag:carol"}
        assert r.local_list.version() == 2
        assert await statuses(r, send_list(5, "Full", None)) == ["Accepted"]
        assert (r.local_list.version(), len(r.local_list)) == (0, 0)  # empty list: version 0
        assert await r.store.load(LIST_NAMESPACE) == {"version": 0}

    run(main)


def test_full_update_rejections_leave_the_list_unchanged() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(send_list_max_length=2))
        await r.local_list.apply(send_list(1, "Full", {"A": info()}))
        before = await r.store.load(LIST_NAMESPACE)
        assert (
            await statuses(
                r,
                send_list(2, "Full", {"B": None}),  # Full needs idTagInfo
                send_list(0, "Full", {"B": info()}),  # 0 means "empty"
                send_list(-1, "Full", {"B": info()}),  # -1 means "not supported"
                send_list(2, "Full", {"B": info(), "b": info()}),  # idTags are case-insensitive
                send_list(2, "Full", {"B": info(), "C": info(), "D": info()}),  # > SendLocalListMax
            )
            == ["Failed"] * 5
        )
        assert (r.local_list.version(), r.local_list.lookup("A")) == (1, info())
        assert await r.store.load(LIST_NAMESPACE) == before

    run(main)


def test_differential_update_adds_updates_and_removes() -> None:
    async def main() -> None:
        r = await rig()
        assert await statuses(r, send_list(1, "Differential", {"A": info()})) == ["Accepted"]
        change = {"a": info("Blocked"), "B": info(parent="G"), "gone": None}
        assert await statuses(r, send_list(4, "Differential", change)) == ["Accepted"]
        assert r.local_list.lookup("A") == info("Blocked")
        assert r.local_list.lookup("b") == info(parent="G")
        assert (r.local_list.version(), len(r.local_list)) == (4, 2)
        assert await statuses(r, send_list(5, "Differential", {"A": None})) == ["Accepted"]
        assert r.local_list.lookup("A") is None
        assert set(await r.store.load(LIST_NAMESPACE)) == {"version", "tag:b"}
        assert await statuses(r, send_list(6, "Differential", None)) == ["Accepted"]
        assert (r.local_list.version(), len(r.local_list)) == (6, 1)  # only the version moved
        assert await statuses(r, send_list(7, "Differential", {"B": None})) == ["Accepted"]
        assert r.local_list.version() == 0  # emptied: version 0

    run(main)


def test_differential_version_must_rise() -> None:
    async def main() -> None:
        r = await rig()
        await r.local_list.apply(send_list(5, "Full", {"A": info()}))
        assert (
            await statuses(
                r,
                send_list(5, "Differential", {"B": info()}),
                send_list(4, "Differential", {"B": info()}),
            )
            == ["VersionMismatch"] * 2
        )
        assert (r.local_list.version(), r.local_list.lookup("B")) == (5, None)
        assert await statuses(r, send_list(6, "Differential", {"B": info()})) == ["Accepted"]

    run(main)


def test_list_length_limits() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(list_max_length=2, send_list_max_length=2))
        assert await statuses(
            r,
            send_list(1, "Full", {"A": info(), "B": info()}),
            send_list(2, "Differential", {"C": info()}),  # the list would hold 3
            send_list(2, "Differential", {"A": None, "C": info()}),  # stays at 2
        ) == ["Accepted", "Failed", "Accepted"]
        assert (r.local_list.version(), r.local_list.lookup("A")) == (2, None)
        assert r.local_list.lookup("C") == info()

    run(main)


def test_disabled_list_is_not_supported() -> None:
    async def main() -> None:
        settings = StaticAuthSettings()
        r = await rig(settings)
        await r.local_list.apply(send_list(3, "Full", {"A": info()}))
        settings.list_on = False
        assert r.local_list.version() == -1
        assert await statuses(r, send_list(4, "Full", {"B": info()})) == ["NotSupported"]
        settings.list_on = True
        assert (r.local_list.version(), r.local_list.lookup("B")) == (3, None)

    run(main)


def test_store_failure_answers_failed_and_keeps_the_old_list() -> None:
    async def main() -> None:
        store = FailingStore()
        r = await rig(store=store)
        await r.local_list.apply(send_list(1, "Full", {"A": info()}))
        store.fail = True
        assert await statuses(r, send_list(2, "Full", {"B": info()})) == ["Failed"]
        assert (r.local_list.version(), r.local_list.lookup("A")) == (1, info())
        assert (await r.cache.clear()).status == "Rejected"

    run(main)


# -- persistence ----------------------------------------------------------------------------------


def test_list_and_cache_survive_a_reload() -> None:
    async def main() -> None:
        r = await rig(max_entries=2)
        await r.local_list.apply(send_list(7, "Full", {"L": info(parent="G", expiry=LATER)}))
        await r.auth.update_from("old", info())
        await r.auth.update_from("new", info(parent="G"))
        await r.store.close()

        again = await rig(store=r.store, max_entries=2)
        assert again.local_list.version() == 7
        assert again.local_list.lookup("l") == info(parent="G", expiry=LATER)
        assert again.cache.peek("NEW") == info(parent="G")
        assert again.auth.same_group("L", "new")
        await again.cache.put("third", info())  # the age order survived: "old" goes
        assert (again.cache.peek("old"), len(again.cache)) == (None, 2)
        third = await rig(store=r.store, max_entries=2)  # ages keep rising across reloads
        await third.cache.put("fourth", info())
        assert set(await r.store.load(CACHE_NAMESPACE)) == {"third", "fourth"}

    run(main)


def test_reload_orders_the_cache_by_age_not_by_storage_order() -> None:
    async def main() -> None:
        r = await rig()
        for tag in ("a", "b", "a"):  # "a" updated last: stored first, but the youngest
            await r.cache.put(tag, info())
        again = await rig(store=r.store, max_entries=2)
        await again.cache.put("c", info())
        assert set(await r.store.load(CACHE_NAMESPACE)) == {"a", "c"}

    run(main)


def test_unreadable_data_is_dropped_on_load() -> None:
    async def main() -> None:
        store = MemoryStateStore()
        await store.open()
        await store.put_many(LIST_NAMESPACE, {"version": 4, "tag:a": {"idTag": "A"}})
        await store.put(CACHE_NAMESPACE, "b", {"idTag": "B", "idTagInfo": {"status": "Bogus"}})
        await store.put(CACHE_NAMESPACE, "c", {"idTag": "C", "idTagInfo": {}, "seq": 1})
        await store.put(
            CACHE_NAMESPACE, "ok", {"idTag": "OK", "idTagInfo": {"status": "Accepted"}, "seq": 2}
        )
        r = await rig(store=store)
        assert (r.local_list.version(), len(r.local_list)) == (0, 0)  # the CSMS resends it
        assert set(await store.load(CACHE_NAMESPACE)) == {"ok"}
        assert r.cache.peek("ok") == info()

    run(main)


def test_load_trims_an_oversized_cache() -> None:
    async def main() -> None:
        r = await rig()
        for tag in ("a", "b", "c"):
            await r.cache.put(tag, info())
        small = await rig(store=r.store, max_entries=2)
        assert set(await r.store.load(CACHE_NAMESPACE)) == {"b", "c"}
        assert small.cache.peek("a") is None

    run(main)


# -- cache expiry, bound, ClearCache --------------------------------------------------------------


def test_cache_entry_expires_with_the_clock_and_stays_expired() -> None:
    async def main() -> None:
        r = await rig(StaticAuthSettings(unknown_offline=True))
        await r.auth.update_from("A", info(expiry=LATER))
        assert (await r.cache.lookup("A")) == info(expiry=LATER)
        assert (await r.auth.authorize("A", online=False)).accepted
        r.clock.now = LATER  # at the expiryDate
        decision = await r.auth.authorize("A", online=False)
        assert (decision.accepted, decision.info.status) == (False, "Expired")
        stored = await r.store.load(CACHE_NAMESPACE)
        assert stored["a"]["idTagInfo"]["status"] == "Expired"  # changed in the cache (§3.5.1)
        r.clock.now = T0  # a clock set back does not revive it
        assert (await r.cache.lookup("A")) == info("Expired", expiry=LATER)

    run(main)


def test_full_cache_evicts_not_valid_entries_first_then_the_oldest() -> None:
    async def main() -> None:
        r = await rig(max_entries=3)
        await r.cache.put("old-valid", info())
        await r.cache.put("blocked", info("Blocked"))
        await r.cache.put("soon", info(expiry=LATER))
        await r.cache.put("d", info())
        assert r.cache.peek("blocked") is None  # NOT-valid goes first, though not the oldest
        r.clock.now = LATER
        await r.cache.put("e", info())
        assert r.cache.peek("soon") is None  # expired counts as NOT-valid
        await r.cache.put("old-valid", info())  # an update: no eviction, now the youngest
        assert len(r.cache) == 3
        await r.cache.put("f", info())
        assert r.cache.peek("d") is None  # then the oldest valid one
        assert set(await r.store.load(CACHE_NAMESPACE)) == {"e", "old-valid", "f"}
        await r.cache.put("f", info("Blocked"))  # an update of a full cache evicts nothing
        assert set(await r.store.load(CACHE_NAMESPACE)) == {"e", "old-valid", "f"}

    run(main)


def test_cache_size_must_be_positive() -> None:
    store = MemoryStateStore()
    with pytest.raises(ValueError, match="max_entries"):
        AuthorizationCache(store, StaticAuthSettings(), FakeClock(), max_entries=0)


def test_clear_cache() -> None:
    async def main() -> None:
        settings = StaticAuthSettings()
        r = await rig(settings)
        await r.auth.update_from("A", info())
        settings.cache_on = False
        assert (await r.cache.clear()).status == "Rejected"
        assert len(r.cache) == 1
        settings.cache_on = True
        assert (await r.cache.clear()).status == "Accepted"
        assert len(r.cache) == 0
        assert await r.store.load(CACHE_NAMESPACE) == {}
        r.csms.answers["A"] = info()
        await r.auth.authorize("A", online=True)  # TC_061: Authorize is sent again
        assert r.csms.calls == ["A"]

    run(main)


# -- stop by the same group -----------------------------------------------------------------------


def test_same_group() -> None:
    async def main() -> None:
        r = await rig()
        await r.local_list.apply(send_list(1, "Full", {"L1": info(parent="g"), "L2": info()}))
        await r.auth.update_from("C1", info(parent="G"))
        auth = r.auth
        assert auth.same_group("Tag", "tAG")
        assert auth.same_group("L1", "c1")  # list and cache parents, case-insensitive
        assert not auth.same_group("L2", "C1")  # L2 has no parent
        assert not auth.same_group("L2", "unknown")
        assert auth.same_group("x", "C1", parent_a="G")  # the stack knows x's parent
        assert not auth.same_group("x", "y")
        r.settings.cache_on = False  # disabled stores are not consulted
        assert not auth.same_group("L1", "C1")
        r.settings.cache_on, r.settings.list_on = True, False
        assert not auth.same_group("L1", "C1")

    run(main)
