"""Submitting a release over the API: the plan (registered or inline) checked to be the tenant's, its folder
made, and the release recorded for a worker to drive (``controller.submit``).

A server-submitted release works in ``<data dir>/<tenant>/<name>/``, with the plan written there as
``plan.yaml``, so the plan's relative paths (evidence, keys, file channels) resolve as they do for
`launchdeck run` beside the plan. A release of that name still running in the tenant is a conflict;
one that finished is kept under ``name#id`` and the new one starts fresh.

A release train is recorded as one release of its own (the train's name) that a worker drives as
`launchdeck run` drives a train; each service then runs as the release ``TRAIN.SERVICE``
(``controller.train.drive_train``). The same conflict rules hold for the train and for each service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from launchdeck.errors import Conflict, PlanError
from launchdeck.services import plans as plan_texts
from launchdeck.store.repo import Store, StoredRelease

log = logging.getLogger("launchdeck.server")
PLAN_FILE = "plan.yaml"
APPROVALS_FILE = "approvals.yaml"


@dataclass(frozen=True)
class Submission:
    """What a client asks for: the plan (one of ``plan`` and ``plan_text``) and the options of `run`."""

    plan: str | None = None
    """A registered plan's name: its newest version is run."""
    plan_text: str | None = None
    time_scale: float = 1.0
    seed: int | None = None
    start_at: datetime | None = None
    approvals: list[dict[str, Any]] = field(default_factory=list)
    """Sign-offs recorded ahead, each an entry of an approvals file."""


def submit(store: Store, request: Submission, *, tenant: str, person: str, data_dir: Path) -> StoredRelease:
    """Record the release for a worker to drive and return it; nothing is recorded when anything is refused."""
    from launchdeck.controller import people, preflight
    from launchdeck.controller.runner import RunOptions
    from launchdeck.controller.submit import submit as record

    text = request.plan_text if request.plan_text is not None else \
        plan_texts.registered(store, tenant=tenant, name=request.plan or "").text
    loaded = plan_texts.check(text, tenant=tenant, store=store).plan  # the tenant's guard rails too
    plan_texts.require_tenant(loaded, tenant)
    running = store.find(name=loaded.name, tenant=tenant)
    if running is not None and not running.outcome:
        phase = running.state.get("engine", {}).get("phase", "starting")
        raise Conflict(f"{'train' if loaded.is_train else 'release'} {loaded.name} is already running ({phase})",
                       hint=f"follow it at /api/v1/releases/{loaded.name}/events, or kill it first")
    earlier = _earlier_services(store, loaded, tenant) if loaded.is_train else []
    # Every approval is checked as `run --approvals` checks a file, before anything is recorded or written.
    entries = [people.Approval(i + 1, **{k: v for k, v in a.items() if v is not None})
               for i, a in enumerate(request.approvals)]
    refused = people.approvals_problems("approvals", entries, loaded)
    if refused:
        raise PlanError(refused, what="the approvals; nothing was recorded",
                        hint="each problem names its entry (approvals:N is the Nth); correct it or leave it out")
    workdir = data_dir / tenant / loaded.name
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / PLAN_FILE).write_text(text, encoding="utf-8")
    loaded = replace(loaded, path=workdir / PLAN_FILE)
    approvals = None
    if request.approvals:
        approvals = workdir / APPROVALS_FILE
        approvals.write_text(yaml.safe_dump([{k: v for k, v in a.items() if v is not None} for a in request.approvals],
                                            sort_keys=False), encoding="utf-8")
    opts = RunOptions(time_scale=request.time_scale, db_url=store.url, workdir=workdir, approvals=approvals,
                      fresh=running is not None, seed=request.seed, start_at=request.start_at)
    if loaded.is_train:
        from launchdeck.controller.submit import submit_train

        for _, spec in loaded.services:
            preflight.require_writable(spec, workdir=workdir)
        for found in ([running] if running is not None else []) + earlier:  # a new run of a finished train
            store.archive(release_id=found.id)
        return submit_train(store, loaded, replace(opts, fresh=False), submitted_by=person, tenant=tenant)
    preflight.require_writable(loaded.doc.spec, workdir=workdir)  # type: ignore[union-attr]
    return record(store, loaded, opts, _Log(), submitted_by=person, tenant=tenant)


def _earlier_services(store: Store, train: Any, tenant: str) -> list[StoredRelease]:
    """The releases an earlier run of the train left for its services (finished: kept as ``name#id`` when the
    train starts again); a service still running is a conflict."""
    found = []
    for entry, _ in train.services:
        service = store.find(name=f"{train.name}.{entry.name}", tenant=tenant)
        if service is None:
            continue
        if not service.outcome:
            raise Conflict(f"service {entry.name} of train {train.name} is still running as {service.name}",
                           hint=f"follow it at /api/v1/releases/{service.name}/events, or kill it first")
        found.append(service)
    return found


class _Log:
    """What submitting says (an earlier run kept as name#id) goes to the server's log."""

    def note(self, text: str) -> None:
        log.info("%s", text)

    def decision(self, d: Any) -> None:
        pass

    def tick(self, snapshot: dict[str, Any]) -> None:
        pass
