"""The budget guard: a tenant's spend and error budgets checked against its policy, alerts raised once,
and the policy's enforcement applied (pause, shrink, hook), at once or after an admin's approval.

``check`` is what `launchdeck budget status`, `budget record`, the API and the workers (every second, for
each tenant with a budget) call; it is idempotent: an alert already raised is not raised again, an action
already in force is not taken again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from launchdeck.errors import Refused, UsageError
from launchdeck.guard import budget, burnrate, enforcement, forecast
from launchdeck.services import alerting
from launchdeck.services.guardrails import TenantRails, rails_of
from launchdeck.store import guard as stored
from launchdeck.store import guard_delivery
from launchdeck.store.repo import Store, now_utc
from launchdeck.tenants.policy import ErrorBudgetSpec, PrometheusSpend

log = logging.getLogger("launchdeck.guard")
#: A forecast is fitted at most this often per tenant (seconds): fitting costs ~0.1 s of CPU.
FORECAST_EVERY = 60.0
_forecasts: dict[tuple[str, str, int], tuple[float, int, float, forecast.SpendForecast]] = {}


@dataclass(frozen=True)
class BudgetReport:
    tenant: str
    policy_version: int | None
    month: str = ""
    monthly: float = 0.0
    currency: str = ""
    spent: float = 0.0
    forecast: forecast.SpendForecast | None = None
    alerts: tuple[stored.Alert, ...] = ()
    """This month's alerts, oldest first."""
    raised: tuple[stored.Alert, ...] = ()
    """Those raised by this check."""
    burn: tuple[dict[str, Any], ...] = ()
    state: stored.GuardState | None = None
    note: str = ""
    deliveries: dict[int, tuple[guard_delivery.Delivery, ...]] = field(default_factory=dict)
    """Each alert's deliveries to its channels, by alert id."""

    def to_json(self) -> dict[str, Any]:
        fc = self.forecast
        st = self.state
        return {
            "tenant": self.tenant, "policyVersion": self.policy_version, "month": self.month, "budget": self.monthly,
            "currency": self.currency, "spent": round(self.spent, 2),
            "ratio": round(self.spent / self.monthly, 4) if self.monthly else None,
            "forecast": None if fc is None else {
                "horizonHours": fc.horizon_hours, "mean": round(fc.mean, 2), "lower": round(fc.lower, 2),
                "upper": round(fc.upper, 2), "level": fc.level, "exhaustionHours": fc.exhaustion_hours,
                "expectedExhaustionHours": fc.expected_exhaustion_hours, "method": fc.method, "reason": fc.reason},
            "alerts": [alerting.alert_json(a, self.deliveries) for a in self.alerts],
            "raised": [alerting.alert_json(a, self.deliveries) for a in self.raised],
            "burn": list(self.burn),
            "enforcement": None if st is None else {"action": st.action, "pending": st.action_pending,
                                                    "reason": st.action_reason},
            **({"note": self.note} if self.note else {}),
        }


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# -- spend ---------------------------------------------------------------------------------------------------

def parse_records(text: str, source: str) -> list[tuple[datetime, float]]:
    """Spend records from CSV (``at,amount`` with a header) or JSON (``[{"at": …, "amount": …}]``)."""
    rows: list[dict[str, Any]]
    stripped = text.lstrip()
    try:
        if stripped.startswith(("[", "{")):
            data = json.loads(text)
            rows = data if isinstance(data, list) else data.get("records", [])
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        out = []
        for i, row in enumerate(rows, 1):
            at = datetime.fromisoformat(str(row["at"]))
            out.append((at if at.tzinfo else at.replace(tzinfo=UTC), float(row["amount"])))
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{source}: not spend records ({e})",
                         hint='write CSV with a header "at,amount" (ISO-8601 time, amount spent in that hour), or '
                              'JSON [{"at": "2026-12-01T10:00:00Z", "amount": 12.5}]') from None


def record(store: Store, *, tenant: str, text: str, source: str, who: str) -> tuple[int, BudgetReport]:
    """Keep the spend records and check the budget at once (so a breach acts within the call)."""
    records = parse_records(text, source)
    n = stored.add_spend(store, tenant=tenant, source=source[:200], records=records)
    log.info("%s recorded %d spend records for %s from %s", who, n, tenant, source)
    return n, check(store, tenant=tenant)


def _file_spend(path: str) -> list[tuple[datetime, float]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read the spend file {path}: {e.strerror}",
                         hint="give spec.budget.spend.file as a path the workers and the server can read") from None
    return parse_records(text, path)


def _prometheus_spend(p: PrometheusSpend, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    import httpx

    try:
        r = httpx.get(f"{p.url.rstrip('/')}/api/v1/query_range", timeout=5.0,
                      params={"query": p.query, "start": start.timestamp(), "end": end.timestamp(), "step": 3600})
        r.raise_for_status()
        result = r.json()["data"]["result"]
    except (httpx.HTTPError, KeyError, ValueError) as e:
        raise UsageError(f"the spend query to {p.url} failed: {e}", hint="check spec.budget.spend.prometheus") from None
    # Several series (spend per service, per account…) add up: an hour's spend is their sum.
    hours: dict[float, float] = {}
    for series in result:
        for t, v in series["values"]:
            hours[float(t)] = hours.get(float(t), 0.0) + float(v)
    return [(datetime.fromtimestamp(t, UTC), amount) for t, amount in sorted(hours.items())]


#: How far back spend is read for the forecast's trend (the budget counts the month only).
HISTORY = timedelta(days=14)


def spend_of(store: Store, rails: TenantRails, now: datetime) -> list[tuple[datetime, float]]:
    """The tenant's spend records from ``HISTORY`` ago (or the month's start, if earlier) to ``now``."""
    start = min(month_start(now), now - HISTORY)
    # Keyed by source and time: a file both recorded (`budget record`) and named by the policy counts once.
    records = {(source, at): amount for source, at, amount in stored.spend_since(store, tenant=rails.tenant, since=start)}
    source = rails.spec.budget.spend if rails.spec.budget else None
    if source is not None and source.file:
        name = Path(source.file).name
        records.update({(name, at): a for at, a in _file_spend(source.file) if start <= at <= now})
    elif source is not None and source.prometheus:
        records.update({("prometheus", at): a for at, a in _prometheus_spend(source.prometheus, start, now)})
    return sorted((at, amount) for (_, at), amount in records.items())


def hourly(records: list[tuple[datetime, float]], now: datetime) -> tuple[float, ...]:
    """Spend per hour from the first record's hour to the last complete hour."""
    if not records:
        return ()
    first = records[0][0].replace(minute=0, second=0, microsecond=0)
    hours = max(1, int((now - first).total_seconds() // 3600))
    buckets = [0.0] * hours
    for at, amount in records:
        i = int((at - first).total_seconds() // 3600)
        if 0 <= i < hours:
            buckets[i] += amount
    return tuple(buckets[-24 * 14:])


# -- the check -----------------------------------------------------------------------------------------------

def check(store: Store, *, tenant: str, now: datetime | None = None) -> BudgetReport:
    """Check the tenant's budget and error budgets now; raise new alerts; apply the policy's enforcement."""
    now = now or now_utc()
    rails = rails_of(store, tenant)
    if rails is None:
        return BudgetReport(tenant, None, state=stored.state(store, tenant=tenant),
                            note="no TenantPolicy applied: no budget guard")
    spec = rails.spec
    month = now.strftime("%Y-%m")
    candidates: list[stored.Alert] = []
    spent, fc, note = 0.0, None, ""
    b = spec.budget
    records: list[tuple[datetime, float]] | None = None
    if b is not None:
        try:
            records = spend_of(store, rails, now)
        except UsageError as e:  # one tenant's unreadable source must not hide every other tenant's status
            note = f"spend not read: {e.message} ({e.hint})" if e.hint else f"spend not read: {e.message}"
            log.warning("tenant %s: %s", tenant, note)
    if b is not None and records is not None:
        spent = sum(a for at, a in records if at >= month_start(now))
        fired = stored.fired_keys(store, tenant=tenant, prefix=f"budget:{month}:")
        keys = frozenset(tuple(k.split(":")[1:3]) + (float(k.split(":")[3]),) for k in fired)  # type: ignore[misc]
        actual = budget.crossed(month=month, budget=b.monthly, spent=spent, thresholds=tuple(b.thresholds),
                                page_at=b.page_at, fired=keys)  # type: ignore[arg-type]
        fc = _forecast(tenant, month, rails.version, records, spent, b.monthly, b.forecast.horizon, b.forecast.level, now)
        ahead = ()
        if fc is not None:
            hours = int(b.forecast.horizon // 3600)
            ahead = budget.crossed(month=month, budget=b.monthly, spent=fc.upper, basis="forecast",
                                   thresholds=tuple(t for t in b.thresholds if t >= 1.0) or (1.0,), page_at=b.page_at,
                                   fired=keys, within=f"within {hours} h (upper bound of the {fc.level:.0%} interval)") \
                if fc.exhaustion_inside else ()
        candidates += [stored.Alert(tenant, f"budget-{a.basis}", f"budget:{a.month}:{a.basis}:{a.threshold}", a.page,
                                    a.reason, now) for a in (*actual, *ahead)]
    burn_json = []
    for eb in spec.error_budgets:
        try:
            ratio = _burn_ratio(eb, now)
            fired = burnrate.alerts_from_ratios(ratio, objective=eb.objective)
            left = ratio(eb.window)
            rates = {burnrate._words(w): round(burnrate.burn_rate(ratio(w), eb.objective), 3)
                     for w in (300.0, 1800.0, 3600.0, 21600.0, 259200.0)}
        except UsageError as e:
            burn_json.append({"service": eb.service, "error": e.message})
            continue
        for alert in fired:
            w = alert.window
            candidates.append(stored.Alert(tenant, "burn-rate", f"burn:{eb.service}:{w.factor:g}:{now:%Y-%m-%dT%H}",
                                           alert.page, f"{eb.service}: {alert.reason}", now))
        burn_json.append({"service": eb.service, "objective": eb.objective,
                          "remaining": round(1.0 if left is None else 1.0 - burnrate.burn_rate(left, eb.objective), 4),
                          "rates": rates})
    raised = stored.raise_alerts(store, candidates, channels=lambda a: alerting.channels_of(rails, a))
    for a in raised:
        log.warning("tenant %s: %s%s", tenant, "PAGE " if a.page else "", a.reason)
    alerting.deliver(store, rails)  # the new alerts, and earlier ones whose retry is due
    this_month = tuple(stored.alerts(store, tenant=tenant, since=month_start(now)))
    sent = guard_delivery.of_alerts(store, (a.id for a in this_month if a.id is not None))
    st = _enforce(store, rails, tuple(raised), now)
    return BudgetReport(tenant, rails.version, month, b.monthly if b else 0.0, b.currency if b else "", spent, fc,
                        this_month, tuple(raised), tuple(burn_json), st, note, sent)


def _forecast(tenant: str, month: str, version: int, records: list[tuple[datetime, float]], spent: float,
              monthly: float, horizon: float, level: float, now: datetime) -> forecast.SpendForecast | None:
    """The forecast, fitted again only when a minute passed, an hour of data was added, or the month's spend
    moved by 1% of the budget since the last fit (a worker checks every second; a fit costs ~0.1 s of CPU)."""
    if not records:
        return None
    series = hourly(records, now)
    key = (tenant, month, version)
    cached = _forecasts.get(key)
    if cached is not None:
        at, hours, was, fc = cached
        if now.timestamp() - at < FORECAST_EVERY and hours == len(series) and abs(spent - was) < 0.01 * monthly:
            return fc
    fc = forecast.forecast_spend(series, spent=spent, budget=monthly, horizon_hours=int(horizon // 3600), level=level)
    if len(_forecasts) > 1000:
        _forecasts.clear()
    _forecasts[key] = (now.timestamp(), len(series), spent, fc)
    return fc


def _burn_ratio(eb: ErrorBudgetSpec, now: datetime) -> Callable[[float], float | None]:
    """The service's error ratio over a window (seconds) ending ``now``: counted from its request-count file,
    or its Prometheus query (``{{window}}`` filled in), read once per window."""
    if eb.prometheus is not None:
        seen: dict[float, float | None] = {}

        def asked(window: float) -> float | None:
            if window not in seen:
                seen[window] = _prometheus_ratio(eb, window, now)
            return seen[window]
        return asked
    samples = _burn_samples(eb)
    return lambda window: burnrate.error_ratio(samples, now=now.timestamp(), window=window)


def _prometheus_ratio(eb: ErrorBudgetSpec, window: float, now: datetime) -> float | None:
    import math

    import httpx

    assert eb.prometheus is not None
    p = eb.prometheus
    promql = p.query.replace("{{window}}", burnrate._words(window))
    try:
        r = httpx.get(f"{p.url.rstrip('/')}/api/v1/query", timeout=5.0,
                      params={"query": promql, "time": f"{now.timestamp():.3f}"})
        body = r.json()
    except (httpx.HTTPError, ValueError) as e:
        raise UsageError(f"error budget {eb.service}: the query to {p.url} failed: {e.__class__.__name__}: {e}",
                         hint="check errorBudgets[].prometheus.url and that Prometheus runs there") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        said = body.get("error") if isinstance(body, dict) else None
        raise UsageError(f"error budget {eb.service}: Prometheus refused {promql!r}: {said or f'HTTP {r.status_code}'}",
                         hint="errorBudgets[].prometheus.query must be PromQL giving one error ratio over "
                              "{{window}}") from None
    result = body.get("data", {}).get("result")
    if body.get("data", {}).get("resultType") == "scalar" and isinstance(result, list):
        result = [{"value": result}]
    if not result:
        return None  # no traffic in the window
    if not isinstance(result, list) or len(result) != 1 or "value" not in result[0]:
        raise UsageError(f"error budget {eb.service}: {promql!r} gives {len(result) if isinstance(result, list) else 0}"
                         " series, not one error ratio", hint="aggregate it, e.g. sum(…) / sum(…)")
    value = float(result[0]["value"][1])
    return None if math.isnan(value) or math.isinf(value) else value


def _burn_samples(eb: ErrorBudgetSpec) -> tuple[burnrate.Sample, ...]:
    assert eb.file is not None
    try:
        text = Path(eb.file).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read {eb.file}: {e.strerror}") from None
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else list(csv.DictReader(io.StringIO(text)))
        out = []
        for row in rows:
            at = datetime.fromisoformat(str(row["at"]))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            out.append(burnrate.Sample(at.timestamp(), float(row["total"]), float(row["bad"]),
                                       float(row.get("span") or 60.0)))
        return tuple(out)
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{eb.file}: not request counts ({e})",
                         hint='JSON [{"at": ISO-8601, "total": N, "bad": N}] or CSV at,total,bad') from None


def error_budget_remaining(store: Store, *, tenant: str, service: str | None,
                           now: datetime | None = None) -> float | None:
    """The share of the service's error budget left (the tenant's ``errorBudgets`` entry for it); None when the
    tenant keeps none for it or its counts cannot be read (a gate on it is then inconclusive)."""
    rails = rails_of(store, tenant)
    spec = next((e for e in rails.spec.error_budgets if e.service == service), None) if rails else None
    if spec is None:
        return None
    now = now or now_utc()
    try:
        ratio = _burn_ratio(spec, now)(spec.window)
    except UsageError:
        return None
    return 1.0 if ratio is None else 1.0 - burnrate.burn_rate(ratio, spec.objective)


def _enforce(store: Store, rails: TenantRails, alerts: tuple[stored.Alert, ...], now: datetime) -> stored.GuardState:
    """Act on the alerts raised now (an action lifted by an admin is not taken again for the same alerts)."""
    spec = rails.spec.enforcement
    st = stored.state(store, tenant=rails.tenant)
    rule = enforcement.EnforcementRule(spec.action, spec.automatic, spec.on)
    decided = enforcement.decide(rule, alerts=tuple((a.page, a.reason) for a in alerts))
    if decided.action == "none" or (st.action == decided.action and (st.action_pending or not decided.take_now)):
        return st
    if st.action == decided.action and not st.action_pending:
        return st  # already in force
    if decided.take_now:
        st = stored.update(store, tenant=rails.tenant, who="launchdeck", kind="enforce", reason=decided.reason,
                           action=decided.action, action_pending=False, action_reason=decided.reason, action_at=now)
        if decided.action == "hook" and spec.hook:
            _run_hook(spec.hook, rails.tenant, decided.reason)
        return st
    return stored.update(store, tenant=rails.tenant, who="launchdeck", kind="enforce-pending", reason=decided.reason,
                         action=decided.action, action_pending=True, action_reason=decided.reason, action_at=now)


def _run_hook(command: str, tenant: str, reason: str) -> None:
    from launchdeck.adapters import process

    async def go() -> None:
        ran = await process.run(command, values={"tenant": tenant, "reason": reason}, cwd=Path.cwd(), timeout=60.0)
        log.warning("tenant %s: enforcement hook %s", tenant, "ran" if ran.ok else ran.describe())

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(go())
        return
    loop.create_task(go())


def protect(store: Store, *, tenant: str, who: str, lift: bool = False) -> stored.GuardState:
    """`budget protect`: take the policy's action now (approving one that waits), or lift it (``lift``)."""
    rails = rails_of(store, tenant)
    if rails is None:
        raise Refused(f"tenant {tenant} has no TenantPolicy", hint="apply one with `launchdeck tenant apply FILE`")
    if lift:
        return stored.update(store, tenant=tenant, who=who, kind="protect-lifted", reason=f"lifted by {who}",
                             action="none", action_pending=False, action_reason="")
    action = rails.spec.enforcement.action if rails.spec.enforcement.action != "none" else "pause"
    reason = f"emergency budget protection by {who}"
    st = stored.update(store, tenant=tenant, who=who, kind="protect", reason=reason, action=action,
                       action_pending=False, action_reason=reason, action_at=now_utc())
    if action == "hook" and rails.spec.enforcement.hook:
        _run_hook(rails.spec.enforcement.hook, tenant, reason)
    return st


def status(store: Store, *, tenants: list[str]) -> list[BudgetReport]:
    return [check(store, tenant=t) for t in tenants]


def every_tenant(store: Store) -> list[str]:
    return sorted(set(stored.tenants(store)) | {d.tenant for d in policy_documents(store)})


def policy_documents(store: Store) -> list[Any]:
    """The newest TenantPolicy of every tenant that has one."""
    from launchdeck.services import tenants as docs

    return [d for d in docs.documents(store) if d.kind == "TenantPolicy"]

