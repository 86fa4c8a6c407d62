"""Reads YAML while remembering where every value came from, so problems can name file:line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from launchdeck.errors import PlanError, PlanProblem

Path_ = tuple[str | int, ...]


class PlanLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the key `on:` (routes) as True."""


PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PlanLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Located:
    """A YAML document's data and the line of every mapping key, list item and value in it."""

    file: str
    data: Any
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int:
        """The line of the deepest known prefix of ``path`` (a missing key points at its parent)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return 1


def load(text: str, file: str) -> Located:
    """Parse one YAML document; a syntax error becomes a located PlanError."""
    loader = PlanLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError([PlanProblem(file, 1, "", "the file is empty",
                                         "start with `apiVersion: launchdeck/v1` and `kind: Release`")])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        # An unclosed quote is found at the end of the file; where it opened is what the user needs.
        opened = e.context and "quoted scalar" in e.context
        mark = (e.context_mark if opened else None) or e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(p for p in (e.context, e.problem) if p)
        raise PlanError([PlanProblem(file, line, "", f"not valid YAML: {what}",
                                     "check indentation, colons and quotes on this line")]) from e
    except yaml.YAMLError as e:
        raise PlanError([PlanProblem(file, 1, "", f"not valid YAML: {e}", "")]) from e
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    problems: list[PlanProblem] = []
    _walk(node, (), lines, problems, file)
    if problems:
        raise PlanError(problems)
    return Located(file, data, lines)


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[PlanProblem],
          file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(PlanProblem(file, key_node.start_mark.line + 1,
                                            ".".join(map(str, path + (key,))),
                                            "this key appears twice in the same mapping",
                                            "keep one of them"))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _walk(item, path + (index,), lines, problems, file)
