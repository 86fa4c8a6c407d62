"""Tenant documents: what admins set for a whole tenant, above any one plan.

``kind: Tenant`` (``directory.py``) is the tenant's configuration: its people (chat user ids, e-mail, roles)
and chat workspace. ``kind: TenantPolicy`` (``policy.py``) holds its guard rails. ``documents.py`` reads
and checks either kind with located problems, as plans are; the store keeps every applied version
(``store/tenant_docs.py``); ``services/tenants.py`` applies and reads them for the CLI and the API.
"""
