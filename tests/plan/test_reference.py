"""docs/plan-reference.md against the plan's JSON Schema, so neither drifts from the other.

The reference has one table row per field path (`spec.analysis.warmup`, `spec.stages[].weight`,
`spec.notifications.channels.<name>.type`). The schema is walked the same way: every named
property is a path, `[]` steps into a list's items and `<name>` into a map's values. Then: every
schema path has a row and every row is a schema path, the row's `in` column names the document
kinds that have it, a required field says `required`, a default is the schema's default (read
with the plan's own units, so `1m` matches 60 seconds), and every allowed value is listed. The
YAML examples in the reference validate, and every relative link in README.md and docs/ stays
inside the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from launchdeck.plan import json_schema, load_plan, units

ROOT = Path(__file__).parents[2]
REFERENCE = ROOT / "docs" / "plan-reference.md"
ROW_HELP = ("add a row `| `PATH` | in | type | default | meaning |` to the table of its section in "
            "docs/plan-reference.md (in: Release, ReleaseTrain or both; default: required, none, or "
            "the value in backticks as a plan writes it); `launchdeck schema` shows the field")


@dataclass
class SchemaField:
    """One field path of the schema, as seen in each document kind that has it."""

    kinds: set[str] = field(default_factory=set)
    required: dict[str, bool] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # kind -> default, only where one is given
    schema: dict[str, Any] = field(default_factory=dict)
    allowed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Row:
    path: str
    kinds: str
    type: str
    default: str
    meaning: str
    line: int

    @property
    def text(self) -> str:
        return " ".join((self.type, self.default, self.meaning))


# -- the schema's paths ---------------------------------------------------------------------------

def schema_fields() -> dict[str, SchemaField]:
    schema = json_schema()
    defs = schema.get("$defs", {})
    fields: dict[str, SchemaField] = {}
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        doc = _resolve(branch, defs)
        kind_schema = doc["properties"]["kind"]
        kind = kind_schema.get("const") or kind_schema["enum"][0]
        _walk(doc, "", kind, defs, fields)
    return fields


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _branches(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's alternatives (anyOf/oneOf), resolved; null is not an alternative worth walking."""
    node = _resolve(node, defs)
    alternatives = node.get("anyOf", []) + node.get("oneOf", [])
    if not alternatives:
        return [node]
    out: list[dict[str, Any]] = []
    for alternative in alternatives:
        out += [b for b in _branches(alternative, defs) if b.get("type") != "null"]
    return out


def _walk(node: dict[str, Any], path: str, kind: str, defs: dict[str, Any],
          fields: dict[str, SchemaField]) -> None:
    for branch in _branches(node, defs):
        required = set(branch.get("required", []))
        for name, prop in branch.get("properties", {}).items():
            at = f"{path}.{name}" if path else name
            found = fields.setdefault(at, SchemaField())
            found.kinds.add(kind)
            found.required[kind] = name in required
            if "default" in prop:
                found.defaults[kind] = prop["default"]
            found.schema = prop
            found.allowed |= _allowed(prop, defs)
            _walk(prop, at, kind, defs, fields)
        if isinstance(branch.get("additionalProperties"), dict):
            _walk(branch["additionalProperties"], f"{path}.<name>", kind, defs, fields)
        if isinstance(branch.get("items"), dict):
            _walk(branch["items"], f"{path}[]", kind, defs, fields)


def _allowed(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """Every value an enum lets a plan write here (in lists and as map keys too)."""
    values: set[str] = set()
    for branch in _branches(node, defs):
        values |= {str(v) for v in branch.get("enum", [])}
        if "const" in branch:
            values.add(str(branch["const"]))
        for inner in ("items", "propertyNames"):
            if isinstance(branch.get(inner), dict):
                values |= _allowed(branch[inner], defs)
    return values


# -- the reference's rows -------------------------------------------------------------------------

def reference_rows() -> list[Row]:
    """Rows of every table whose header starts with `field`; the path is the first cell, in backticks."""
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(REFERENCE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == "field":
            in_table = True
            continue
        if not in_table or set(cells[0]) <= {"-", ":", " "}:
            continue
        match = re.fullmatch(r"`([^`]+)`", cells[0])
        assert match and len(cells) == 5, (
            f"docs/plan-reference.md:{number}: a field row is `| `PATH` | in | type | default | meaning |`; got {line!r}")
        rows.append(Row(match.group(1), cells[1], cells[2], cells[3], cells[4], number))
    return rows


def _kinds(cell: str, all_kinds: set[str]) -> set[str]:
    return set(all_kinds) if cell == "both" else {k.strip() for k in cell.split(",")}


def _documented_value(cell: str) -> tuple[bool, Any]:
    """(True, value) for a default written in backticks (read as YAML), or `none`; else (False, None)."""
    if cell == "none":
        return True, None
    match = re.match(r"`([^`]*)`", cell)
    if not match:
        return False, None
    return True, yaml.safe_load(match.group(1))


def _in_plan_units(value: Any, node: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value as the plan model reads it: durations in seconds, ratios as fractions, latencies in ms."""
    if value is None:
        return None
    for branch in _branches(node, defs):
        pattern = branch.get("pattern", "")
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            if "(ms|s|m|h|d)" in pattern:
                return units.parse_signed_duration(value)
            if "(ms|s)" in pattern:
                return units.parse_latency_ms(value)
            if pattern.endswith("%$"):
                return units.parse_ratio(value)
        if isinstance(value, dict) and "properties" in branch:
            props = branch["properties"]
            return {k: _in_plan_units(v, props[k], defs) if k in props else v for k, v in value.items()}
        if isinstance(value, list) and isinstance(branch.get("items"), dict):
            return [_in_plan_units(v, branch["items"], defs) for v in value]
    return value


def _as_written(value: Any, node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A schema default as a plan writes it (60.0 seconds -> `1m`), for messages."""
    if value is None:
        return "none"
    for branch in _branches(node, defs):
        pattern = branch.get("pattern", "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "(ms|s|m|h|d)" in pattern:
                return f"`{units.format_duration(value) if value else '0s'}`"
            if "(ms|s)" in pattern:
                return f"`{value:g}ms`"
            if pattern.endswith("%$"):
                return f"`{value * 100:g}%`"
    return f"`{yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix('...').strip()}`"


@pytest.fixture(scope="module")
def fields() -> dict[str, SchemaField]:
    return schema_fields()


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return reference_rows()


def test_every_schema_field_is_in_the_reference(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    missing = sorted(set(fields) - {r.path for r in rows})
    assert not missing, (f"docs/plan-reference.md does not document {len(missing)} field(s) of the plan schema: "
                         + ", ".join(missing) + f".\nFor each one, {ROW_HELP}.")


def test_every_documented_field_is_in_the_schema(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    extra = [f"{r.path} (line {r.line})" for r in rows if r.path not in fields]
    assert not extra, (f"docs/plan-reference.md documents {len(extra)} field(s) the plan schema does not have: "
                       + ", ".join(extra) + ".\nRemove the row, or correct its path to the field's name in "
                       "`launchdeck schema` (a renamed or moved field?). Lists are written `[]`, map keys `<name>`.")


def test_each_field_is_documented_once(rows: list[Row]) -> None:
    seen: dict[str, int] = {}
    twice = [f"{r.path} (lines {seen[r.path]} and {r.line})" for r in rows if seen.setdefault(r.path, r.line) != r.line]
    assert not twice, "docs/plan-reference.md documents a field more than once: " + ", ".join(twice) + "; keep one row."


def test_each_row_names_the_document_kinds_that_have_the_field(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    every = set().union(*(f.kinds for f in fields.values()))
    wrong = [f"{r.path} (line {r.line}): in is '{r.kinds}', the schema has it in "
             + ("both" if fields[r.path].kinds == every else ", ".join(sorted(fields[r.path].kinds)))
             for r in rows if r.path in fields and _kinds(r.kinds, every) != fields[r.path].kinds]
    assert not wrong, "the `in` column disagrees with the schema:\n" + "\n".join(wrong)


def test_required_fields_say_so_and_only_they_do(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    wrong = []
    for r in (r for r in rows if r.path in fields):
        required = set(fields[r.path].required.values())
        if r.default == "required" and required != {True}:
            wrong.append(f"{r.path} (line {r.line}) says required, but the schema gives it a default or lets it be left out")
        if True in required and r.default != "required":
            wrong.append(f"{r.path} (line {r.line}) is required by the schema; write `required` in its default column")
    assert not wrong, "\n".join(wrong)


def test_documented_defaults_are_the_schema_defaults(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    defs = json_schema().get("$defs", {})
    wrong = []
    for r in (r for r in rows if r.path in fields):
        found = fields[r.path]
        defaults = list(found.defaults.values())
        if not defaults or any(d != defaults[0] for d in defaults):
            continue  # no default, or one per kind (a train's shared section is `none` where a release's is a mapping)
        expected = defaults[0]
        given, value = _documented_value(r.default)
        if not given:
            if not isinstance(expected, dict):
                wrong.append(f"{r.path} (line {r.line}): write the default as a plan would, in backticks: "
                             + _as_written(expected, found.schema, defs))
            continue
        try:
            value = _in_plan_units(value, found.schema, defs)
        except ValueError as e:
            wrong.append(f"{r.path} (line {r.line}): the documented default {r.default} is not a valid value: {e}")
            continue
        if value != expected:
            wrong.append(f"{r.path} (line {r.line}): the reference says {r.default}, the plan model's default is "
                         + _as_written(expected, found.schema, defs))
    assert not wrong, "defaults in docs/plan-reference.md disagree with the plan model:\n" + "\n".join(wrong)


def test_every_allowed_value_is_listed(fields: dict[str, SchemaField], rows: list[Row]) -> None:
    wrong = []
    for r in (r for r in rows if r.path in fields):
        listed = set(re.findall(r"`([^`]+)`", r.text))
        absent = sorted(fields[r.path].allowed - listed)
        if absent:
            wrong.append(f"{r.path} (line {r.line}) does not list " + ", ".join(f"`{v}`" for v in absent))
    assert not wrong, ("each allowed value of an enumerated field is written in backticks in its row:\n"
                       + "\n".join(wrong))


def test_the_reference_examples_are_valid_plans(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", REFERENCE.read_text(encoding="utf-8"), re.S)
    plans = [b for b in blocks if b.startswith("apiVersion:")]
    assert plans, "docs/plan-reference.md should show at least one complete plan"
    for i, text in enumerate(plans):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(text, encoding="utf-8")
        assert load_plan(path).name


# -- links ----------------------------------------------------------------------------------------

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")


def _anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#+\s+(.*)$", document.read_text(encoding="utf-8"), re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_in_the_repository(document: Path) -> None:
    broken = []
    text = document.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto: leave the repository on purpose
        where, _, anchor = target.partition("#")
        resolved = (document.parent / where).resolve() if where else document
        if ROOT.resolve() not in (resolved, *resolved.parents):
            broken.append(f"{target}: leaves the repository (link to a file inside it, e.g. docs/plan-reference.md)")
        elif not resolved.exists():
            broken.append(f"{target}: no such file in the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {resolved.relative_to(ROOT.resolve())}")
    assert not broken, f"{document.relative_to(ROOT)} has links that do not resolve:\n" + "\n".join(broken)


#: Fields people write and tools read by meaning: `launchdeck schema` (an editor's hover) explains each.
EXPLAINED = ("metadata.tenant", "metadata.service", "metadata.version", "metadata.previousVersion", "metadata.labels",
             "spec.stages[].approve", "spec.analysis.minRequests", "spec.gates[].name", "spec.gates[].metric",
             "spec.gates[].op", "spec.gates[].threshold", "spec.gates[].for", "spec.gates[].severity",
             "spec.killSwitch.flag", "spec.roles", "spec.rollback.policy.urgent.default")


def test_the_fields_people_write_by_meaning_have_a_schema_description(fields: dict[str, SchemaField]) -> None:
    bare = [path for path in EXPLAINED if not fields[path].schema.get("description")]
    assert not bare, f"no description in `launchdeck schema` for: {', '.join(bare)}"
    labels = fields["metadata.labels"].schema["description"]
    assert all(word in labels for word in ("environment", "region", "residency", "link")), labels
