"""``kind: TenantPolicy``: the guard rails no plan of the tenant may bend."""

from typing import Literal

from launchdeck.plan.fields import Model
from launchdeck.tenants.base import TenantMetadata


class TenantPolicySpec(Model):
    """The tenant's guard rails."""


class TenantPolicyDoc(Model):
    api_version: Literal["launchdeck/v1"]
    kind: Literal["TenantPolicy"]
    metadata: TenantMetadata
    spec: TenantPolicySpec = TenantPolicySpec()

    def problems(self) -> list[tuple[tuple[str | int, ...], str, str]]:
        """Cross-field problems: (path, what is wrong, what to write)."""
        return []
