"""Submitting a release: recording it in the store, with its plan and options, to be driven.

``submit`` is what `launchdeck run`, `run --detach`, the API and a retry do first. It creates the
release (or finds the one the plan already started, to resume it or report its outcome), records
who submitted it, the plan text and the run's options, and marks it due: from then on whichever
process holds its lease drives it (`run` itself, or a worker; see ``controller.worker``).
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from launchdeck.controller import driver
from launchdeck.controller.messages import iso
from launchdeck.controller.people import load_approvals_file, stored_rules
from launchdeck.controller.session import RunOptions, View
from launchdeck.core.state import ReleaseState
from launchdeck.errors import LeaseHeld, UsageError
from launchdeck.plan import LoadedPlan, model
from launchdeck.services import guardrails
from launchdeck.store.repo import Store, StoredRelease


def local_person() -> str:
    """Who submits from this shell: the login name (the API names the token's person instead)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def submit(store: Store, plan: LoadedPlan, opts: RunOptions, view: View, *,
           submitted_by: str | None = None, tenant: str | None = None) -> StoredRelease:
    """The release for this plan, recorded and due to be driven (see the module's docstring). ``tenant``:
    the tenant it belongs to (the API's token's) instead of the plan's ``metadata.tenant``."""
    assert isinstance(plan.doc, model.ReleaseDoc)
    meta = plan.doc.metadata
    tenant = tenant or meta.tenant
    found = store.find(name=meta.name, tenant=tenant)
    if found and opts.fresh:
        if not found.outcome and driver.alive(found):
            raise LeaseHeld(f"release {meta.name} is being driven by {driver.describe(found)}; --fresh would start "
                            "over under it", hint=f"stop it first (`launchdeck kill {meta.name} …`) or wait for it")
        store.archive(release_id=found.id)
        view.note(f"an earlier run of {meta.name} ({found.outcome or 'unfinished'}) is kept as {meta.name}#{found.id}")
        previous, found = f"{meta.name}#{found.id}", None
    else:
        previous = None
    if found and found.plan_digest != plan.digest:
        raise UsageError(f"release {meta.name} was started from a different version of the plan",
                         hint="run the plan it was started with to resume it or see its outcome, or add --fresh "
                              "to start a new run")
    if found is None:
        # Every entry is checked (like `approve`) before the release is recorded: a refused file leaves nothing.
        approved = load_approvals_file(opts.approvals, plan.doc.spec, meta.service) if opts.approvals else []
        # The tenant's guard rails: a plan that loosens a locked SLO or breaks a limit is never recorded.
        rails = guardrails.require_within(store, plan, tenant)
        found = create(store, plan, opts, previous=previous, tenant=tenant,
                       policy=rails and {"tenant": rails.tenant, "version": rails.version,
                                         "digest": rails.document.digest})
        for a in approved:
            store.add_signoff(release_id=found.id, source="approvals-file", **a)
    if found.submitted_by is None and not found.outcome:
        if plan.text is not None:  # a train's service is driven by the train's own run only
            store.submit(release_id=found.id, submitted_by=submitted_by or local_person(), plan_text=plan.text)
            found = store.find(name=meta.name, tenant=tenant) or found
    return found


def submit_train(store: Store, plan: LoadedPlan, opts: RunOptions, *, submitted_by: str,
                 tenant: str) -> StoredRelease:
    """Record a release train for the workers: one row for the train, due at once. The worker holding its
    lease runs it as `launchdeck run` runs a train (``train.drive_train``), each service a release of its
    own (``TRAIN.SERVICE``), made when it starts. The caller has archived any earlier run."""
    assert isinstance(plan.doc, model.TrainDoc) and plan.text is not None
    services = [f"{plan.name}.{entry.name}" for entry, _ in plan.services]
    info = {"engine": ReleaseState().to_json(), "kind": "train", "train": {"services": services},
            "roles": {role: list(people) for role, people in plan.doc.spec.roles.items()},
            "workdir": str(opts.workdir.resolve()), "timeScale": opts.time_scale, "startedAt": iso(),
            "plannedStart": (opts.start_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            "options": options_json(opts)}
    found = store.create(tenant=tenant, name=plan.name, plan_path=str(plan.path.resolve()), plan_digest=plan.digest,
                         state=info)
    store.submit(release_id=found.id, submitted_by=submitted_by, plan_text=plan.text)
    return store.find_id(found.id)


def create(store: Store, plan: LoadedPlan, opts: RunOptions, previous: str | None = None,
           tenant: str | None = None, policy: dict[str, Any] | None = None) -> StoredRelease:
    """Record a new release. ``policy``: the tenant policy version it runs under (its evidence names it)."""
    spec = plan.doc.spec
    assert isinstance(spec, model.ReleaseSpec)
    md = plan.doc.metadata
    info = {"engine": ReleaseState().to_json(), "workdir": str(opts.workdir.resolve()), **stored_rules(spec),
            "rollback": {"steps": []}, "totals": [0, 0], "timeScale": opts.time_scale, "startedAt": iso(),
            "plannedStart": (opts.start_at or datetime.now(UTC)).isoformat(timespec="seconds"),
            "options": options_json(opts), **({"previousRun": previous} if previous else {}),
            **({"service": md.service} if md.service else {}), **({"tenantPolicy": policy} if policy else {})}  # the API lists releases by service
    return store.create(tenant=tenant or md.tenant, name=md.name, plan_path=str(plan.path.resolve()), plan_digest=plan.digest,
                        state=info)


def options_json(opts: RunOptions) -> dict[str, Any]:
    """The run options a worker needs to drive the release as `run` would have."""
    return {"timeScale": opts.time_scale, "seed": opts.seed, "follow": opts.follow,
            "startAt": opts.start_at.isoformat() if opts.start_at else None,
            # a train's services are recorded when they start, each with the approvals meant for it
            "approvals": str(opts.approvals.resolve()) if opts.approvals else None}


def options_of(release: StoredRelease, *, db_url: str, workdir: Path) -> RunOptions:
    """The options a release was submitted with (``options_json``), for a worker driving it."""
    o = release.state.get("options") or {}
    start, approvals = o.get("startAt"), o.get("approvals")
    return RunOptions(time_scale=float(o.get("timeScale") or release.state.get("timeScale") or 1.0), db_url=db_url,
                      workdir=workdir, seed=o.get("seed"), follow=bool(o.get("follow")),
                      start_at=datetime.fromisoformat(start) if start else None,
                      approvals=Path(approvals) if approvals and Path(approvals).is_file() else None)


def prepare(plan: LoadedPlan, opts: RunOptions) -> StoredRelease:
    """Register a release ahead of its run (for checklists and go/no-go); `run` then submits it."""
    if plan.is_train:
        raise UsageError("prepare takes a release plan; a train prepares each service when it runs")
    with Store(opts.db_url) as store:
        found = store.find(name=plan.name, tenant=plan.doc.metadata.tenant)
        if found and not found.outcome:
            raise UsageError(f"release {plan.name} is already prepared or running",
                             hint=f"see `launchdeck checklist {plan.name}` or `launchdeck status {plan.name}`")
        if found:
            store.archive(release_id=found.id)
        return create(store, plan, opts)
