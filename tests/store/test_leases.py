"""Leases: one driver per release, taken over when it expires or dies, and fenced by its epoch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from launchdeck.errors import LeaseLost
from launchdeck.store import leases
from launchdeck.store.repo import NewDecision, NewMessage, Store, StoredRelease, Tick
from launchdeck.store.tables import ReleaseRow

STATE = {"engine": {"phase": "stage", "weight": 5.0}}


def _submitted(store: Store, name: str = "checkout-v2") -> StoredRelease:
    release = store.create(tenant="shop", name=name, plan_path="plan.yaml", plan_digest="sha256:00", state=STATE)
    store.submit(release_id=release.id, submitted_by="rm", plan_text="kind: Release")
    return release


def _expire(store: Store, release_id: int) -> None:
    with store.session() as s:
        s.execute(update(ReleaseRow).where(ReleaseRow.id == release_id)
                  .values(lease_until=leases.now_utc() - timedelta(seconds=1)))


def _save(store: Store, release_id: int, lease: leases.Lease | None, kind: str = "tick") -> None:
    store.save(release_id=release_id, state=STATE, plan_clock=1.0, outcome=None,
               decisions=[NewDecision(1.0, kind, kind, None, {})],
               messages=[NewMessage("ops", "stage", "t", "x", "en")], lease=lease)


def test_a_live_lease_is_not_taken_and_its_holder_keeps_it(store: Store) -> None:
    release = _submitted(store)
    first = leases.claim(store, release.id, "w1", 15)
    assert first is not None and first.epoch == 1
    assert leases.claim(store, release.id, "w2", 15) is None
    again = leases.claim(store, release.id, "w1", 15)
    assert again == first  # renewed, same epoch
    assert leases.holder(store, release.id).holder == "w1"


def test_an_expired_lease_is_taken_over_with_a_new_epoch_and_the_old_holder_can_write_nothing(store: Store) -> None:
    release = _submitted(store)
    old = leases.claim(store, release.id, "w1", 15)
    assert old is not None
    _expire(store, release.id)
    new = leases.claim(store, release.id, "w2", 15)
    assert new is not None and new.epoch == old.epoch + 1

    with pytest.raises(LeaseLost, match="held by w2"):
        _save(store, release.id, old, "stale")
    with pytest.raises(LeaseLost):
        leases.fence(store, old, "set-weight-1")
    _save(store, release.id, new, "fresh")
    assert [d.kind for d in store.decisions(release_id=release.id)] == ["fresh"]
    assert [m.epoch for m in store.messages(release_id=release.id)] == [new.epoch]
    assert leases.effects(store, release.id) == []


def test_a_holder_known_dead_is_taken_over_before_its_lease_expires(store: Store) -> None:
    release = _submitted(store)
    assert leases.claim(store, release.id, "host/1/a", 15) is not None
    assert leases.claim(store, release.id, "host/2/b", 15, dead=lambda h: False) is None
    taken = leases.claim(store, release.id, "host/2/b", 15, dead=lambda h: h == "host/1/a")
    assert taken is not None and taken.epoch == 2


def test_a_fence_records_the_effect_under_release_epoch_and_step(store: Store) -> None:
    release = _submitted(store)
    lease = leases.claim(store, release.id, "w1", 15)
    assert lease is not None
    leases.fence(store, lease, "1:set-weight:5")
    leases.fence(store, lease, "2:set-weight:25")
    assert [e.key for e in leases.effects(store, release.id)] == [f"{release.id}:1:1:set-weight:5",
                                                                  f"{release.id}:1:2:set-weight:25"]


def test_a_released_lease_is_free_at_once_and_a_lost_one_is_left_alone(store: Store) -> None:
    release = _submitted(store)
    lease = leases.claim(store, release.id, "w1", 15)
    assert lease is not None
    leases.let_go(store, lease)
    assert not leases.holder(store, release.id).live()
    taken = leases.claim(store, release.id, "w2", 15)
    assert taken is not None
    leases.let_go(store, lease)  # w1's old lease: w2 keeps the release
    assert leases.holder(store, release.id).holder == "w2"


def test_only_submitted_unfinished_releases_with_a_free_lease_are_due(store: Store) -> None:
    due = _submitted(store, "due")
    store.create(tenant="shop", name="prepared-only", plan_path="p", plan_digest="d", state=STATE)
    finished = _submitted(store, "finished")
    store.save(release_id=finished.id, state=STATE, plan_clock=1.0, outcome="promoted", decisions=[], messages=[])
    held = _submitted(store, "driven")
    assert leases.claim(store, held.id, "cli", 15) is not None
    cut_short = _submitted(store, "wrap-up cut short")  # its driver died after the outcome, holding the lease
    died = leases.claim(store, cut_short.id, "dead", 15)
    store.save(release_id=cut_short.id, state=STATE, plan_clock=1.0, outcome="promoted", decisions=[], messages=[],
               lease=died)
    _expire(store, cut_short.id)

    claimed = leases.claim_due(store, "w1", 15, limit=10)
    assert sorted(c.release_id for c in claimed) == [due.id, cut_short.id]
    assert leases.claim_due(store, "w2", 15, limit=10) == []


def test_workers_claiming_at_once_never_share_a_release(open_store: Callable[[], Store]) -> None:
    setup = open_store()
    ids = {_submitted(setup, f"r{i}").id for i in range(30)}
    stores = [open_store() for _ in range(3)]
    got: dict[str, list[int]] = {}
    start = threading.Barrier(3)

    def worker(name: str, store: Store) -> None:
        start.wait()
        mine: list[int] = []
        while batch := leases.claim_due(store, name, 15, limit=4):
            mine += [lease.release_id for lease in batch]
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}", s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [r for mine in got.values() for r in mine]
    assert sorted(claimed) == sorted(ids)  # every release once, none twice


def test_claims_take_turns_across_tenants_so_a_flood_does_not_starve_another(store: Store) -> None:
    flood = [_submitted(store, f"flood-{i}").id for i in range(300)]
    calm = store.create(tenant="calm", name="calm-1", plan_path="p", plan_digest="d", state=STATE)
    store.submit(release_id=calm.id, submitted_by="kim", plan_text="x")
    first = leases.claim_due(store, "w1", 15, limit=10)
    claimed = [c.release_id for c in first]
    assert calm.id in claimed and len(claimed) == 10
    assert [r for r in claimed if r != calm.id] == flood[:9]  # the flood's own in their order


def test_a_group_commit_saves_each_release_whose_lease_holds_and_refuses_only_the_lost_one(store: Store) -> None:
    kept, lost = _submitted(store, "cart-v2"), _submitted(store, "search-v2")
    kept_lease, old = leases.claim(store, kept.id, "w1", 15), leases.claim(store, lost.id, "w1", 15)
    assert kept_lease is not None and old is not None
    _save(store, kept.id, kept_lease, "first")
    _expire(store, lost.id)
    assert leases.claim(store, lost.id, "w2", 15) is not None

    def tick(release_id: int, lease: leases.Lease, kind: str) -> Tick:
        return Tick(release_id, STATE, 2.0, None, [NewDecision(2.0, kind, kind, None, {}),
                                                   NewDecision(2.0, f"{kind}-2", kind, None, {})],
                    [NewMessage("ops", "stage", "t", "x", "en")], lease)

    errors = store.save_many([tick(lost.id, old, "stale"), tick(kept.id, kept_lease, "second")])
    assert isinstance(errors[0], LeaseLost) and "held by w2" in errors[0].message
    assert errors[1] is None
    assert [d.kind for d in store.decisions(release_id=kept.id)] == ["first", "second", "second-2"]
    assert store.verify_chain(release_id=kept.id) is None  # the batch went on from the chain's last decision
    assert store.decisions(release_id=lost.id) == [] and store.messages(release_id=lost.id) == []
    assert len(store.messages(release_id=kept.id)) == 2


def test_a_group_commit_writes_each_release_its_own_state_and_a_tick_without_a_lease_whatever_the_lease(
        store: Store) -> None:
    leased, unleased, other = (_submitted(store, n) for n in ("cart-v2", "search-v2", "auth-v2"))
    lease = leases.claim(store, leased.id, "w1", 15)
    assert lease is not None and leases.claim(store, unleased.id, "w2", 15) is not None
    states = {rid: {"engine": {"phase": "stage", "weight": w}, "odd": [-0.0, 1e300]}
              for rid, w in ((leased.id, 10.0), (unleased.id, 20.0), (other.id, 30.0))}
    errors = store.save_many([Tick(other.id, states[other.id], 3.0, None, [], []),
                              Tick(leased.id, states[leased.id], 1.0, None, [], [], lease),
                              Tick(unleased.id, states[unleased.id], 2.0, "promoted", [], [])])
    assert errors == [None, None, None]
    for rid, clock in ((leased.id, 1.0), (unleased.id, 2.0), (other.id, 3.0)):
        saved = store.find_id(rid)
        assert saved.state == states[rid] and str(saved.state["odd"][0]) == "-0.0" and saved.plan_clock == clock
    assert store.find_id(unleased.id).outcome == "promoted" and store.find_id(unleased.id).lease_holder == "w2"


def test_renewing_many_leases_extends_the_held_ones_records_plan_time_and_leaves_a_lost_one(store: Store) -> None:
    held, lost = _submitted(store, "cart-v2"), _submitted(store, "search-v2")
    lease, old = leases.claim(store, held.id, "w1", 15), leases.claim(store, lost.id, "w1", 15)
    assert lease is not None and old is not None
    _expire(store, held.id)  # renewing brings it back to life: nobody took it meanwhile
    _expire(store, lost.id)
    taken = leases.claim(store, lost.id, "w2", 15)
    assert taken is not None
    leases.renew_many(store, [(old, 99.0), (lease, 42.0)])
    now = leases.now_utc()
    mine = store.find_id(held.id)
    assert mine.lease_until is not None and mine.lease_until > now + timedelta(seconds=10)
    assert mine.plan_clock == 42.0
    theirs = store.find_id(lost.id)
    assert theirs.lease_holder == "w2" and theirs.plan_clock == 0.0
    leases.renew_many(store, [(lease, None)])  # no plan time: the recorded one stays
    assert store.find_id(held.id).plan_clock == 42.0
