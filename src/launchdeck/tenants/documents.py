"""Read and check a tenant document, with every problem located (file:line) as plan problems are.

One document per file; ``launchdeck tenant apply`` takes several files. The kinds and their models:
``Tenant`` (``directory.py``) and ``TenantPolicy`` (``policy.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from launchdeck.errors import PlanError, PlanProblem
from launchdeck.plan import limits, yamlsrc
from launchdeck.plan.loader import located, validation_problems
from launchdeck.tenants.directory import TenantDoc
from launchdeck.tenants.policy import TenantPolicyDoc

#: Each kind of tenant document and its model.
KINDS: dict[str, type[TenantDoc] | type[TenantPolicyDoc]] = {"Tenant": TenantDoc, "TenantPolicy": TenantPolicyDoc}
_WHAT = "the tenant document"
_START = "start with `apiVersion: launchdeck/v1`, `kind: Tenant` (or `TenantPolicy`) and `metadata: {tenant: NAME}`"


@dataclass(frozen=True)
class TenantDocument:
    """A valid tenant document: its model, its text and digest, and where each of its values is."""

    doc: TenantDoc | TenantPolicyDoc
    text: str
    digest: str
    source: yamlsrc.Located

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def tenant(self) -> str:
        return self.doc.metadata.tenant

    @property
    def file(self) -> str:
        return self.source.file

    def line_of(self, *path: str | int) -> int:
        """The line of a value (its nearest known parent when it is absent), for problems that name it."""
        return self.source.line_of(path)


def load_file(path: str | Path) -> TenantDocument:
    path = Path(path)
    bounds = limits.limits_from_env()
    raw = limits.read_file(path, "tenant document", bounds)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PlanError([PlanProblem(str(path), 1, "", "the document is not UTF-8 text", "save it as UTF-8")]) from e
    return load_text(text, str(path))


def load_text(text: str, file: str) -> TenantDocument:
    """Check a tenant document given as text; PlanError lists every problem, each located in ``file``."""
    bounds = limits.limits_from_env()
    src = yamlsrc.load(text, file, bounds, empty_fix=_START)
    if not isinstance(src.data, dict):
        raise PlanError([PlanProblem(file, 1, "", "a tenant document is a mapping at the top level", _START)], what=_WHAT)
    kind = src.data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise PlanError([located(src, ("kind",), f"kind {kind!r} is not a tenant document",
                                 f"write one of: {', '.join(KINDS)}")], what=_WHAT)
    try:
        doc = model.model_validate(src.data)
    except pydantic.ValidationError as e:
        raise PlanError(validation_problems(e, src), what=_WHAT) from None
    problems = [located(src, p, m, f) for p, m, f in doc.problems()]
    if problems:
        raise PlanError(problems, what=_WHAT)
    digest = "sha256:" + hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
    return TenantDocument(doc, text, digest, src)


def json_schema() -> dict[str, Any]:
    """JSON Schema for tenant documents (either kind)."""
    adapter = pydantic.TypeAdapter(TenantDoc | TenantPolicyDoc)
    schema = adapter.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "launchdeck tenant document"
    return schema
