"""The API's request and response bodies (pydantic, camelCase on the wire): what /openapi.json documents.

Requests are strict: unknown fields, a wrong type or an out-of-range value are 422 problem documents
before any handler runs. Text fields are bounded and refuse NUL characters (PostgreSQL cannot store
them), so no request reaches the store with a value it would fail on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds an unpaired surrogate)") from None
    return value


NoNul = AfterValidator(_no_nul)
Name = Annotated[str, Field(min_length=1, max_length=120), NoNul]
Reason = Annotated[str, Field(max_length=2000), NoNul]
PlanText = Annotated[str, Field(min_length=1, max_length=2_000_000), NoNul]


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Body(Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# -- requests --------------------------------------------------------------------------------------------


class PlanBody(Body):
    plan: PlanText = Field(description="The plan, as YAML text.")


class Approval(Body):
    """One sign-off recorded ahead, as in a `run --approvals` file."""

    who: Name
    role: Name
    stage: int | None = Field(default=None, ge=1, le=1000)
    checklist: Name | None = None
    decision: Literal["rollback", "continue", "go", "no-go"] | None = None
    reason: Reason = ""
    service: Name | None = None


class ReleaseStart(Body):
    """Start a release: from a registered plan (``plan``: its name) or an inline one (``planText``)."""

    plan: Name | None = Field(default=None, description="A registered plan's name (its newest version).")
    plan_text: PlanText | None = Field(default=None, description="A plan as YAML text.")
    time_scale: float = Field(default=1.0, ge=0.001, le=100_000, description="Make plan time N times faster.")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    start_at: datetime | None = Field(default=None, description="Planned start; checklists are due relative to it.")
    approvals: list[Approval] = Field(default=[], max_length=1000)

    @model_validator(mode="after")
    def _one_plan(self) -> ReleaseStart:
        if (self.plan is None) == (self.plan_text is None):
            raise ValueError("give exactly one of plan (a registered plan's name) or planText (the plan itself)")
        return self


class SignoffBody(Body):
    role: Name
    stage: int | None = Field(default=None, ge=1, le=1000, description="Sign off leaving stage N.")
    checklist: Name | None = Field(default=None, description="Sign a checklist (e.g. T-1h).")
    decision: Literal["rollback", "continue"] | None = Field(default=None, description="Decide an open window or hold.")
    reason: Reason = ""

    @model_validator(mode="after")
    def _one_subject(self) -> SignoffBody:
        if sum(x is not None for x in (self.stage, self.checklist, self.decision)) != 1:
            raise ValueError("give exactly one of stage, checklist or decision")
        return self


class ActBody(Body):
    role: Name = Field(description="The plan role you act in.")
    reason: Reason = ""


class GoBody(Body):
    reason: Reason = ""


# -- responses -------------------------------------------------------------------------------------------


class PlanOut(Wire):
    name: str
    tenant: str
    digest: str
    kind: str
    version: int
    registered_by: str
    registered_at: datetime
    changed: bool | None = Field(None, description="On register: false when the newest version had this text "
                                                   "already.")


class PlanDetail(PlanOut):
    text: str


class PlanList(Wire):
    tenant: str | None = Field(None, description="The token's tenant: every plan here is its.")
    items: list[PlanOut]


class Validated(Wire):
    valid: bool
    name: str
    kind: str
    digest: str
    warnings: list[str]


class Started(Wire):
    name: str
    id: int
    tenant: str
    url: str
    submitted_by: str
    services: list[str] | None = Field(default=None, description=(
        "A release train's services, each a release of its own (TRAIN.SERVICE) started in the train's order"))


class Driving(Wire):
    """Workers' failed attempts to drive a release in a row: the last one's error, when the next one is due,
    or when they gave it up (`launchdeck resume` hands it back)."""

    failures: int
    last_error: str | None
    retry_at: str | None
    gave_up_at: str | None


class Listed(Wire):
    name: str
    id: int
    tenant: str
    phase: str
    stage: int
    stages: int | None = Field(None, description="How many stages the plan has (null for a release from before "
                                                 "it was recorded).")
    weight: float
    outcome: str | None
    plan_time: float
    updated_at: str | None
    archived: bool
    service: str | None = None
    driving: Driving | None = None


class Page(Wire):
    items: list[Listed]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class GateState(Wire):
    status: str | None
    reason: str


class Status(Wire):
    """The same object as `launchdeck status --output json`."""

    release: str
    id: int
    tenant: str
    phase: str | None
    stage: int
    stages: int | None = Field(None, description="How many stages the plan has (null for a release from before "
                                                 "it was recorded).")
    weight: float
    outcome: str | None
    reason: str | None
    fired_gate: str | None
    stages_passed: int
    plan_time: float
    time_scale: float | None
    started_at: str | None
    updated_at: str | None
    archived: bool
    gates: dict[str, GateState]
    waiting: dict[str, Any] | None
    driving: Driving | None = Field(default=None, description="Failed attempts to drive the release, if any.")


class Person(Wire):
    who: str | None
    role: str | None


class StageOut(Wire):
    stage: int
    weight: float | None
    hold: float | None
    approve: list[str]
    status: str
    started_at: float | None = Field(description="Plan seconds when the stage started.")
    passed_at: float | None
    signoffs: list[Person]


class GateOut(Wire):
    name: str
    metric: str | None
    op: str | None
    threshold: str | None
    severity: str | None
    for_: float | None = Field(alias="for")
    test: str | None
    status: str
    verdict: str | None = Field(description="The last evaluation's verdict: pass, breach or inconclusive.")
    reason: str
    live: dict[str, Any] = Field(description="The last evaluation's figures: canary, baseline, limit, samples…")
    evaluated_at: float | None


class DecisionOut(Wire):
    """The same object as `launchdeck why --output json` prints per decision."""

    seq: int
    plan_at: float
    wall_at: str
    kind: str
    gate: str | None
    reason: str
    inputs: dict[str, Any]


class WhyOut(DecisionOut):
    rule: str
    verdict: str
    people: list[Person]


class AttemptOut(Wire):
    at: str
    error: str | None
    """None: the channel took the message."""


class MessageOut(Wire):
    id: int
    channel: str
    event: str
    title: str
    text: str
    locale: str
    created_at: str
    sent_at: str | None
    attempts: int
    """Refused attempts so far."""
    last_error: str | None
    pending: bool
    """Still in the outbox: not yet taken by its channel."""
    broadcast: bool
    delivery_attempts: list[AttemptOut]
    """Every attempt to deliver it, oldest first."""


class BundleOut(Wire):
    name: str
    label: str
    created_at: str
    bytes: int


class AuditOut(Wire):
    release: str
    ok: bool
    problems: list[str]
    checked: list[str]
    notes: list[str]


class RecordedOut(Wire):
    release: str
    action: str
    who: str
    role: str
    reason: str
    stage: int | None
    checklist: str | None
    decision: str | None
    driven: bool
    message: str


# -- tenant documents ------------------------------------------------------------------------------------


class TenantDocumentText(Body):
    text: PlanText = Field(description="The document, as YAML text (kind: Tenant or TenantPolicy).")
    file: Annotated[str, Field(max_length=300), NoNul] = Field("tenant.yaml", description="Its file name, for problems.")


class TenantDocumentsBody(Body):
    documents: list[TenantDocumentText] = Field(min_length=1, max_length=20)


class TenantDocumentOut(Wire):
    tenant: str
    kind: str
    version: int
    digest: str
    file: str
    applied_by: str
    applied_at: datetime
    changed: bool | None = Field(None, description="On apply: false when the newest version had this text already.")
    text: str | None = Field(None, description="The document's YAML text (in the list, not in apply's answer).")


class TenantDocumentList(Wire):
    tenant: str | None = Field(None, description="The token's tenant: every document here is its.")
    items: list[TenantDocumentOut]
