"""What every tenant document has: ``apiVersion``, ``kind``, ``metadata.tenant`` and a ``spec``."""

from pydantic import Field

from launchdeck.plan.fields import Model

TENANT_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class TenantMetadata(Model):
    tenant: str = Field(pattern=TENANT_NAME, max_length=120, description="the tenant the document is for")
