"""``kind: Tenant``: the tenant's configuration, its people and its chat workspace.

A person here is who a chat user or an e-mail address is in launchdeck: the plan roles they act in
(sre, release-manager…) come from the plans, their API role from their token; this adds how to reach
and recognise them.
"""

from typing import Literal

from pydantic import Field

from launchdeck.plan.fields import Model
from launchdeck.tenants.base import TenantMetadata


class PersonSpec(Model):
    name: str = Field(min_length=1, max_length=120, description="as the plans' `roles:` and tokens name them")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    slack: str | None = Field(None, pattern=r"^[UW][A-Z0-9]+$", description="Slack user id (U…)")
    roles: list[str] = Field([], description="plan roles this person holds across the tenant's plans")


class SlackSpec(Model):
    team: str = Field(pattern=r"^T[A-Z0-9]+$", description="the Slack workspace (team id) of this tenant")
    channels: list[str] = Field([], description="channel ids (C…) whose commands act for this tenant")


class TenantSpec(Model):
    people: list[PersonSpec] = []
    slack: SlackSpec | None = None


class TenantDoc(Model):
    api_version: Literal["launchdeck/v1"]
    kind: Literal["Tenant"]
    metadata: TenantMetadata
    spec: TenantSpec = TenantSpec()

    def problems(self) -> list[tuple[tuple[str | int, ...], str, str]]:
        """Cross-field problems: (path, what is wrong, what to write)."""
        out: list[tuple[tuple[str | int, ...], str, str]] = []
        seen: dict[str, set[str]] = {"name": set(), "email": set(), "slack": set()}
        for i, person in enumerate(self.spec.people):
            for field in ("name", "email", "slack"):
                value = getattr(person, field)
                if value is None:
                    continue
                if value in seen[field]:
                    out.append((("spec", "people", i, field), f"{field} '{value}' is given to two people",
                                f"each person has their own {field}"))
                seen[field].add(value)
        return out
