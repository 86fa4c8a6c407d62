"""What the dashboard shows, read once for its pages: the tenant's releases with what waits on a person
and any freeze window in force (``overview``), one release's room (``room``), and a train's services in
dependency order (``train``).

The web pages only render these; the rules (who may act, what a release waits for) are the same
functions the CLI and the API use (``runbook``, ``services.details``). A plan's few facts the list
needs (version, freeze windows) are read once per plan digest: a thousand releases of a handful of
plans parse a handful of plans.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from launchdeck.errors import NotFound
from launchdeck.plan import load_plan_text, model
from launchdeck.services import details
from launchdeck.services.reading import status_object
from launchdeck.store import plans, queries
from launchdeck.store.repo import Store, StoredRelease

#: Releases the list shows at most (newest first); older ones are a filter away.
LIST_LIMIT = 1000
#: How bad a gate's status is, for a release's health (the worst of its gates).
_SEVERITY = {"fired": 4, "breach": 3, "inconclusive": 2, "pending": 1, "pass": 0}
_HEALTH = {4: "failing", 3: "breaching", 2: "thin data", 1: "pending", 0: "healthy"}


@dataclass(frozen=True)
class PlanFacts:
    """What the list needs from a release's plan."""

    version: str | None
    previous: str | None
    freezes: tuple[model.FreezeSpec, ...]
    links: tuple[tuple[str, str], ...]
    """The metadata labels whose value is a link (a change log, a pull request…), as (label, URL)."""


@functools.lru_cache(maxsize=256)
def _facts_of_text(text: str) -> PlanFacts | None:
    try:
        loaded = load_plan_text(text, source="plan.yaml")
    except Exception:  # noqa: BLE001 - a plan that no longer parses shows no facts, not an error page
        return None
    return _facts(loaded.doc)


def _facts(doc: model.ReleaseDoc | model.TrainDoc) -> PlanFacts:
    md = doc.metadata
    freezes = tuple(doc.spec.preflight.freeze) if doc.spec.preflight else ()
    links = tuple((k, v) for k, v in md.labels.items() if v.startswith(("https://", "http://")))
    return PlanFacts(md.version, md.previous_version, freezes, links)


_by_digest: dict[str, PlanFacts | None] = {}


def plan_facts(store: Store, found: StoredRelease | queries.ReleaseSummary) -> PlanFacts | None:
    """The plan's facts, read once per plan digest (a summary's release is read whole only then)."""
    if found.plan_digest not in _by_digest:
        whole = found if isinstance(found, StoredRelease) else store.find_id(found.id)
        if whole.plan_text is not None:
            _by_digest[whole.plan_digest] = _facts_of_text(whole.plan_text)
        else:
            loaded = details.plan_of(store, whole)
            _by_digest[whole.plan_digest] = _facts(loaded.doc) if loaded else None
        if len(_by_digest) > 4096:
            _by_digest.pop(next(iter(_by_digest)))
    return _by_digest.get(found.plan_digest)


def health(outcome: str | None, gates: dict[str, Any] | None) -> str:
    """The worst of the release's gates, in a word (a finished release: its outcome)."""
    if outcome:
        return outcome.replace("_", " ")
    worst = max((_SEVERITY.get(g.get("status", "pending"), 1) for g in (gates or {}).values()
                 if isinstance(g, dict)), default=1)
    return _HEALTH[worst]


def freeze_ends(facts: PlanFacts | None, now: datetime) -> datetime | None:
    from launchdeck.runbook import freeze

    for f in facts.freezes if facts else ():
        ends = freeze.active(freeze.Freeze(f.from_, f.to, f.tz, f.weekday, f.date), now)
        if ends is not None:
            return ends
    return None


@dataclass(frozen=True, slots=True)
class ListRow:
    """One release in the list. A class, not a dict: the template reads a thousand rows' fields by attribute,
    which Jinja tries first (a dict's keys cost a failed attribute lookup each)."""

    name: str
    service: str
    version: str | None
    phase: str
    stage: int
    stages: int | None
    weight: float
    health: str
    outcome: str | None
    by: str | None
    ageSeconds: float | None  # camelCase: the name the pages and the API's JSON use
    active: bool
    waiting: dict[str, Any] | None


def row(store: Store, r: queries.ReleaseSummary, now: datetime) -> ListRow:
    """One release in the list."""
    facts = plan_facts(store, r)
    try:
        age = (now - datetime.fromisoformat(r.started_at)).total_seconds() if r.started_at else None
    except ValueError:
        age = None
    return ListRow(r.name, r.service or r.name, facts.version if facts else None, r.phase or "starting",
                   (r.stage or 0) + 1, r.stages, r.weight or 0.0, health(r.outcome, r.gates), r.outcome,
                   r.submitted_by, age, r.outcome is None,
                   r.waiting if not r.outcome and isinstance(r.waiting, dict) else None)


def overview(store: Store, *, tenant: str, now: datetime | None = None, show: str = "all",
             text: str = "", limit: int = LIST_LIMIT) -> dict[str, Any]:
    """The tenant's releases (``show``: ``active``, ``recent`` (finished) or ``all``; ``text``: a part of the
    name or service), what waits on a person across the active ones, and the freeze windows in force."""
    now = now or datetime.now(UTC)
    finished = {"active": False, "recent": True}.get(show)
    found = queries.release_summaries(store, tenant=tenant, limit=limit, finished=finished, text=text.strip())
    rows = [row(store, r, now) for r in found]
    waiting = [{"release": r.name, **r.waiting} for r in rows if r.waiting]
    frozen: dict[str, datetime] = {}
    for r in found:
        if r.outcome is None:
            ends = freeze_ends(plan_facts(store, r), now)
            if ends is not None:
                frozen[r.name] = ends
    return {"releases": rows, "waiting": waiting, "frozen": frozen,
            "counts": {"active": sum(1 for r in rows if r.active), "shown": len(rows)}}


def room(store: Store, found: StoredRelease, *, person: str, may_act: bool) -> dict[str, Any]:
    """Everything the release page shows, and the actions this person may take on it (``may_act``: their API
    role allows acting at all; each action also needs a plan role, as ``services.actions`` checks)."""
    status = status_object(found)
    loaded = details.plan_of(store, found)
    doc = loaded.doc if loaded and isinstance(loaded.doc, model.ReleaseDoc) else None
    facts = _facts(doc) if doc else None
    signoffs = store.signoffs(release_id=found.id)
    roles = found.state.get("roles", {})
    held = sorted(r for r, people in roles.items() if person in people)
    checklists = []
    for c in (doc.spec.checklists if doc else []):
        signed = [{"who": s.who, "role": s.role, "at": s.at} for s in signoffs if s.checklist == c.name]
        missing = [r for r in c.signoff if r not in {s["role"] for s in signed}]
        checklists.append({"name": c.name, "due": c.due, "items": list(c.items), "roles": list(c.signoff),
                           "signed": signed, "missing": missing})
    messages = details.messages(store, found)
    channels: dict[str, dict[str, int]] = {}
    for m in messages:
        counts = channels.setdefault(m["channel"], {"sent": 0, "pending": 0, "failing": 0})
        counts["sent" if m["sentAt"] else "failing" if m["lastError"] else "pending"] += 1
    active = found.outcome is None or found.outcome == "held"
    return {"status": status, "stages": details.stages(store, found), "gates": details.gates(store, found),
            "why": details.why(store, found), "messages": messages[-50:], "channels": channels,
            "evidence": details.evidence(store, found), "checklists": checklists, "roles": roles,
            "service": found.state.get("service"), "by": found.submitted_by,
            "version": facts.version if facts else None, "previous": facts.previous if facts else None,
            "links": list(facts.links) if facts else [], "waiting": status["waiting"],
            "frozenUntil": freeze_ends(facts, datetime.now(UTC)),
            "pausedBy": found.state.get("engine", {}).get("paused_by"),
            "actAs": held if may_act and active else [], "decisions": bool(held) and may_act and active}


def train(store: Store, *, tenant: str, name: str) -> dict[str, Any]:
    """A registered train: its services in dependency order (layer by layer), each with the state of its release
    (``<train>.<service>`` in the tenant) and what it comes after."""
    kept = plans.latest(store, tenant=tenant, name=name) if name and "\x00" not in name else None
    if kept is None:
        raise NotFound(f"no registered release train named '{name}'",
                       hint="register the train's plan with POST /api/v1/plans (an admin)")
    loaded = load_plan_text(kept.text, source="plan.yaml")
    if not isinstance(loaded.doc, model.TrainDoc):
        raise NotFound(f"'{name}' is a release plan, not a release train", hint=f"open /ui/releases/{name}")
    entries = {e.name: e for e in loaded.doc.spec.services}
    depth: dict[str, int] = {}

    def level(svc: str) -> int:
        if svc not in depth:
            depth[svc] = 0  # a cycle is refused by validation; this only guards the recursion
            depth[svc] = 1 + max((level(a) for a in entries[svc].after if a in entries), default=-1)
        return depth[svc]

    services = []
    for svc, entry in entries.items():
        found = store.find(name=f"{name}.{svc}", tenant=tenant)
        e = found.state.get("engine", {}) if found else {}
        services.append({"name": svc, "after": list(entry.after), "layer": level(svc),
                         "release": found.name if found else None,
                         "state": (found.outcome or e.get("phase", "starting")) if found else "not started",
                         "weight": e.get("weight", 0.0) if found else None,
                         "health": health(found.outcome, e.get("gates")) if found else "not started"})
    return {"name": name, "version": loaded.doc.metadata.version, "services": services,
            "onServiceRollback": loaded.doc.spec.on_service_rollback}


def trains(store: Store, *, tenant: str) -> list[str]:
    """The tenant's registered release trains, by name."""
    from launchdeck.services.plans import kind_of

    return sorted(p.name for p in plans.plans(store, tenant=tenant) if kind_of(p.text) == "ReleaseTrain")


def ago(seconds: float | None) -> str:
    """``3m``, ``2h 5m``, ``4d``: an age a person reads at a glance."""
    if seconds is None:
        return "–"
    span = timedelta(seconds=max(0, int(seconds)))
    if span < timedelta(minutes=1):
        return f"{span.seconds}s"
    if span < timedelta(hours=1):
        return f"{span.seconds // 60}m"
    if span < timedelta(days=1):
        return f"{span.seconds // 3600}h {span.seconds % 3600 // 60}m"
    return f"{span.days}d"
