"""docs/tenant-reference.md against `launchdeck schema tenant`: every field of a tenant document has a row."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from launchdeck.tenants import documents

REFERENCE = Path(__file__).parents[2] / "docs" / "tenant-reference.md"


def _paths(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> set[str]:
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    for option in node.get("anyOf", []):
        if option.get("type") != "null":
            return _paths(schema, option, prefix)
    if node.get("type") == "array" and "items" in node:
        return _paths(schema, node["items"], prefix + "[]")
    found = set()
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        found |= {path} | _paths(schema, sub, path)
    return found


def test_every_tenant_document_field_has_a_row_and_every_row_is_a_field() -> None:
    schema = documents.json_schema()
    fields = set().union(*(_paths(schema, kind, "") for kind in schema["anyOf"]))
    rows = set(re.findall(r"^\| `([^`]+)` \|", REFERENCE.read_text(), re.MULTILINE))
    assert fields - rows == set(), f"add a row to docs/tenant-reference.md for {sorted(fields - rows)}"
    assert rows - fields == set(), f"docs/tenant-reference.md names fields no tenant document has: {rows - fields}"


def test_the_readmes_tenant_policy_example_is_a_valid_document() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Guard rails per tenant"):]
    example = section[section.index("```yaml") + len("```yaml"):section.index("```", section.index("```yaml") + 7)]
    doc = documents.load_text(example, "README.md")
    assert doc.tenant == "mc"
