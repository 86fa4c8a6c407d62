"""The release's state between ticks: plain frozen values, serialisable to JSON for the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from launchdeck.core.observation import WindowStats
from launchdeck.core.sequential import Evidence

#: ReleaseState fields holding a version's counts (WindowStats), serialised with their own to_json.
_STATS = ("baseline", "stable_in_stage", "frozen_baseline", "same_age_reference", "same_age_in_stage",
          "same_age_frozen")

Phase = Literal["starting", "stage", "deciding", "held", "rolling_back", "done"]


@dataclass(frozen=True)
class GateTrack:
    breach_since: float | None = None
    """Plan time of the first breaching evaluation of the current continuous breach."""
    status: str = "pending"
    reason: str = ""
    evidence: Evidence = Evidence()
    """Sequential judges: the evidence accumulated so far."""


@dataclass(frozen=True)
class DecisionWindow:
    gate: str
    severity: str
    opened_at: float
    closes_at: float
    default: str
    authority: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ReleaseState:
    phase: Phase = "starting"
    stage: int = 0
    stage_started_at: float = 0.0
    weight: float = 0.0
    last_eval_at: float | None = None
    conclusive_in_stage: bool = False
    inconclusive_streak: int = 0
    inconclusive_since: float | None = None
    """Plan time of the first inconclusive evaluation in the current run of them."""
    held_since: float | None = None
    approval_requested: bool = False
    gates: dict[str, GateTrack] = field(default_factory=dict)
    window: DecisionWindow | None = None
    baseline: WindowStats | None = None
    """The stable version's last well-fed window: sequential latency judges' yardstick."""
    stable_in_stage: WindowStats | None = None
    """The stable version's counts summed over the current stage's evaluations."""
    frozen_baseline: WindowStats | None = None
    """The stable counts of the latest stage below 100% once they reached minRequests: relative gates
    compare with them once the stable version serves nothing (never with one thin window)."""
    same_age_reference: WindowStats | None = None
    """The same-age baseline's last well-fed window (``analysis.baseline: same-age``): the yardstick of
    sequential latency gates compared with it."""
    same_age_in_stage: WindowStats | None = None
    """The same-age baseline's counts summed over the current stage's evaluations."""
    same_age_frozen: WindowStats | None = None
    """The same-age baseline's counts frozen at cut-over: gates compare with them at 100%."""
    canary_total: int = 0
    stable_total: int = 0
    baseline_total: int = 0
    """Requests the same-age baseline served so far."""
    outcome: str | None = None
    fired_gate: str | None = None
    reason: str = ""
    rolled_back_at: float | None = None
    stages_passed: int = 0
    paused_by: str | None = None
    """Who paused the release (``launchdeck pause``): the stage does not pass until someone resumes it;
    gates are still judged and can still roll back."""
    resumed_at: float | None = None
    """Plan time of the last resume (a decision to continue, an unpause, a held release run again):
    a sign-off's hold timeout counts from here, not from a stage start that may be long past."""

    def to_json(self) -> dict[str, Any]:
        # Field by field rather than asdict(): asdict deep-copies every value, recursively, only for most to be
        # replaced below, and this runs at every commit of every release (a worker: hundreds a second).
        data = {name: getattr(self, name) for name in _FIELDS}
        data["gates"] = {name: _track_json(track) for name, track in self.gates.items()}
        data["window"] = asdict(self.window) if self.window else None
        for name in _STATS:
            stats = getattr(self, name)
            data[name] = stats.to_json() if stats else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReleaseState:
        data = dict(data)
        data["gates"] = {k: _gate_track(v) for k, v in data.get("gates", {}).items()}
        if data.get("window"):
            w = data["window"]
            data["window"] = DecisionWindow(**{**w, "authority": tuple(w["authority"])})
        for name in _STATS:
            if data.get(name):
                data[name] = WindowStats.from_json(data[name])
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(ReleaseState))
_TRACK_FIELDS = tuple(f.name for f in fields(GateTrack) if f.name != "evidence")
_EVIDENCE_FIELDS = tuple(f.name for f in fields(Evidence))


def _track_json(track: GateTrack) -> dict[str, Any]:
    """``asdict(track)``, without its deep copies (the values are floats, strings and tuples of floats)."""
    data = {name: getattr(track, name) for name in _TRACK_FIELDS}
    data["evidence"] = {name: getattr(track.evidence, name) for name in _EVIDENCE_FIELDS}
    return data


def _gate_track(data: dict[str, Any]) -> GateTrack:
    data = dict(data)
    ev = data.pop("evidence", None) or {"log_lr": data.pop("log_lr", ())}  # states written before the plug-in
    data.pop("log_lr", None)
    evidence = Evidence(tuple(ev.get("log_lr", ())), float(ev.get("log_plug_in", 0.0)), tuple(ev.get("recent", ())),
                        tuple(ev.get("dispersion", ())), float(ev.get("design_effect", 1.0)))
    return GateTrack(**data, evidence=evidence)
