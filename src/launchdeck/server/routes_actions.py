"""``/api/v1/releases`` write side: start a release, and people's actions on one (sign-off, kill, pause,
resume, go, no-go). The person is the token's; the plan role they act in is checked against the plan by
``services.actions``, exactly as the CLI checks `--role` and `--as`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from launchdeck.server import problems
from launchdeck.server.auth import Operator, StoreDep
from launchdeck.server.routes_releases import ReleaseName
from launchdeck.server.schemas import ActBody, GoBody, RecordedOut, ReleaseStart, SignoffBody, Started
from launchdeck.services import actions, details, submitting
from launchdeck.store.tokens import Token

router = APIRouter(prefix="/api/v1/releases", tags=["actions"],
                   responses=problems.responses(401, 403, 404, 409, 422, 503))
SOURCE = "api"


@router.post("", response_model=Started, status_code=201)
def start(body: ReleaseStart, who: Operator, store: StoreDep, request: Request) -> Started:
    """Start a release from a registered plan (``plan``) or an inline one (``planText``), with the options of
    `launchdeck run`; a worker drives it. A release train too: a worker runs it as `launchdeck run` does, each
    service as the release TRAIN.SERVICE (``services``). 409 when a release of that name is running in the
    tenant."""
    asked = submitting.Submission(plan=body.plan, plan_text=body.plan_text, time_scale=body.time_scale,
                                  seed=body.seed, start_at=body.start_at,
                                  approvals=[a.model_dump() for a in body.approvals])
    release = submitting.submit(store, asked, tenant=who.tenant, person=who.person,
                                data_dir=request.app.state.data_dir)
    url = str(request.url_for("release", name=release.name))
    return Started(name=release.name, id=release.id, tenant=release.tenant, url=url, submitted_by=who.person,
                   services=release.state.get("train", {}).get("services"))


@router.post("/{name}/signoffs", response_model=RecordedOut, status_code=201)
def signoff(name: ReleaseName, body: SignoffBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Sign off leaving a stage, sign a checklist, or decide (rollback / continue) an open window or hold."""
    found = details.find(store, name=name, tenant=who.tenant)
    done = actions.approve(store, found, who=who.person, role=body.role, stage=body.stage, checklist=body.checklist,
                           decision=body.decision, reason=body.reason, source=SOURCE)
    return RecordedOut.model_validate(done.to_json())


@router.post("/{name}/kill", response_model=RecordedOut, status_code=202)
def kill(name: ReleaseName, body: ActBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Pull the kill switch: whatever drives the release sends every request to stable at its next tick."""
    return _act(actions.request_kill, name, body, who, store)


@router.post("/{name}/pause", response_model=RecordedOut, status_code=202)
def pause(name: ReleaseName, body: ActBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Keep the canary at its weight, with no time limit, until resumed (gates are still judged)."""
    return _act(actions.pause, name, body, who, store)


@router.post("/{name}/resume", response_model=RecordedOut, status_code=202)
def resume(name: ReleaseName, body: ActBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Resume a paused release, or continue a held one."""
    return _act(actions.resume, name, body, who, store)


@router.post("/{name}/go", response_model=RecordedOut, status_code=201)
def go(name: ReleaseName, body: GoBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Record a GO by the token's person, with every role they hold in the plan."""
    found = details.find(store, name=name, tenant=who.tenant)
    done = actions.go_decision(store, found, who=who.person, choice="go", reason=body.reason, source=SOURCE)
    return RecordedOut.model_validate(done.to_json())


@router.post("/{name}/no-go", response_model=RecordedOut, status_code=201)
def no_go(name: ReleaseName, body: GoBody, who: Operator, store: StoreDep) -> RecordedOut:
    """Record a NO-GO: a release not started is refused; a running one is rolled back."""
    found = details.find(store, name=name, tenant=who.tenant)
    done = actions.go_decision(store, found, who=who.person, choice="no-go", reason=body.reason, source=SOURCE)
    return RecordedOut.model_validate(done.to_json())


def _act(action: actions.Action, name: str, body: ActBody, who: Token, store: StoreDep) -> RecordedOut:
    found = details.find(store, name=name, tenant=who.tenant)
    done = action(store, found, who=who.person, role=body.role, reason=body.reason, source=SOURCE)
    return RecordedOut.model_validate(done.to_json())
