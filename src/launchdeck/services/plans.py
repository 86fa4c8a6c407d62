"""Plans sent as text (the API's): validated with the same problems as `launchdeck validate`, checked to be
the tenant's, and registered one version per distinct text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from launchdeck.errors import NotFound, Refused
from launchdeck.plan import LoadedPlan, advice, load_plan_text
from launchdeck.services import guardrails
from launchdeck.store import plans
from launchdeck.store.plans import RegisteredPlan
from launchdeck.store.repo import Store

SOURCE = "plan.yaml"


@dataclass(frozen=True)
class Checked:
    plan: LoadedPlan
    warnings: list[str]

    @property
    def kind(self) -> str:
        return "ReleaseTrain" if self.plan.is_train else "Release"


def check(text: str, *, tenant: str, source: str = SOURCE, store: Store | None = None) -> Checked:
    """The valid plan and its warnings (``plan.advice``, a tenant other than the caller's); PlanError otherwise,
    also when ``store`` holds a policy of the tenant's that the plan bends (services.guardrails)."""
    loaded = load_plan_text(text, source)
    if store is not None:
        guardrails.require_within(store, loaded, tenant)
    warnings = advice.of_plan(loaded)
    mismatch = tenant_refusal(loaded, tenant)
    if mismatch:
        warnings.append(f"{mismatch}: registering or starting it is refused")
    return Checked(loaded, warnings)


def tenant_refusal(loaded: LoadedPlan, tenant: str) -> str | None:
    """Why the plan is not ``tenant``'s: it names another in ``metadata.tenant`` (a plan naming none is
    taken to be the caller's)."""
    md = loaded.doc.metadata
    if "tenant" in md.model_fields_set and md.tenant != tenant:
        return f"the plan's metadata.tenant is '{md.tenant}', not your tenant '{tenant}'"
    return None


def require_tenant(loaded: LoadedPlan, tenant: str) -> None:
    refused = tenant_refusal(loaded, tenant)
    if refused:
        raise Refused(refused, hint=f"set metadata.tenant to '{tenant}' (or leave it out), or use a token of "
                                    f"tenant '{loaded.doc.metadata.tenant}'")


def register(store: Store, text: str, *, tenant: str, by: str) -> tuple[RegisteredPlan, Checked, bool]:
    """Validate and keep the plan for the tenant; returns it, the check, and whether this text is new."""
    checked = check(text, tenant=tenant, store=store)
    require_tenant(checked.plan, tenant)
    kept, new = plans.register(store, tenant=tenant, name=checked.plan.name, digest=checked.plan.digest, text=text,
                               by=by)
    return kept, checked, new


def registered(store: Store, *, tenant: str, name: str) -> RegisteredPlan:
    found = plans.latest(store, tenant=tenant, name=name) if name and "\x00" not in name else None
    if found is None:
        raise NotFound(f"no registered plan named '{name}'",
                       hint="register it with POST /api/v1/plans, or start the release with planText")
    return found


def kind_of(text: str) -> str:
    """A registered (so valid) plan's kind, read without parsing it again."""
    return "ReleaseTrain" if re.search(r"^kind:\s*['\"]?ReleaseTrain\b", text, re.MULTILINE) else "Release"
