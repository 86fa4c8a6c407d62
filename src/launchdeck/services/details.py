"""A release in detail, for the API (and the CLI where it shows the same): found within a tenant, listed a
page at a time, its stages, gates with their live values, decisions and their provenance, messages,
evidence bundles and the audit of its decision log.

A release of another tenant is not found, exactly like one that does not exist.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from launchdeck.errors import LaunchdeckError, NotFound, UsageError
from launchdeck.plan import LoadedPlan, load_plan, load_plan_text, model, to_policy
from launchdeck.services.reading import decision_object, listing, provenance
from launchdeck.store import bundles, queries
from launchdeck.store.repo import Store, StoredRelease

_FIND_HINT = "use the release's name (its plan's metadata.name); GET /api/v1/releases lists them"
_QUIET = ("evaluation",)


def find(store: Store, *, name: str, tenant: str | None) -> StoredRelease:
    """The release called ``name`` in ``tenant`` (any tenant when None), else NotFound."""
    found = store.find(name=name, tenant=tenant) if name and "\x00" not in name else None
    if found is None or (tenant is not None and found.tenant != tenant):
        raise NotFound(f"no release named '{name}'", hint=_FIND_HINT)
    return found


def releases(store: Store, *, tenant: str, limit: int = 50, cursor: str | None = None, phase: str | None = None,
             outcome: str | None = None, service: str | None = None) -> tuple[list[StoredRelease], str | None]:
    """A page of the tenant's releases, newest first, and the cursor of the next page (None: no more)."""
    before = None
    if cursor:
        if not cursor.isdigit() or len(cursor) > 18:
            raise UsageError(f"cursor {cursor!r} is not one this API gave", hint="pass the `next` of the previous page")
        before = int(cursor)

    def keep(r: StoredRelease) -> bool:
        return ((phase is None or r.state.get("engine", {}).get("phase", "starting") == phase)
                and (service is None or r.state.get("service") == service))

    rows, after = queries.release_page(store, tenant=tenant, limit=limit, before_id=before, outcome=outcome, keep=keep)
    return rows, (str(after) if after else None)


def page(store: Store, *, tenant: str, **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``releases`` as `launchdeck list --output json` objects (with each release's service)."""
    rows, after = releases(store, tenant=tenant, **filters)
    return [{**listing(r), "service": r.state.get("service")} for r in rows], after


def plan_of(store: Store, found: StoredRelease) -> LoadedPlan | None:
    """The plan the release was started with: its submitted text, or its file while unchanged; None when
    neither is at hand (the file moved or changed)."""
    text = found.plan_text
    try:
        if text is not None:
            loaded = load_plan_text(text, source=Path(found.plan_path).name)
        elif Path(found.plan_path).is_file():
            loaded = load_plan(found.plan_path)
        else:
            return None
    except LaunchdeckError:
        return None
    if loaded.digest != found.plan_digest or not isinstance(loaded.doc, model.ReleaseDoc):
        return None
    return loaded


def stages(store: Store, found: StoredRelease) -> list[dict[str, Any]]:
    """Each stage of the plan: weight, hold, who signs it off, where the release is with it, and when it started
    and passed (plan seconds)."""
    loaded = plan_of(store, found)
    engine = found.state.get("engine", {})
    current, passed = engine.get("stage", 0), engine.get("stages_passed", 0)
    times: dict[tuple[str, int], float] = {}
    for d in queries.decisions_after(store, release_id=found.id, only=("stage.started", "stage.passed")):
        times.setdefault((d.kind, int(d.inputs.get("stage", 0))), d.plan_at)
    signed: dict[int, list[dict[str, str]]] = {}
    for s in store.signoffs(release_id=found.id):
        if s.stage is not None:
            signed.setdefault(s.stage, []).append({"who": s.who, "role": s.role})
    count = len(loaded.doc.spec.stages) if loaded else int(found.state.get("stages") or current + 1)
    out = []
    for i in range(count):
        spec = loaded.doc.spec.stages[i] if loaded else None
        if i < passed:
            status = "passed"
        elif i == current and engine.get("phase") not in (None, "starting"):
            phase = engine.get("phase", "stage")
            status = found.outcome or ("current" if phase == "stage" else phase)
        else:
            status = "not reached"
        out.append({"stage": i + 1, "weight": spec.weight if spec else None, "hold": spec.hold if spec else None,
                    "approve": list(spec.approve) if spec else [], "status": status,
                    "startedAt": times.get(("stage.started", i + 1)), "passedAt": times.get(("stage.passed", i + 1)),
                    "signoffs": signed.get(i + 1, [])})
    return out


def gates(store: Store, found: StoredRelease) -> list[dict[str, Any]]:
    """Each gate: what it measures and its threshold (from the plan), its live values and verdict at the last
    evaluation, and where it stands (pending, pass, breach, fired) with the reason."""
    loaded = plan_of(store, found)
    tracks = found.state.get("engine", {}).get("gates", {})
    last = queries.latest_decision(store, release_id=found.id, kind="evaluation")
    verdicts = {v.get("gate"): v for v in (last.inputs.get("verdicts", []) if last else []) if isinstance(v, dict)}
    specs = {g.name: g for g in to_policy(loaded.doc.spec).gates} if loaded else {}
    out = []
    for name in dict.fromkeys([*specs, *tracks]):
        g, track, v = specs.get(name), tracks.get(name, {}), verdicts.get(name, {})
        live = {k: v.get(k) for k in ("canary", "baseline", "limit", "samples", "evidence", "bound") if k in v}
        out.append({"name": name, "metric": g.metric if g else None, "op": g.op if g else None,
                    "threshold": g.threshold_text if g else None, "severity": g.severity if g else None,
                    "for": g.for_seconds if g else None, "test": g.test if g else None,
                    "status": track.get("status", "pending"), "verdict": v.get("status"),
                    "reason": v.get("reason") or track.get("reason", ""), "live": live,
                    "evaluatedAt": last.plan_at if last and v else None})
    return out


def decisions(store: Store, found: StoredRelease, *, all_: bool = False) -> list[dict[str, Any]]:
    """The release's decisions as `why --output json` prints them (evaluations only with ``all_``)."""
    rows = queries.decisions_after(store, release_id=found.id, quiet=() if all_ else _QUIET)
    return [decision_object(d) for d in rows]


def why(store: Store, found: StoredRelease, *, all_: bool = False) -> list[dict[str, Any]]:
    """Every decision with its rule, inputs, verdict and people."""
    rows, signoffs = queries.decisions_and_signoffs(store, release_id=found.id, quiet=() if all_ else _QUIET)
    signed: dict[int, list[tuple[str, str]]] = {}
    for s in signoffs:
        if s.stage is not None:
            signed.setdefault(s.stage, []).append((s.who, s.role))
    return [provenance(d, stage_signoffs=signed) for d in rows]


def messages(store: Store, found: StoredRelease) -> list[dict[str, Any]]:
    """Every message of the release (its text as sent, secrets redacted), delivered or still in the outbox,
    with every delivery attempt (when, and the error when refused)."""
    from launchdeck.store import chat

    tried = chat.attempts(store, release_id=found.id)
    return [{"id": m.id, "channel": m.channel, "event": m.event, "title": m.title, "text": m.text,
             "locale": m.locale, "createdAt": m.created_at.isoformat(),
             "sentAt": m.sent_at.isoformat() if m.sent_at else None, "attempts": m.attempts, "lastError": m.last_error,
             "pending": m.sent_at is None, "broadcast": bool(m.broadcast),
             "deliveryAttempts": [{"at": a.at.isoformat(), "error": a.error} for a in tried.get(m.id, [])]}
            for m in store.messages(release_id=found.id)]


def evidence(store: Store, found: StoredRelease) -> list[dict[str, Any]]:
    return [{"name": b.name, "label": b.label, "createdAt": b.created_at.isoformat(), "bytes": b.size}
            for b in bundles.listed(store, release_id=found.id)]


def evidence_body(store: Store, found: StoredRelease, name: str) -> str:
    kept = bundles.bundle(store, release_id=found.id, name=name)
    if kept is None or kept.body is None:
        raise NotFound(f"release {found.name} has no evidence bundle '{name}'",
                       hint=f"GET /api/v1/releases/{found.name}/evidence lists its bundles")
    return kept.body


def audit(store: Store, found: StoredRelease) -> dict[str, Any]:
    """`launchdeck audit verify` as an object: ``ok``, the problems found, what was checked, notes. Keys are
    trusted from the plan's ``evidence.trustedKeys`` and this machine's trusted-keys file; the final bundle
    is read from the store when its file is not on this machine."""
    from launchdeck.controller.audit import FINAL, verify_release
    from launchdeck.evidence.trust import gather

    loaded = plan_of(store, found)
    workdir = Path(found.state.get("workdir") or Path(found.plan_path).parent)
    listed = loaded.doc.spec.evidence.trusted_keys if loaded else []
    trusted = gather(keys=[], plan_keys=[workdir / entry for entry in dict.fromkeys(listed)])
    finals = [h.bundle for h in store.log_heads(release_id=found.id)
              if h.bundle and json.loads(h.payload).get("label") == FINAL]
    with tempfile.TemporaryDirectory(prefix="launchdeck-audit-") as scratch:
        bundle = None
        if finals and not Path(finals[-1]).exists():
            kept = bundles.bundle(store, release_id=found.id, name=Path(finals[-1]).name)
            if kept is not None and kept.body is not None:
                bundle = Path(scratch) / kept.name
                bundle.write_text(kept.body, encoding="utf-8")
        report = verify_release(store, found, trusted, bundle)
    return {"release": found.name, "ok": report.ok, "problems": report.problems, "checked": report.checked,
            "notes": report.notes}
