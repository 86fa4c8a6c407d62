"""One run's session: its plan, state and target, and how a tick's outcome is committed and shown.

``commit`` is the one place state, decisions and the messages announcing them are written together.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from launchdeck.controller import evidence as bundles
from launchdeck.controller import outbox
from launchdeck.controller.clock import PlanClock
from launchdeck.controller.doorbell import Doorbell
from launchdeck.controller.messages import Dispatcher, iso
from launchdeck.controller.target import Target
from launchdeck.controller.warroom import WarRoom
from launchdeck.core.backoff import ChannelHealth
from launchdeck.core.engine import Decision
from launchdeck.core.policy import Policy
from launchdeck.core.state import ReleaseState
from launchdeck.plan import LoadedPlan, model
from launchdeck.runbook import waiting as wait
from launchdeck.store import leases
from launchdeck.store.leases import Lease
from launchdeck.store.repo import DEFAULT_URL, NewDecision, Store, StoredRelease, Tick


@dataclass(frozen=True)
class RunOptions:
    time_scale: float = 1.0
    db_url: str = DEFAULT_URL
    workdir: Path = Path(".")
    approvals: Path | None = None
    fresh: bool = False
    seed: int | None = None
    follow: bool = False
    """Stay on after promotion for the post-launch checkpoints."""
    start_at: datetime | None = None
    """The planned start (checklists are due relative to it); None: now."""


class View(Protocol):
    def note(self, text: str) -> None: ...
    def decision(self, d: Decision) -> None: ...
    def tick(self, snapshot: dict[str, Any]) -> None: ...


@dataclass
class Run:
    plan: LoadedPlan
    spec: model.ReleaseSpec
    policy: Policy
    opts: RunOptions
    store: Store
    release: StoredRelease
    state: ReleaseState
    meta: dict[str, Any]
    clock: PlanClock
    view: View
    target: Target | None = None
    dispatcher: Dispatcher | None = None
    delivery: asyncio.Task[Any] | None = None
    """The outbox delivery under way, if any (see ``deliver``)."""
    health: ChannelHealth = field(default_factory=ChannelHealth)
    """Which channels are failing and when each is tried again (in memory: a restart tries all)."""
    rng: random.Random = field(default_factory=random.Random)
    warroom: WarRoom = field(init=False)

    def __post_init__(self) -> None:
        self.warroom = WarRoom(self.spec, self.meta)
    last_eval_wall: float = 0.0
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: Any = None
    evidence_path: Path | None = None
    signoffs: frozenset[tuple[int, str]] = frozenset()
    """The valid stage sign-offs as of the last tick (0-based stage, role): what a sign-off still waits for."""
    lease: Lease | None = None
    """The lease this session drives under: every commit and every external effect is checked against it."""
    renewed_at: float = 0.0
    """``time.monotonic()`` of the lease's last renewal (each commit and fence renews it)."""
    effects: int = 0
    """External effects sent under this lease's epoch so far: the step number in their keys."""
    stop: asyncio.Event | None = None
    """Set by a worker stopping: the session ends after the current tick (``Stopped``)."""
    opener: Any = None
    """How the target is opened (``controller.target.open_target`` unless a caller gives another)."""
    saved_at: float = 0.0
    """``time.monotonic()`` of the last commit: a tick that changed nothing commits again only after a while."""
    shift: Any = None
    """The worker's ``controller.shift.Shift``, if any: it keeps the lease and watches the sign-offs."""
    looping: bool = False
    """In the tick loop: the plan time is the release's (a shift's heartbeat records it)."""
    people_mark: object = None
    """The watch's mark for this release when its sign-offs were last read."""
    outbox_gen: int = 0
    """How many commits of this session put messages in the outbox."""
    outbox_clean: int = -1
    """The ``outbox_gen`` at which a delivery pass left the outbox empty: until another commit adds
    messages there is nothing to send, and no tick needs to look (-1: not looked yet)."""
    loadtests: dict[int, asyncio.Task[Any]] = field(default_factory=dict)
    """Each stage's load test under way (``controller.loadtests``), by stage index."""
    bell: Doorbell = field(default_factory=Doorbell)
    """Rung to wake the release between ticks: people's input, the guard rails, its worker stopping."""


class Stopped(Exception):
    """A driving session ended early because its worker is stopping; the release goes on elsewhere."""


def commit(run: Run, state: ReleaseState, decisions: list[Decision], now: float,
           extra: list[NewDecision] | None = None) -> None:
    tick = _prepare(run, state, decisions, now, extra)
    _save(run.store, tick)
    _saved(run, bool(tick.messages))


async def commit_aside(run: Run, state: ReleaseState, decisions: list[Decision], now: float,
                       extra: list[NewDecision] | None = None) -> None:
    """``commit`` with the database's round trips off the event loop, so a worker's other releases tick
    meanwhile: in a worker, in the group commit its shift runs for all its releases (one transaction for
    the ticks committed meanwhile); in `launchdeck run`, on a thread. The session waits for it, as for
    ``commit``."""
    tick = _prepare(run, state, decisions, now, extra)
    if run.shift is not None:
        # An evaluation that announces nothing may wait a moment for other releases' commits to share its
        # transaction; anything else goes at once.
        routine = bool(decisions) and not extra and not tick.messages and all(d.kind == "evaluation" and not d.event
                                                                               for d in decisions)
        await run.shift.commits.save(tick, routine=routine)
    else:
        await asyncio.to_thread(_save, run.store, tick)
    _saved(run, bool(tick.messages))


def _save(store: Store, tick: Tick) -> None:
    store.save(release_id=tick.release_id, state=tick.state, plan_clock=tick.plan_clock, outcome=tick.outcome,
               decisions=tick.decisions, messages=tick.messages, lease=tick.lease)


def _prepare(run: Run, state: ReleaseState, decisions: list[Decision], now: float,
             extra: list[NewDecision] | None) -> Tick:
    """The tick's outcome applied to the session, and what the one transaction that records it writes."""
    run.state = state
    for d in decisions:
        if d.kind == "evaluation":
            run.verdicts = {v["gate"]: v for v in d.inputs.get("verdicts", [])}
        run.view.decision(d)
    assert run.dispatcher is not None
    asked = asking(run, now)  # once per commit: for the messages and for `status`
    announced = [d for d in decisions if d.event]  # most ticks announce nothing: no context to build
    messages = run.dispatcher.compose(announced, context(run, decisions, asked)) if announced else []
    if run.target is not None:
        requests, errors = run.target.totals("canary")
        carried = run.meta.get("carried", [0, 0])
        run.meta["totals"] = [carried[0] + requests, carried[1] + errors]
    run.meta["engine"] = state.to_json()
    run.meta["waiting"] = asked.state_json(run.release.name) if asked else None
    if state.phase == "done":
        # The wrap-up is owed from the outcome's commit on: readers (the API's event stream) tell a release
        # being wrapped up from one that finished before wrap-ups were recorded, which has no record at all.
        run.meta.setdefault("wrapup", {"done": False})
    rows = [NewDecision(d.at, d.kind, d.reason, d.gate, d.inputs) for d in decisions] + (extra or [])
    return Tick(run.release.id, dict(run.meta), now, state.outcome if state.phase == "done" else None, rows,
                messages, run.lease)


def _saved(run: Run, messages: bool) -> None:
    run.renewed_at = run.saved_at = time.monotonic()
    if messages:
        run.outbox_gen += 1


def beat(run: Run, now: float) -> None:
    """A tick that changed nothing, long after the last commit: renew the lease and keep the plan time
    (where a resumed run goes on from), without writing the unchanged state again."""
    if run.lease is None:
        commit(run, run.state, [], now)
        return
    leases.renew(run.store, run.lease, plan_clock=now)
    run.renewed_at = run.saved_at = time.monotonic()


def beat_every(run: Run) -> float | None:
    """Wall seconds after which a tick that changed nothing records the plan time anyway (``session.beat``):
    the saved plan time, where a resumed run goes on from, stays within half an evaluation interval, and
    the lease is renewed well before it runs out. None: the worker's shift does it often enough for all
    its releases at once. A tick that changed something always commits."""
    every = run.policy.analysis.interval / 2 / run.opts.time_scale
    if run.shift is not None:
        return every if every < run.shift.every else None
    return min(every, run.lease.seconds / 3) if run.lease is not None else every


async def fence_aside(run: Run, step: str) -> None:
    """``fence`` with its round trip on a thread, so a worker's other releases tick meanwhile (a worker
    starting a thousand releases fences a router write for each). The effect is sent only after it."""
    await asyncio.to_thread(fence, run, step)


def fence(run: Run, step: str) -> None:
    """Before an external effect: check the lease still holds, renew it and record the effect's key
    (``release:epoch:n:step``); raises ``LeaseLost`` and the effect is never sent."""
    if run.lease is None:
        return
    run.effects += 1
    leases.fence(run.store, run.lease, f"{run.effects}:{step}")
    run.renewed_at = time.monotonic()


@dataclass(frozen=True)
class Asking:
    """What the release waits for from people at this commit, with its deadline in wall-clock time."""

    waiting: wait.Waiting
    deadline_wall: float | None
    wall_now: float

    def state_json(self, release: str) -> dict[str, Any]:
        """Kept in the release state, so `launchdeck status` shows it from the store."""
        data = self.waiting.to_json(release)
        if self.deadline_wall is not None:
            data["deadlineAt"] = iso(self.deadline_wall)
        return data

    def message_context(self, release: str) -> dict[str, Any]:
        """The message context's command, default, deadline and time left."""
        out: dict[str, Any] = {"command": self.waiting.command(release)}
        if self.waiting.kind != "decision":
            out["default"] = "hold"  # a sign-off or a hold not answered in time ends the run held
        if self.deadline_wall is not None:
            out["deadline"] = wait.clock_time(self.deadline_wall, self.wall_now)
            out["deadline_in"] = max(0.0, self.deadline_wall - self.wall_now)
        return out


def asking(run: Run, now: float, wall_now: float | None = None) -> Asking | None:
    w = wait.waiting_for(run.policy, run.state, now, run.signoffs)
    if w is None:
        return None
    wall_now = time.time() if wall_now is None else wall_now
    deadline = None if w.deadline is None else wait.to_wall(w.deadline, now=now, time_scale=run.clock.scale,
                                                            wall_now=wall_now)
    return Asking(w, deadline, wall_now)


def context(run: Run, decisions: list[Decision], asked: Asking | None = None) -> dict[str, Any]:
    md, s = run.plan.doc.metadata, run.state
    gate_name = next((d.gate for d in decisions if d.gate), None) or s.fired_gate
    gate = None
    spec_gate = next((g for g in run.policy.gates if g.name == gate_name), None)
    if spec_gate is not None:
        v = run.verdicts.get(spec_gate.name, {})
        level = next((d.inputs["level"] for d in decisions if "level" in d.inputs), None)
        gate = {"name": spec_gate.name, "metric": spec_gate.metric, "severity": level or spec_gate.severity,
                "value": v.get("canary"), "threshold": v.get("limit", spec_gate.threshold_text),
                "baseline": v.get("baseline")}
    return {"release": run.release.name, "tenant": md.tenant, "service": md.service, "version": md.version,
            "previous_version": md.previous_version, "stage": s.stage + 1, "stages": len(run.policy.stages),
            "weight": s.weight, "outcome": s.outcome if s.phase == "done" else None, "gate": gate,
            "numbers": dict(run.numbers), "at": iso(), "started_at": run.meta.get("startedAt"),
            "evidence": str(run.evidence_path) if run.evidence_path else None,
            **(asked.message_context(run.release.name) if asked else {})}


async def deliver(run: Run) -> None:
    """Send what the outbox holds, in the background: a slow or dead channel (a Slack webhook that
    hangs for its whole timeout) must never hold up the tick, and above all not a rollback. One
    delivery runs at a time, oldest message first; a message committed meanwhile goes with the next
    one, and a failing channel waits for its backoff (``controller.outbox``). ``flush`` waits for
    them before the run ends. Once a pass left the outbox empty, nothing is looked up until a commit
    adds messages again (only this session adds them while it holds the lease)."""
    if run.outbox_clean == run.outbox_gen:
        return
    if run.delivery is None or run.delivery.done():
        if run.delivery is not None:
            run.delivery.result()  # a delivery that crashed is a fault, not something to drop silently
        run.delivery = asyncio.create_task(_deliver(run))


#: Before a run ends, channels with messages left get this long (seconds) to take them.
FINAL_GRACE_S = 8.0
#: How soon to look again when another process (`messages flush`) holds the outbox.
BUSY_RETRY_S = 0.25


async def flush(run: Run) -> None:
    """Before the run ends: wait for the delivery under way, give every channel with messages left
    one more attempt, then retry per its backoff for up to ``FINAL_GRACE_S`` (a receiver that is
    restarting gets a chance to come back). What is still refused is said once, stays in the outbox
    with its last error, and is counted in the summary's ``undelivered``; `launchdeck messages flush`
    delivers it later."""
    if run.delivery is not None:
        await run.delivery
        run.delivery = None
    deadline = time.monotonic() + FINAL_GRACE_S
    done = await _deliver(run, retry_all=True)
    while left := _undelivered_channels(run):
        retry_at = time.monotonic() + BUSY_RETRY_S if done.busy else run.health.earliest_retry(left)
        if retry_at is None or retry_at > deadline:
            break
        await asyncio.sleep(max(0.0, retry_at - time.monotonic()))
        done = await _deliver(run)
    left_over = outbox.undelivered(run.store, run.release.id)
    if left_over["count"]:
        run.view.note(f"{left_over['count']} message(s) are still undelivered (channels: "
                      f"{', '.join(left_over['channels'])}); they stay in the release's outbox with their last "
                      f"error: deliver them with `launchdeck messages flush {run.release.name}`")


def _undelivered_channels(run: Run) -> set[str]:
    assert run.dispatcher is not None
    return {row.channel for row in run.store.pending_messages(release_id=run.release.id)
            if row.channel in run.dispatcher.channels}


async def _deliver(run: Run, retry_all: bool = False) -> outbox.DeliveryPass:
    assert run.dispatcher is not None
    gen = run.outbox_gen
    done = await outbox.deliver(store=run.store, release_id=run.release.id, release_name=run.release.name,
                                channels=run.dispatcher.channels, secrets=run.dispatcher.secrets,
                                health=run.health, rng=run.rng, retry_all=retry_all)
    for line in done.notes:
        run.view.note(line)
    if done.left == 0:
        run.outbox_clean = gen
    return done


def write_evidence(run: Run, label: str | None) -> Path:
    release = replace(run.release, state=run.meta)
    path = bundles.write(store=run.store, release=release, key=run.key,
                         directory=run.opts.workdir / run.spec.evidence.dir, label=label,
                         summary=summary(run, with_evidence=False), checks=run.meta.get("checks", []),
                         secrets=run.dispatcher.secrets if run.dispatcher else [])
    run.view.note(f"evidence written: {path}")
    return path


def status_line(run: Run, state: ReleaseState, now: float) -> str:
    stage = run.policy.stages[min(state.stage, len(run.policy.stages) - 1)]
    gates = ", ".join(f"{n} {t.status}" for n, t in state.gates.items()) or "no gates evaluated yet"
    left = max(0.0, stage.hold - (now - state.stage_started_at))
    if state.phase == "deciding" and state.window:
        nxt = f"waiting for a decision on {state.window.gate}"
    elif state.stage + 1 < len(run.policy.stages):
        nxt = f"next: stage {state.stage + 2} at {run.policy.stages[state.stage + 1].weight:g}% in {left:.0f}s at the earliest"
    else:
        nxt = f"next: promotion in {left:.0f}s at the earliest"
    return f"stage {state.stage + 1}/{len(run.policy.stages)} at {state.weight:g}%; gates: {gates}; {nxt}"


def snapshot(run: Run, now: float) -> dict[str, Any]:
    s = run.state
    stage = run.policy.stages[min(s.stage, len(run.policy.stages) - 1)]
    return {"release": run.release.name, "phase": s.phase, "stage": s.stage + 1, "stages": len(run.policy.stages),
            "weight": s.weight, "hold": stage.hold, "inStage": max(0.0, now - s.stage_started_at),
            "numbers": dict(run.numbers), "gates": {n: t.status for n, t in s.gates.items()},
            "verdicts": dict(run.verdicts), "window": s.window, "outcome": s.outcome, "now": now,
            "timeScale": run.clock.scale, "holdLeft": wait.hold_left(run.policy, s, now),
            "waiting": wait.waiting_for(run.policy, s, now, run.signoffs), "reason": s.reason}


def summary(run: Run, with_evidence: bool = True) -> dict[str, Any]:
    """The run's summary object; ``with_evidence=False`` is the copy inside a bundle, which is
    written before the last messages go, so it has neither the bundle's path nor ``undelivered``."""
    s = run.state
    info = run.meta.get("rollback", {})
    detected = None
    if s.outcome == "rolled_back" and info.get("decidedAt") is not None:
        onset = run.target.first_fault_from if run.target and run.target.first_fault_from is not None else 0.0
        detected = round(max(0.0, info["decidedAt"] - onset) / run.opts.time_scale, 3)
    totals = run.meta.get("totals", [0, 0])
    evidence = run.evidence_path or (run.opts.workdir / run.spec.evidence.dir / bundles.file_name(run.release, None))
    return {"release": run.release.name, "outcome": s.outcome, "finalWeight": s.weight,
            "stagesPassed": s.stages_passed, "firedGate": s.fired_gate, "detectedAfterSeconds": detected,
            "rollbackSeconds": info.get("seconds"), "canaryRequests": totals[0], "canaryErrors": totals[1],
            "evidence": str(evidence) if with_evidence else None, "reason": s.reason,
            **({"checkpoints": run.meta["checkpoints"]} if run.meta.get("checkpoints") else {}),
            **({"undelivered": outbox.undelivered(run.store, run.release.id)} if with_evidence else {})}
