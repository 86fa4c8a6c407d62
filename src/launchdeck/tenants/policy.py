"""``kind: TenantPolicy``: the guard rails no plan of the tenant may bend.

* ``lockedSlos``: gates (written as plan gates) every release of the tenant carries; a plan may name
  one to make it stricter, never looser;
* ``limits``: the largest first step, the shortest hold, roles that must sign off, allowed regions and
  residency;
* ``budget``: the monthly budget, its spend source, alert thresholds, the page level and the forecast;
* ``errorBudgets``: an SLO per service and its multiwindow burn-rate alerts;
* ``enforcement``: what happens on a paging alert (pause, shrink, hook), at once or after approval;
* ``autonomy``: the tier (1-3), who a person is when one must act, and the safety targets.
"""

from typing import Literal

from pydantic import Field, model_validator

from launchdeck.plan.fields import Duration, Model, Ratio, Weight
from launchdeck.plan.model import ChannelSpec, GateSpec
from launchdeck.tenants.base import TenantMetadata


class LimitsSpec(Model):
    max_first_step: Weight | None = None
    """The largest weight the first stage may send to the canary."""
    min_hold: Duration | None = None
    """The shortest hold any stage may have."""
    required_roles: list[str] = Field(default_factory=list)
    """Roles that must sign off at least one stage of every plan."""
    allowed_regions: list[str] = Field(default_factory=list)
    """``metadata.labels.region`` must be one of these (empty: any)."""
    residency: list[str] = Field(default_factory=list)
    """The plan must declare ``preflight.supplyChain.residency`` with its region and data stores in these."""


class PrometheusSpend(Model):
    url: str
    query: str
    """PromQL giving the tenant's spend per hour (currency units); read with query_range, one point an hour."""


class SpendSource(Model):
    file: str | None = None
    """CSV (``at,amount``) or JSON (``[{"at": ISO-8601, "amount": N}]``) spend records, read at each check."""
    prometheus: PrometheusSpend | None = None

    @model_validator(mode="after")
    def _one(self) -> "SpendSource":
        if (self.file is None) == (self.prometheus is None):
            raise ValueError("name one spend source: file: spend.csv, or prometheus: {url: …, query: …}")
        return self


class ForecastSpec(Model):
    horizon: Duration = 72 * 3600.0
    level: Ratio = 0.90
    """The prediction interval's coverage; exhaustion inside it (its upper bound reaches the budget) alerts."""


class BudgetSpec(Model):
    monthly: float = Field(gt=0)
    currency: str = "USD"
    thresholds: list[Ratio] = Field(default_factory=lambda: [0.75, 0.85, 0.95, 1.0])
    page_at: Ratio = 0.90
    forecast: ForecastSpec = ForecastSpec()
    spend: SpendSource | None = None
    """Where spend comes from besides records given with `launchdeck budget record`."""


class ErrorBudgetSpec(Model):
    service: str
    objective: Ratio
    window: Duration = 30 * 86400.0
    file: str | None = None
    """Request counts: JSON ``[{"at": ISO-8601, "total": N, "bad": N, "span": seconds}]`` or CSV with those columns."""
    prometheus: PrometheusSpend | None = None
    """``query`` gives the error ratio over ``{{window}}`` (filled in with 5m, 1h…)."""


class EnforcementSpec(Model):
    action: Literal["pause", "shrink", "hook", "none"] = "pause"
    automatic: bool = True
    """False: the action waits for an admin (`launchdeck budget protect --tenant T`)."""
    on: Literal["page", "any"] = "page"
    hook: str | None = None
    """``action: hook``: the command to run (no shell; ``{{tenant}}``, ``{{reason}}`` filled per argument)."""


class SafetySpec(Model):
    min_success: Ratio = 0.999
    max_compensation: Ratio = 0.005
    max_escalations_24h: int | None = Field(default=None, ge=0, alias="maxEscalations24h")
    """Escalations (releases ended held) allowed in 24 h; None: not counted against the tier."""


class AutonomySpec(Model):
    tier: Literal[1, 2, 3] = 3
    approvers: list[str] = Field(default_factory=list)
    """Plan roles that sign off each stage (tier 1) and decide rollbacks (tiers 1-2, overrides); empty: the
    plan's rollback authority, else every plan role."""
    safety: SafetySpec = SafetySpec()


class AlertsSpec(Model):
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    """Channels as a plan writes them (file, slack, webhook, pagerduty, teams, email), secrets as ``env:``."""
    notify: list[str] = Field(default_factory=list)
    """Channels every guard alert goes to (budget thresholds, forecast, burn rate, a tier dropped)."""
    page: list[str] = Field(default_factory=list)
    """Channels paging alerts go to as well (at or over ``budget.pageAt``, fast burns, a tier dropped)."""


class TenantPolicySpec(Model):
    """The tenant's guard rails."""

    locked_slos: list[GateSpec] = Field(default_factory=list)
    limits: LimitsSpec = LimitsSpec()
    budget: BudgetSpec | None = None
    error_budgets: list[ErrorBudgetSpec] = Field(default_factory=list)
    enforcement: EnforcementSpec = EnforcementSpec()
    autonomy: AutonomySpec = AutonomySpec()
    alerts: AlertsSpec = AlertsSpec()


class TenantPolicyDoc(Model):
    api_version: Literal["launchdeck/v1"]
    kind: Literal["TenantPolicy"]
    metadata: TenantMetadata
    spec: TenantPolicySpec = TenantPolicySpec()

    def problems(self) -> list[tuple[tuple[str | int, ...], str, str]]:
        """Cross-field problems: (path, what is wrong, what to write)."""
        found: list[tuple[tuple[str | int, ...], str, str]] = []
        names = [g.name for g in self.spec.locked_slos]
        for i, gate in enumerate(self.spec.locked_slos):
            if names.index(gate.name) != i:
                found.append((("spec", "lockedSlos", i, "name"), f"two locked SLOs are named {gate.name!r}",
                              "give each locked SLO its own name"))
            if gate.event is None and gate.metric is not None and gate.threshold is not None:
                from launchdeck.plan import units

                try:
                    units.parse_threshold(gate.threshold, gate.metric)
                except ValueError as e:
                    found.append((("spec", "lockedSlos", i, "threshold"), str(e), "write a threshold like 350ms or 2%"))
        e = self.spec.enforcement
        if e.action == "hook" and not e.hook:
            found.append((("spec", "enforcement", "hook"), "action: hook needs the command to run",
                          "hook: ./scripts/budget-protect.sh {{tenant}}"))
        for key in ("notify", "page"):
            for i, name in enumerate(getattr(self.spec.alerts, key)):
                if name not in self.spec.alerts.channels:
                    known = ", ".join(self.spec.alerts.channels) or "(none defined)"
                    found.append((("spec", "alerts", key, i), f"channel {name!r} is not in alerts.channels",
                                  f"define it under alerts.channels, or use one of: {known}"))
        for i, eb in enumerate(self.spec.error_budgets):
            if (eb.file is None) == (eb.prometheus is None):
                found.append((("spec", "errorBudgets", i), "an error budget needs one source of request counts",
                              "file: requests.json, or prometheus: {url: …, query: …}"))
        return found
