"""Plan file → validated plan: every problem at once, each with file:line and what to write.

A ``ReleaseTrain`` is expanded here into one release spec per service (defaults, then the train's
shared sections, then the service's overrides; mappings merge key by key, lists replace), and each
expanded spec is validated like a plain release, with problems located in the file.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from launchdeck.errors import PlanError, PlanProblem
from launchdeck.plan import limits, model, rules, yamlsrc

_TRAIN_SHARED = ("roles", "checklists", "warRoom", "escalation", "postLaunch", "notifications",
                 "evidence", "preflight")


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan: its typed document, the raw bytes' digest, and (trains) each service's spec."""

    path: Path
    digest: str
    doc: model.ReleaseDoc | model.TrainDoc
    services: tuple[tuple[model.ServiceEntry, model.ReleaseSpec], ...] = ()
    text: str | None = None
    """The file's text, exactly what ``digest`` covers (None for a train's service: derived, not read)."""

    @property
    def name(self) -> str:
        return self.doc.metadata.name

    @property
    def is_train(self) -> bool:
        return isinstance(self.doc, model.TrainDoc)


def load_plan(path: str | Path) -> LoadedPlan:
    """Read and validate a plan file; raise PlanError listing every problem found."""
    path = Path(path)
    bounds = limits.limits_from_env()
    return _load(limits.read_file(path, "plan", bounds), path, bounds)


def load_plan_text(text: str, source: str = "plan.yaml") -> LoadedPlan:
    """Validate a plan given as text (the API's), with the same problems as ``load_plan``, located in
    ``source``. Its digest is that of the text's UTF-8 bytes, as if it were a file holding them."""
    bounds = limits.limits_from_env()
    raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) > bounds.max_bytes:
        raise limits.refused(source, f"the plan is {len(raw):,} bytes, over the limit of {bounds.max_bytes:,}",
                             "a plan is a few KB: check this is the right text")
    return _load(raw, Path(source), bounds)


def _load(raw: bytes, path: Path, bounds: limits.Limits) -> LoadedPlan:
    file = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PlanError([PlanProblem(file, 1, "", "the plan is not UTF-8 text", "save it as UTF-8")]) from e
    src = yamlsrc.load(text, file, bounds)
    if not isinstance(src.data, dict):
        raise PlanError([PlanProblem(file, 1, "", "a plan is a mapping at the top level",
                                     "start with `apiVersion: launchdeck/v1` and `kind: Release`")])
    kind = src.data.get("kind")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if kind == "ReleaseTrain":
        return _load_train(path, digest, src, text)
    try:
        doc = model.ReleaseDoc.model_validate(src.data)
    except pydantic.ValidationError as e:
        problems = _from_pydantic(e, src, ())
        salvaged = _salvage(model.ReleaseDoc, src.data, e)
        if salvaged is not None:  # report the cross-field problems too, all in one answer
            problems += [_problem(src, p, m, f)
                         for p, m, f in rules.check_release(salvaged.spec, metadata=salvaged.metadata)]
        raise PlanError(_unique(problems)) from None
    problems = [_problem(src, p, m, f) for p, m, f in rules.check_release(doc.spec, metadata=doc.metadata)]
    if problems:
        raise PlanError(problems)
    return LoadedPlan(path, digest, doc, text=text)


def _salvage(cls: type[pydantic.BaseModel], data: Any, error: pydantic.ValidationError) -> Any:
    """The document with each invalid value dropped (defaults take its place), if that validates."""
    data = copy.deepcopy(data)
    for _ in range(5):
        for item in error.errors(include_url=False):
            loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            parent = data
            for part in loc[:-1]:
                try:
                    parent = parent[part]
                except (KeyError, IndexError, TypeError):
                    break
            else:
                if loc and isinstance(parent, dict) and isinstance(loc[-1], str):
                    parent.pop(loc[-1], None)
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as e:
            error = e
    return None


def _load_train(path: Path, digest: str, src: yamlsrc.Located, src_text: str) -> LoadedPlan:
    doc = _validate(model.TrainDoc, src.data, src, ())
    spec_raw: dict[str, Any] = src.data["spec"]
    problems: list[PlanProblem] = []
    names = [s.name for s in doc.spec.services]
    services: list[tuple[model.ServiceEntry, model.ReleaseSpec]] = []
    for i, entry in enumerate(doc.spec.services):
        at: tuple[str | int, ...] = ("spec", "services", i)
        for j, dep in enumerate(entry.after):
            if dep not in names or dep == entry.name:
                problems.append(_problem(src, at + ("after", j), f"service '{dep}' is not in this train",
                                         rules._suggest(dep, [n for n in names if n != entry.name])))
        merged = copy.deepcopy(spec_raw.get("defaults") or {})
        for key in _TRAIN_SHARED:
            if key in spec_raw:
                merged = _merge(merged, {key: spec_raw[key]})
        overrides = {k: v for k, v in spec_raw["services"][i].items() if k not in ("name", "after")}
        merged = _merge(merged, overrides)
        try:
            spec = model.ReleaseSpec.model_validate(merged)
        except pydantic.ValidationError as e:
            problems += _from_pydantic(e, src, at, fallback=("spec", "defaults"), raw=spec_raw["services"][i])
            continue
        problems += [_problem(src, _locate_merged(p, at, spec_raw["services"][i]), m, f)
                     for p, m, f in rules.check_release(spec, base=(), metadata=doc.metadata)]
        services.append((entry, spec))
    problems += _cycles(doc.spec.services, src)
    if problems:
        raise PlanError(_unique(problems))
    return LoadedPlan(path, digest, doc, tuple(services), text=src_text)


def _locate_merged(path: tuple[str | int, ...], service_at: tuple[str | int, ...],
                   service_raw: dict[str, Any]) -> tuple[str | int, ...]:
    """A problem in an expanded service spec points at the override if there is one, else the defaults."""
    if path and path[0] in service_raw:
        return service_at + path
    if path and path[0] in _TRAIN_SHARED:
        return ("spec",) + path
    return ("spec", "defaults") + path


def _cycles(services: list[model.ServiceEntry], src: yamlsrc.Located) -> list[PlanProblem]:
    after = {s.name: set(s.after) for s in services}
    done: set[str] = set()
    order_problems: list[PlanProblem] = []
    remaining = dict(after)
    while remaining:
        ready = [n for n, deps in remaining.items() if deps <= done or not deps & set(remaining)]
        if not ready:
            loop = ", ".join(sorted(remaining))
            i = next(i for i, s in enumerate(services) if s.name in remaining)
            order_problems.append(_problem(src, ("spec", "services", i, "after"),
                                           f"services wait for each other in a loop: {loop}",
                                           "remove one `after` so the order has a start"))
            break
        for n in ready:
            done.add(n)
            remaining.pop(n)
    return order_problems


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _validate(cls: type[pydantic.BaseModel], data: Any, src: yamlsrc.Located,
              base: tuple[str | int, ...]) -> Any:
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError as e:
        raise PlanError(_unique(_from_pydantic(e, src, base))) from None


def _from_pydantic(error: pydantic.ValidationError, src: yamlsrc.Located, base: tuple[str | int, ...],
                   fallback: tuple[str | int, ...] | None = None,
                   raw: dict[str, Any] | None = None) -> list[PlanProblem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = base + loc
        if fallback is not None and raw is not None and not (loc and loc[0] in raw):
            path = fallback + loc if not (loc and loc[0] in _TRAIN_SHARED) else ("spec",) + loc
        message, fix = _explain(item, loc)
        problems.append(_problem(src, path, message, fix))
    return problems


def validation_problems(error: pydantic.ValidationError, src: yamlsrc.Located) -> list[PlanProblem]:
    """A document's pydantic errors as located problems, each with what to write instead (for any document
    read with ``yamlsrc``: plans, tenant documents)."""
    return _unique(_from_pydantic(error, src, ()))


def located(src: yamlsrc.Located, path: tuple[str | int, ...], message: str, fix: str) -> PlanProblem:
    """A problem at ``path`` in the document, with its line."""
    return _problem(src, path, message, fix)


def _problem(src: yamlsrc.Located, path: tuple[str | int, ...], message: str, fix: str) -> PlanProblem:
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
    return PlanProblem(src.file, src.line_of(path), dotted, message, fix)


def _explain(item: Any, loc: tuple[Any, ...]) -> tuple[str, str]:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    field = str(loc[-1]) if loc else "document"
    if kind == "extra_forbidden":
        return f"unknown field '{field}'", _field_hint(field, item)
    if kind == "missing":
        return f"'{field}' is required", f"add `{field}: ...`"
    if kind == "literal_error":
        return f"{item['input']!r} is not allowed here", f"write one of: {ctx.get('expected', '')}"
    if kind == "value_error":
        text = str(ctx.get("error", item["msg"]))
        message, _, fix = text.partition("; ")
        return message, fix
    if kind == "string_pattern_mismatch":
        return f"{item['input']!r} has the wrong form", f"write a value matching {ctx.get('pattern')}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{item['input']!r} is not a whole number", "write a whole number like 100"
    if kind in ("float_parsing", "float_type"):
        return f"{item['input']!r} is not a number", "write a number like 200"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"'{field}' should be a mapping", "write `key: value` pairs indented under it"
    if kind == "list_type":
        return f"'{field}' should be a list", "write [a, b] or one `- item` per line"
    if kind == "too_short":
        return f"'{field}' is empty", "give at least one entry"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal", "less_than"):
        return f"{item['input']!r} is out of range ({item['msg'].lower()})", "write a value within the range"
    return item["msg"], ""


def _field_hint(field: str, item: Any) -> str:
    import difflib  # only a plan with a problem needs it; a valid plan's check starts without it

    known = _fields_near(item)
    close = difflib.get_close_matches(field, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "remove it (docs/plan-reference.md lists every field)"


def _fields_near(item: Any) -> list[str]:
    # Pydantic does not tell which model refused the key; the field names of every document model (plans,
    # hooks, supply chain, tenant documents: each a subclass of fields.Model) are a good enough vocabulary
    # for "did you mean".
    names: set[str] = set()
    todo: list[type[pydantic.BaseModel]] = [model.Model, *(c for c in vars(model).values()
                                                           if isinstance(c, type) and issubclass(c, pydantic.BaseModel))]
    seen: set[type] = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        names.update(f.alias or n for n, f in cls.model_fields.items())
        todo.extend(cls.__subclasses__())
    return sorted(names)


def _unique(problems: list[PlanProblem]) -> list[PlanProblem]:
    seen: set[tuple[int, str, str]] = set()
    out = []
    for p in problems:
        key = (p.line, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def json_schema() -> dict[str, Any]:
    """JSON Schema for plan files (either kind), for editors to complete and check plans."""
    adapter = pydantic.TypeAdapter(model.ReleaseDoc | model.TrainDoc)
    schema = adapter.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "launchdeck plan"
    return schema
