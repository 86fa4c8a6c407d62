"""The plan file's typed shape (pydantic, at the edge): what users may write, with units parsed.

Field names follow the contract (camelCase in YAML). Cross-field rules that need the whole plan
(roles that exist, channels that exist, metrics that are defined) live in ``rules.py`` so every
problem can be reported at once with its location.

No ``from __future__ import annotations`` here: with it, pydantic compiles every annotation string
again at each start of the command (about 15 ms of `launchdeck validate`). Sections' default instances
are made with ``model_construct`` (their values are the class's defaults, valid by definition): calling
the class would compile a validator for each section at import, about 35 ms of every start, when the
plan's one validator, built the first time a plan is checked, covers them all.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from launchdeck.plan.comms_model import (
    CadenceSpec,
    ChannelSpec,
    EscalationRaise,
    EscalationSpec,
    EscalationStep,
    NotificationsSpec,
    RouteSpec,
    WarRoomSpec,
)
from launchdeck.plan.fields import (
    Duration,
    Event,
    LatencyMs,
    Method,
    Model,
    Op,
    Rate,
    Ratio,
    RollbackStep,
    Severity,
    SignedDuration,
    ThresholdText,
    Weight,
)
from launchdeck.plan.hooks_model import CommandsSpec, LoadTestSpec, RunStepSpec
from launchdeck.plan.supply_model import SupplyChainSpec

__all__ = ["CadenceSpec", "ChannelSpec", "EscalationRaise", "EscalationSpec", "EscalationStep", "NotificationsSpec",
           "RouteSpec", "WarRoomSpec", "Duration", "Event", "LatencyMs", "Method", "Model", "Op", "Rate", "Ratio", "RollbackStep", "Severity",
           "SignedDuration", "ThresholdText", "Weight"]


ROLES = ("Who holds each role. Every sign-off and decision names a person and a role, and is refused if the person "
         "does not hold it.")


class Metadata(Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="unique per tenant; the release id")
    tenant: str = Field(default="default", description=(
        "The team or product the release belongs to; the same name may be reused in another tenant."))
    service: str | None = Field(default=None, description=(
        "The service being released, named in messages (chat's `service:NAME` picks a plan by it)."))
    version: str = Field(description=(
        "The new (canary) version; also its Prometheus `version` label unless `target.metrics.labels` says otherwise."))
    previous_version: str | None = Field(default=None, description=(
        "The stable version the canary replaces and a rollback returns to (unset: its Prometheus label is `stable`)."))
    labels: dict[str, str] = Field(default={}, description=(
        "Labels kept with the plan, for people and tools. Free-form, except: `environment` (or `env`), `region` and "
        "`residency` are what a chat line `/approve canary VERSION → ENV (REGION, RESIDENCY)` is matched and checked "
        "against (a registered plan is found by `environment`), and a label whose value is an http(s) link (a change "
        "log, a pull request) is shown as a link on the release's dashboard page."))


class RouterSpec(Model):
    """Where traffic is split. Fields by type: haproxy (socket, backend, servers: server names),
    nginx (config, include, upstream, servers: addresses, pidFile), flag (flag; with `path` a flagd
    flag file, without it the embedded router splits by user), gateway-api (route, namespace,
    servers: backend service names), istio (route: the VirtualService, namespace, servers: hosts),
    command (commands: the set and read commands of any platform's CLI)."""

    type: Literal["local", "haproxy", "nginx", "flag", "gateway-api", "istio", "command"] = "local"
    flag: str | None = None
    path: str | None = None
    socket: str | None = None
    backend: str | None = None
    servers: dict[str, str] | None = None
    config: str | None = None
    include: str | None = None
    pid_file: str | None = None
    upstream: str | None = None
    namespace: str | None = None
    route: str | None = None
    commands: CommandsSpec | None = None


class MetricsSpec(Model):
    type: Literal["local", "prometheus"] = "local"
    url: str | None = None
    queries: dict[str, str] = {}
    labels: dict[str, str] = Field(default={}, description=(
        "The `version` label of each side in the metrics: {stable: v1, canary: v2}; by default "
        "metadata.previousVersion and metadata.version."))
    events: dict[str, str] = Field(default={}, description=(
        "PromQL counting each event gate's event for ``{{version}}`` over ``{{window}}``; by default the sample app's"
        " ``app_events_total{version, event}``."))


class LatencySpec(Model):
    median: LatencyMs
    p95: LatencyMs

    @model_validator(mode="after")
    def _p95_not_below_median(self) -> "LatencySpec":
        if self.p95 < self.median:
            raise ValueError("p95 is below the median; write a p95 at least as large as the median")
        return self


class FaultSpec(Model):
    from_: Duration = Field(alias="from")
    to: Duration | None = None
    error_rate: Ratio | None = None
    latency: LatencySpec | None = None
    events: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$")], Rate] = {}


class VersionSpec(Model):
    error_rate: Ratio = 0.0
    latency: LatencySpec = LatencySpec.model_construct(median=40.0, p95=120.0)
    faults: list[FaultSpec] = []
    warmup: Duration = Field(default=0.0, description=(
        "How long a fresh process of this version is slower than warm (the stable fleet counts as warm)."))
    cost_per_request: float | None = Field(default=None, ge=0, description=(
        "What one request of this version costs (currency units): the local target's cost_per_request, for a "
        "cost-delta gate (metric: cost_per_request, vs: baseline, op: \">\", threshold: +10%)."))


class VersionsSpec(Model):
    stable: VersionSpec = VersionSpec.model_construct()
    canary: VersionSpec = VersionSpec.model_construct()


class LoadSpec(Model):
    rps: float = Field(default=100.0, gt=0, le=5000)
    users: int = Field(default=1000, gt=0)


class TargetSpec(Model):
    router: RouterSpec = RouterSpec.model_construct()
    metrics: MetricsSpec = MetricsSpec.model_construct()
    versions: VersionsSpec = VersionsSpec.model_construct()
    load: LoadSpec = LoadSpec.model_construct()

    def on_embedded_fleet(self) -> bool:
        """The release runs on the embedded local fleet (sample apps, router and load inside `launchdeck run`):
        the local router, the embedded flag router, or a command router rehearsed on the fleet (its
        commands drive the embedded router; the local metrics source measures it)."""
        router = self.router
        return (router.type == "local" or (router.type == "flag" and not router.path)
                or (router.type == "command" and self.metrics.type == "local"))


class StageSpec(Model):
    weight: Weight
    hold: Duration = 0.0
    approve: list[str] = Field(default=[], description=(
        "Roles (from `spec.roles`) that must each sign off before the stage passes (`launchdeck approve REL --stage "
        "N`); without a sign-off within `analysis.holdTimeout` after the hold, the run ends held."))
    load_test: LoadTestSpec | None = Field(default=None, description=(
        "A load test (Locust, or a k6 summary) started when the stage starts; gates with `source: loadtest` judge its"
        " results and keep the stage from passing until then."))


class AnalysisSpec(Model):
    interval: Duration = 60.0
    window: Duration = 300.0
    min_requests: int = Field(default=100, ge=0, description=(
        "Canary requests a window needs to be judged; fewer is inconclusive, never a pass."))
    method: Method | None = Field(default=None, description=(
        "How gates are judged. Unset: gates vs baseline on errors and latency use `sequential`, the others "
        "`threshold` (see plan/compile.py); `threshold` asks for the old behaviour everywhere."))
    alpha: Ratio = 0.01
    max_inconclusive: int = Field(default=3, ge=1, description=(
        "Inconclusive windows in a row before the release holds and pages a person."))
    hold_timeout: Duration = 1800.0
    warmup: Duration = Field(default=0.0, description=(
        "Latency gates are not judged during the canary's first ``warmup`` (a fresh instance is slow)."))
    baseline: Literal["stable", "same-age"] = Field(default="stable", description=(
        "What gates ``vs: baseline`` compare with: the stable fleet, or a fresh copy of the stable version started "
        "with the canary at the canary's weight (Kayenta's baseline; see plan/baseline.py)."))


class GateSpec(Model):
    """A metric gate (``metric``, ``op``, ``threshold``), or an event gate (``event``): any occurrence of the
    event the canary reports fires it, with no minimum sample."""

    name: str = Field(description=(
        "The gate's name, unique in the plan; it appears in reasons, messages and `firedGate`."))
    metric: str | None = Field(default=None, description=(
        "A standard metric (`error_rate`, `latency_p95_ms`…) or a name defined in `target.metrics.queries`; required "
        "unless the gate is an event gate."))
    op: Op | None = Field(default=None, description=(
        "The comparison that counts as a breach (quote it in YAML: `op: \">\"`)."))
    threshold: ThresholdText | None = Field(default=None, description=(
        "The limit: absolute in the metric's unit (`2%`, `350ms`), or relative to `vs: baseline` (`+20%`)."))
    event: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$", description=(
        "An event gate: any occurrence of this event reported by the canary fires it, with no minimum sample."))
    vs: Literal["baseline", "stable"] | None = Field(default=None, description=(
        "``baseline``: the analysis' baseline (the stable fleet, or the same-age baseline); ``stable``: the stable "
        "fleet whatever the analysis' baseline is."))
    for_: Duration | None = Field(default=None, alias="for", description=(
        "The breach must last this long, at every evaluation, to fire (unset: one breaching evaluation fires)."))
    severity: Severity = Field(default="immediate", description=(
        "`immediate` rolls back at once; `urgent` and `conditional` open a decision window (`rollback.policy`)."))
    test: Method | None = Field(default=None, description="This gate's judge (unset: `analysis.method`).")
    source: Literal["target", "loadtest"] = Field(default="target", description=(
        "Where the gate's figure comes from: the metrics source, or the current stage's load test (absolute "
        "thresholds only)."))

    @model_validator(mode="after")
    def _metric_or_event(self) -> "GateSpec":
        if self.event is not None:
            extra = [name for name, value in (("metric", self.metric), ("op", self.op), ("threshold", self.threshold),
                                              ("vs", self.vs), ("for", self.for_), ("test", self.test))
                     if value is not None]
            if self.source != "target":
                extra.append("source")
            if extra:
                raise ValueError(f"an event gate fires on any occurrence of its event; drop {', '.join(extra)}")
        elif self.metric is None or self.op is None or self.threshold is None:
            raise ValueError("a gate needs a metric (with op and threshold) or an event; write metric: error_rate, "
                             "op: \">=\", threshold: 2%, or event: cross_tenant_denied (fired by any occurrence)")
        return self


class SmokeSpec(Model):
    run: str = Field(description=(
        "A shell command run when the canary starts and after each weight change; exit 0 passes, a failure acts as an"
        " `immediate` gate named `smoke`."))
    timeout: Duration = 120.0


class AutoPolicy(Model):
    auto: bool = True


class DecisionPolicySpec(Model):
    window: Duration = Field(description="How long the window stays open; the canary's weight does not grow meanwhile.")
    authority: list[str] = Field(min_length=1, description=(
        "The roles asked to decide (`launchdeck approve REL --decision continue|rollback`)."))
    default: Literal["rollback", "hold", "continue"] = Field(description=(
        "What happens when the window closes without a decision: roll back, end the run held, or resume."))


class RollbackPolicySpec(Model):
    immediate: AutoPolicy = AutoPolicy.model_construct()
    urgent: DecisionPolicySpec | None = None
    conditional: DecisionPolicySpec | None = None


class RollbackSpec(Model):
    policy: RollbackPolicySpec = RollbackPolicySpec.model_construct()
    steps: list[RollbackStep | RunStepSpec] = ["kill-switch", "traffic-to-stable", "drain-canary", "verify",
                                                "announce"]


class KillSwitchSpec(Model):
    flag: str = Field(description="The feature flag that turns the canary off.")


class FreezeSpec(Model):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    from_: str = Field(alias="from", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    to: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    tz: str = "UTC"


class ExpectSpec(Model):
    status: int = 200


class CheckSpec(Model):
    name: str
    run: str | None = None
    http: str | None = None
    expect: ExpectSpec = ExpectSpec.model_construct()
    timeout: Duration = 60.0

    @model_validator(mode="after")
    def _one_kind(self) -> "CheckSpec":
        if (self.run is None) == (self.http is None):
            raise ValueError("a check needs exactly one of `run` or `http`; write run: \"cmd\" or http: URL")
        return self


class PreflightSpec(Model):
    freeze: list[FreezeSpec] = []
    checks: list[CheckSpec] = []
    supply_chain: SupplyChainSpec | None = None


class ChecklistSpec(Model):
    name: str
    due: SignedDuration
    items: list[str] = Field(default=[], description="What the signers confirm.")
    signoff: list[str] = Field(default=[], description="Roles that must each sign it.")


class EvidenceSpec(Model):
    dir: str = "evidence/"
    key: str = "keys/release-signing.key"
    trusted_keys: list[str] = Field(default=[], description=(
        "public keys (PEM paths, relative to the plan file's directory) whose signatures `evidence verify "
        "--plan` and `audit verify --plan` accept"))


class CriterionSpec(Model):
    metric: str
    op: Op
    threshold: ThresholdText


class CheckpointSpec(Model):
    name: str
    at: Duration
    criteria: list[CriterionSpec] = Field(min_length=1)


class PostLaunchSpec(Model):
    checkpoints: list[CheckpointSpec] = []


class SoakSpec(Model):
    duration: Duration
    checks: list[Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]] = []
    criteria: list[CriterionSpec] = []


class ReleaseSpec(Model):
    target: TargetSpec = TargetSpec.model_construct()
    stages: list[StageSpec] = Field(min_length=1)
    analysis: AnalysisSpec = AnalysisSpec.model_construct()
    gates: list[GateSpec] = []
    smoke: SmokeSpec | None = None
    rollback: RollbackSpec = RollbackSpec.model_construct()
    kill_switch: KillSwitchSpec | None = None
    roles: dict[str, list[str]] = Field(default={}, description=ROLES)
    preflight: PreflightSpec = PreflightSpec.model_construct()
    checklists: list[ChecklistSpec] = []
    notifications: NotificationsSpec = NotificationsSpec.model_construct()
    evidence: EvidenceSpec = EvidenceSpec.model_construct()
    war_room: WarRoomSpec | None = None
    escalation: EscalationSpec | None = None
    post_launch: PostLaunchSpec | None = None
    soak: SoakSpec | None = None


class ServiceEntry(BaseModel):
    """A train's service: its name, what it comes after, and overrides of the defaults."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    after: list[str] = []


class TrainSpec(Model):
    defaults: dict[str, Any] = {}
    services: list[ServiceEntry] = Field(min_length=1)
    on_service_rollback: Literal["halt-dependents", "halt-train", "continue"] = "halt-dependents"
    roles: dict[str, list[str]] = Field(default={}, description=ROLES)
    checklists: list[ChecklistSpec] = []
    war_room: WarRoomSpec | None = None
    escalation: EscalationSpec | None = None
    post_launch: PostLaunchSpec | None = None
    notifications: NotificationsSpec | None = None
    evidence: EvidenceSpec | None = None
    preflight: PreflightSpec | None = None


class ReleaseDoc(Model):
    api_version: Literal["launchdeck/v1"]
    kind: Literal["Release"]
    metadata: Metadata
    spec: ReleaseSpec


class TrainDoc(Model):
    api_version: Literal["launchdeck/v1"]
    kind: Literal["ReleaseTrain"]
    metadata: Metadata
    spec: TrainSpec
