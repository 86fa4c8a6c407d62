"""The release's decision engine: ``decide(policy, state, now, inputs)`` → new state, decisions, actions.

Pure: ``now`` is plan time in seconds since the release started; observations, sign-offs and
people's decisions come in as values; everything to be done goes out as values. The controller
performs the actions and persists the new state together with the decisions.

Order of precedence within one tick: kill switch, failed smoke test, a person's decision, a pause
or resume, the evaluation (an immediate gate rolls back even while a decision window is open), an expiring
decision window, an expiring hold, and last the stage's progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from launchdeck.core import comparison, gating
from launchdeck.core.observation import LoadTestResult, WindowStats
from launchdeck.core.policy import DecisionPolicy, Gate, Policy
from launchdeck.core.state import DecisionWindow, GateTrack, ReleaseState
from launchdeck.core.verdict import Verdict
from launchdeck.runbook import roles


@dataclass(frozen=True)
class Observations:
    """What the metrics source saw: the analysis window and the slice since the last evaluation; with
    ``analysis.baseline: same-age``, the same-age baseline's too."""

    canary: WindowStats
    stable: WindowStats
    canary_slice: WindowStats
    stable_slice: WindowStats
    baseline: WindowStats | None = None
    baseline_slice: WindowStats | None = None
    loadtest: LoadTestResult | None = None
    """The current stage's load test (None: the stage runs none), for `source: loadtest` gates."""


@dataclass(frozen=True)
class PersonDecision:
    who: str
    role: str
    choice: str
    """``rollback`` or ``continue``."""
    reason: str = ""


@dataclass(frozen=True)
class Inputs:
    observations: Observations | None = None
    signoffs: frozenset[tuple[int, str]] = frozenset()
    """Valid stage sign-offs so far, as (stage index, role)."""
    decision: PersonDecision | None = None
    kill: PersonDecision | None = None
    smoke_failure: str | None = None
    pause: PersonDecision | None = None
    """``launchdeck pause``: keep the weight, with no time limit, until someone resumes."""
    resume: PersonDecision | None = None
    guard_hold: str | None = None
    """The tenant's guard rails hold the release at its weight (an enforced pause, an emergency override),
    for this reason; None lifts a hold the guard set. People can still act."""
    guard_shrink: bool = False
    """The guard shrinks the canary back to its first stage's weight (and holds it there)."""


@dataclass(frozen=True)
class Decision:
    """One recorded decision: what was decided, why, and the inputs it was decided on."""

    at: float
    kind: str
    reason: str
    event: str | None = None
    """The notification event this decision announces, if any."""
    gate: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SetWeight:
    weight: float


@dataclass(frozen=True)
class StartRollback:
    reason: str


@dataclass(frozen=True)
class WriteEvidence:
    label: str


Action = SetWeight | StartRollback | WriteEvidence


@dataclass(frozen=True)
class Step:
    state: ReleaseState
    decisions: tuple[Decision, ...] = ()
    actions: tuple[Action, ...] = ()


def evaluation_due(policy: Policy, state: ReleaseState, now: float) -> bool:
    due = next_evaluation_at(policy, state)
    return due is not None and now >= due


def next_evaluation_at(policy: Policy, state: ReleaseState) -> float | None:
    """The plan time the next evaluation is due at (None: the release is not being judged now)."""
    if state.phase not in ("stage", "deciding", "held"):
        return None
    last = state.last_eval_at if state.last_eval_at is not None else state.stage_started_at
    return last + policy.analysis.interval


def decide(policy: Policy, state: ReleaseState, now: float, inputs: Inputs = Inputs()) -> Step:
    b = _Builder(policy, state, now)
    if state.phase in ("done", "rolling_back"):
        return b.step()
    if state.phase == "starting":
        b.start_stage(0)
        return b.step()
    if inputs.kill:
        b.rollback(f"kill switch pulled by {inputs.kill.who} ({inputs.kill.role})"
                   + (f": {inputs.kill.reason}" if inputs.kill.reason else ""), gate="kill-switch")
        return b.step()
    if inputs.smoke_failure:
        b.rollback(f"smoke test failed: {inputs.smoke_failure}", gate="smoke")
        return b.step()
    if inputs.decision and b.person_decides(inputs.decision):
        return b.step()
    if inputs.pause:
        b.pause(inputs.pause)
    if inputs.resume:
        b.unpause(inputs.resume)
    b.guard(inputs.guard_hold, shrink=inputs.guard_shrink)
    if inputs.observations is not None:
        b.evaluate(inputs.observations)
        if b.state.phase == "rolling_back":
            return b.step()
    b.expire_window()
    b.expire_hold()
    if b.state.phase == "stage":
        b.progress(inputs.signoffs)
    return b.step()


def reopen_held(state: ReleaseState, now: float) -> Step:
    """A release that ended ``held`` is run again: it is held once more, live, for a person to decide.

    The weight it was held at is kept; a decision recorded meanwhile (``approve --decision``,
    ``resume``) is taken at the next tick. Nothing already done (a soak, passed stages) is repeated.
    """
    assert state.phase == "done" and state.outcome == "held", state
    held = replace(state, phase="held", outcome=None, held_since=now, window=None, reason="")
    return Step(held, (Decision(now, "release.reopened", f"run again while held at {state.weight:g}% "
                                f"({state.reason}); waiting for a person to continue or roll back",
                                "hold.started", state.fired_gate, {"weight": state.weight}),))


def rollback_completed(state: ReleaseState, now: float, reason: str) -> Step:
    """The controller finished every rollback step and the router reports weight 0."""
    done = replace(state, phase="done", outcome="rolled_back", weight=0.0, rolled_back_at=now)
    return Step(done, (Decision(now, "rollback.completed", reason, "rollback.completed", state.fired_gate),
                       Decision(now, "release.rolled_back", f"release rolled back: {state.reason}",
                                "release.completed", state.fired_gate, {"outcome": "rolled_back"})))


GUARD_HOLD = "the tenant's guard rails"


class _Builder:
    """Accumulates one tick's state changes, decisions and actions."""

    def __init__(self, policy: Policy, state: ReleaseState, now: float) -> None:
        self.policy, self.state, self.now = policy, state, now
        self.decisions: list[Decision] = []
        self.actions: list[Action] = []

    def step(self) -> Step:
        return Step(self.state, tuple(self.decisions), tuple(self.actions))

    def record(self, kind: str, reason: str, *, event: str | None = None, gate: str | None = None,
               **inputs: Any) -> None:
        self.decisions.append(Decision(self.now, kind, reason, event, gate, inputs))

    # -- stages -----------------------------------------------------------------------------
    def start_stage(self, index: int) -> None:
        stage = self.policy.stages[index]
        self.state = replace(self.state, phase="stage", stage=index, stage_started_at=self.now,
                             weight=stage.weight, conclusive_in_stage=False, approval_requested=False,
                             last_eval_at=self.now, stable_in_stage=None, same_age_in_stage=None)
        self.actions.append(SetWeight(stage.weight))
        self.record("stage.started", f"stage {index + 1}/{len(self.policy.stages)}: canary to "
                    f"{stage.weight:g}% for at least {stage.hold:g}s of plan time",
                    event="stage.started", stage=index + 1, weight=stage.weight, hold=stage.hold)

    def progress(self, signoffs: frozenset[tuple[int, str]]) -> None:
        s, stage = self.state, self.policy.stages[self.state.stage]
        if s.paused_by or self.now - s.stage_started_at < stage.hold or not s.conclusive_in_stage:
            return
        if s.inconclusive_streak or any(t.status == "breach" for t in s.gates.values()):
            return
        missing = [r for r in stage.approve if (s.stage, r) not in signoffs]
        if missing:
            if not s.approval_requested:
                self.state = replace(s, approval_requested=True)
                self.record("approval.requested", f"stage {s.stage + 1} is healthy and waits for sign-off "
                            f"from {', '.join(missing)}", event="approval.requested", roles=missing,
                            stage=s.stage + 1)
            elif self.now - max(s.stage_started_at + stage.hold, s.resumed_at or 0.0) >= self.policy.analysis.hold_timeout:
                self.finish("held", f"nobody signed off stage {s.stage + 1} ({', '.join(missing)}) "
                            f"within the hold timeout")
            return
        signed = [r for r in stage.approve]
        self.record("stage.passed", f"stage {s.stage + 1} passed: held {self.now - s.stage_started_at:g}s, "
                    f"every gate within limits" + (f", signed by {', '.join(signed)}" if signed else ""),
                    event="stage.passed", stage=s.stage + 1, weight=stage.weight, held=self.now - s.stage_started_at,
                    roles=signed, gates={n: t.status for n, t in s.gates.items()})
        self.state = replace(self.state, stages_passed=s.stage + 1)
        self.actions.append(WriteEvidence(f"stage-{s.stage + 1}"))
        if s.stage + 1 < len(self.policy.stages):
            self.start_stage(s.stage + 1)
            return
        if stage.weight < 100:
            self.actions.append(SetWeight(100.0))
            self.state = replace(self.state, weight=100.0)
        self.finish("promoted", f"all {len(self.policy.stages)} stages passed; canary serves 100%")

    def finish(self, outcome: str, reason: str) -> None:
        self.state = replace(self.state, phase="done", outcome=outcome, reason=reason, window=None)
        self.record(f"release.{outcome}", reason, event="release.completed", outcome=outcome)

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, obs: Observations) -> None:
        policy, s = self.policy, self.state
        a = policy.analysis
        # The sequential plug-in's recent sums are halved every analysis window of plan time.
        since_last = self.now - s.last_eval_at if s.last_eval_at is not None else 0.0
        forget = 0.5 ** (since_last / a.window) if a.window > 0 else 1.0
        s, sides = comparison.observe(policy, s, obs.stable, obs.stable_slice, obs.baseline, obs.baseline_slice)
        canary_total = s.canary_total + obs.canary_slice.requests
        verdicts: list[Verdict] = []
        warming: set[str] = set()
        fired: list[Gate] = []
        gates = dict(s.gates)  # each gate's new track, put in the state at once with the rest below
        ctx = gating.Context(a, self.now, forget, sides, canary_total)
        for gate in policy.gates:
            v, track, waiting = gating.judge(gate, s.gates.get(gate.name, GateTrack()), obs, ctx)
            if v is None:
                continue
            if waiting:
                warming.add(gate.name)
            verdicts.append(v)
            track = self._track(gate, track, v)
            if track.status == "fired" and s.gates.get(gate.name, GateTrack()).status != "fired":
                fired.append(gate)
            gates[gate.name] = track
        # A waiting gate (warming up, its load test running) keeps the stage from passing but is not "too
        # little data": it neither counts toward the inconclusive streak nor leads to a hold.
        enough_data = all(v.status != "inconclusive" for v in verdicts if v.gate not in warming)
        conclusive = enough_data and not warming
        since = None if enough_data else (s.inconclusive_since if s.inconclusive_since is not None else self.now)
        s = replace(s, last_eval_at=self.now, canary_total=canary_total, gates=gates,
                    inconclusive_streak=0 if enough_data else s.inconclusive_streak + 1,
                    inconclusive_since=since, conclusive_in_stage=s.conclusive_in_stage or conclusive)
        self.state = s
        self.record("evaluation", "; ".join(v.reason for v in verdicts) or "no gates",
                    window=a.window, canary=obs.canary.to_json(), stable=obs.stable.to_json(),
                    **({"baseline": obs.baseline.to_json()} if obs.baseline is not None else {}),
                    verdicts=[v.to_json() for v in verdicts], rule="gates evaluated over the window")
        for gate in sorted(fired, key=lambda g: ("immediate", "urgent", "conditional").index(g.severity)):
            self.gate_fired(gate, s.gates[gate.name].reason)
            if self.state.phase == "rolling_back":
                return
        # maxInconclusive counts windows of plan time, not evaluations: with a 1m interval and a 5m
        # window, three inconclusive windows are 15 minutes without enough data.
        if (self.state.phase == "stage" and since is not None
                and self.now - since >= a.max_inconclusive * a.window):
            self.state = replace(self.state, phase="held", held_since=self.now)
            self.record("hold.started", f"{a.max_inconclusive} windows ({self.now - since:g}s) without enough "
                        f"data; canary held at {s.weight:g}%, a person must continue or roll back "
                        f"(run ends held in {a.hold_timeout:g}s)", event="hold.started",
                        streak=s.inconclusive_streak)

    def _track(self, gate: Gate, track: GateTrack, v: Verdict) -> GateTrack:
        if track.status == "fired":
            return replace(track, reason=v.reason)
        if v.status == "inconclusive":
            # Too little data neither confirms nor ends a breach.
            return replace(track, reason=v.reason)
        if v.status == "pass":
            return replace(track, breach_since=None, status="pass", reason=v.reason)
        since = track.breach_since if track.breach_since is not None else self.now
        lasted = self.now - since
        if gate.for_seconds is None or lasted >= gate.for_seconds:
            held = f" for {lasted:g}s (for: {gate.for_seconds:g}s)" if gate.for_seconds else ""
            return replace(track, breach_since=since, status="fired", reason=v.reason + held)
        return replace(track, breach_since=since, status="breach",
                       reason=v.reason + f" (breaching for {lasted:g}s of {gate.for_seconds:g}s)")

    def gate_fired(self, gate: Gate, reason: str) -> None:
        self.record("gate.fired", f"{gate.severity} gate {gate.name} fired: {reason}", event="gate.fired",
                    gate=gate.name, severity=gate.severity)
        decision = self.policy.decision_policy(gate.severity)
        if self.policy.rollback_authority is not None:
            decision = DecisionPolicy(self.policy.analysis.hold_timeout, self.policy.rollback_authority, "hold")
        elif gate.severity == "immediate" or decision is None:
            if self.policy.auto_rollback or decision is None:
                self.rollback(reason, gate=gate.name)
            return
        if self.state.window is not None:
            return
        window = DecisionWindow(gate.name, gate.severity, self.now, self.now + decision.window,
                                decision.default, decision.authority, reason)
        self.state = replace(self.state, phase="deciding", window=window)
        self.record("decision.requested", f"{gate.severity} gate {gate.name} fired; "
                    f"{' or '.join(decision.authority)} must decide to continue or roll back within "
                    f"{decision.window:g}s, else '{decision.default}'; canary frozen at {self.state.weight:g}%",
                    event="decision.requested", gate=gate.name, roles=list(decision.authority),
                    default=decision.default, closes_at=window.closes_at)

    def rollback(self, reason: str, *, gate: str) -> None:
        self.state = replace(self.state, phase="rolling_back", outcome="rolled_back", fired_gate=gate,
                             reason=reason, window=None)
        self.actions.append(StartRollback(reason))
        self.record("rollback.started", f"rolling back: {reason}", event="rollback.started", gate=gate)

    # -- people -------------------------------------------------------------------------------
    def person_decides(self, d: PersonDecision) -> bool:
        s = self.state
        if s.phase == "deciding" and s.window:
            allowed, subject = s.window.authority, f"gate {s.window.gate}"
        elif s.phase == "held":
            allowed, subject = tuple(self.policy.roles), "the held release"
        else:
            self.record("decision.ignored", f"{d.who} ({d.role}) chose {d.choice}, but nothing is waiting "
                        "for a decision", who=d.who, role=d.role)
            return False
        refused = roles.refusal(self.policy.roles, d.who, d.role) or (
            None if d.role in allowed else f"role '{d.role}' may not decide on {subject} "
            f"(authority: {', '.join(allowed)})")
        if refused:
            self.record("decision.refused", f"decision by {d.who} refused: {refused}", who=d.who, role=d.role)
            return False
        why = f"{d.who} ({d.role}) chose {d.choice} on {subject}" + (f": {d.reason}" if d.reason else "")
        self.record("decision.taken", why, who=d.who, role=d.role, choice=d.choice)
        if d.choice == "rollback":
            self.state = replace(self.state, fired_gate=s.window.gate if s.window else s.fired_gate)
            self.rollback(why, gate=s.window.gate if s.window else "held")
            return True
        self._resume(s.window.gate if s.window else s.fired_gate)
        return False

    def _resume(self, gate: str | None) -> None:
        gates = dict(self.state.gates)
        if gate is not None and gate in gates:
            gates[gate] = GateTrack()  # a fresh look: the breach must build up again to fire again
        self.state = replace(self.state, phase="stage", window=None, held_since=None, gates=gates,
                             inconclusive_streak=0, inconclusive_since=None, resumed_at=self.now)

    def _allowed(self, d: PersonDecision, action: str) -> bool:
        """Whether the person holds the role they act for; a refusal is recorded as ``ACTION.refused``."""
        refused = roles.refusal(self.policy.roles, d.who, d.role)
        if refused:
            self.record(f"{action}.refused", f"{action} by {d.who} refused: {refused}", who=d.who, role=d.role)
        return refused is None

    def pause(self, d: PersonDecision) -> None:
        if not self._allowed(d, "pause"):
            return
        self.state = replace(self.state, paused_by=f"{d.who} ({d.role})")
        self.record("release.paused", f"paused by {d.who} ({d.role}) at {self.state.weight:g}%: the stage will "
                    "not pass until someone resumes it; gates are still judged" + (f" — {d.reason}" if d.reason else ""),
                    who=d.who, role=d.role)

    def guard(self, reason: str | None, *, shrink: bool) -> None:
        """Hold (or release) the canary for the tenant's guard rails; shrink it to its first step."""
        s, guarded = self.state, (self.state.paused_by or "").startswith(GUARD_HOLD)
        if reason is None:
            if guarded:
                self.state = replace(s, paused_by=None, resumed_at=self.now)
                self.record("release.resumed", f"the guard rails no longer hold the release: {s.weight:g}%, "
                            "going on", gate="guard")
            return
        first = self.policy.stages[0]
        if shrink and s.phase == "stage" and s.weight > first.weight:
            self.start_stage(0)
            self.record("release.shrunk", f"{GUARD_HOLD}: canary shrunk from {s.weight:g}% to its first step "
                        f"{first.weight:g}% — {reason}", gate="guard", weight=first.weight)
        if not self.state.paused_by:
            self.state = replace(self.state, paused_by=f"{GUARD_HOLD}: {reason}")
            self.record("release.paused", f"{GUARD_HOLD} hold the release at {self.state.weight:g}%: {reason}; "
                        "gates are still judged and people can still act", gate="guard")

    def unpause(self, d: PersonDecision) -> None:
        if not self._allowed(d, "resume"):
            return
        if not self.state.paused_by:
            self.record("resume.ignored", f"{d.who} ({d.role}) resumed, but the release was not paused",
                        who=d.who, role=d.role)
            return
        self.state = replace(self.state, paused_by=None, resumed_at=self.now)
        self.record("release.resumed", f"resumed by {d.who} ({d.role}) at {self.state.weight:g}%",
                    who=d.who, role=d.role)

    def expire_window(self) -> None:
        w = self.state.window
        if self.state.phase != "deciding" or w is None or self.now < w.closes_at:
            return
        why = f"nobody decided on gate {w.gate} within {w.closes_at - w.opened_at:g}s; default '{w.default}' taken"
        self.record("decision.default", why, gate=w.gate, default=w.default)
        if w.default == "rollback":
            self.rollback(why, gate=w.gate)
        elif w.default == "continue":
            self._resume(w.gate)
        else:
            self.state = replace(self.state, fired_gate=w.gate)
            self.finish("held", why + f"; canary stays at {self.state.weight:g}% for a person to take over")

    def expire_hold(self) -> None:
        s = self.state
        if s.phase == "held" and s.held_since is not None and self.now - s.held_since >= self.policy.analysis.hold_timeout:
            self.finish("held", f"held {self.now - s.held_since:g}s with inconclusive data and no decision; "
                        f"canary stays at {s.weight:g}%")
