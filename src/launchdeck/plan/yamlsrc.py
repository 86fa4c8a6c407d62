"""Reads YAML while remembering where every value came from, so problems can name file:line.

The input is bounded before it is trusted: a file is read only if it is a regular file no larger
than ``max_bytes``, and composing stops as soon as the document, with its aliases expanded, holds
more values or text than the limits or nests deeper than ``max_depth``. So a "billion laughs" plan,
``/dev/zero`` or ``[[[[…]]]]`` is refused with a located PlanError in milliseconds, instead of
taking the machine's memory or Python's stack.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from launchdeck.errors import PlanError, PlanProblem, UsageError

Path_ = tuple[str | int, ...]

#: The environment variable that raises (or lowers) the size limit of plan and approvals files.
MAX_BYTES_ENV = "LAUNCHDECK_MAX_PLAN_BYTES"


@dataclass(frozen=True)
class Limits:
    """How much a YAML file may cost to read; past any of these it is refused, not parsed."""

    #: Bytes in the file. The largest example plan is 5 KB; 1 MB leaves room for any real train.
    max_bytes: int = 1_000_000
    #: Values (scalars, lists, mappings) after expanding aliases. The largest example holds 549;
    #: parsing 20,000 takes well under a second, where a billion laughs would take hours.
    max_values: int = 20_000
    #: Nesting of lists and mappings, aliases expanded. Plans nest about 7 deep.
    max_depth: int = 64


def limits_from_env() -> Limits:
    """The default limits, with ``LAUNCHDECK_MAX_PLAN_BYTES`` read when it is set (at call time)."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return Limits()
    try:
        max_bytes = int(text.replace("_", ""))
    except ValueError:
        max_bytes = 0
    if max_bytes <= 0:
        raise UsageError(f"{MAX_BYTES_ENV}={text!r} is not a positive whole number of bytes",
                         hint=f"e.g. {MAX_BYTES_ENV}=2000000, or unset it for the 1 MB default")
    return Limits(max_bytes=max_bytes)


def read_file(path: Path, what: str = "plan", limits: Limits | None = None) -> bytes:
    """The bytes of a regular file no larger than the limit; anything else is a PlanError.

    The file is opened without blocking and checked with ``fstat`` before reading, so a FIFO or a
    device is refused rather than waited on, and at most ``max_bytes + 1`` bytes are ever read.
    """
    limits = limits or limits_from_env()
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise _refused(file, f"cannot read the {what}: {e.strerror}", _read_fix(what)) from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
            raise _refused(file, f"the {what} is {kind}", _read_fix(what))
        if info.st_size > limits.max_bytes:
            raise _refused(file, f"the {what} is {info.st_size:,} bytes, over the limit of {limits.max_bytes:,}",
                           _size_fix(what))
        chunks: list[bytes] = []
        left = limits.max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise _refused(file, f"cannot read the {what}: {e.strerror}", _read_fix(what)) from e
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limits.max_bytes:  # the file grew after fstat
        raise _refused(file, f"the {what} is over the limit of {limits.max_bytes:,} bytes", _size_fix(what))
    return raw


def _read_fix(what: str) -> str:
    return "check the path; `launchdeck validate PLAN` takes a YAML file" if what == "plan" else "check the path"


def _size_fix(what: str) -> str:
    return (f"a {what} is a few KB: check this is the right file (or set {MAX_BYTES_ENV} "
            "to a larger number of bytes)")


def _refused(file: str, message: str, fix: str, line: int = 0) -> PlanError:
    return PlanError([PlanProblem(file, line, "", message, fix)])


class _Refusal(Exception):
    """A located reason to stop reading: over a limit while composing, or a value Python cannot build."""

    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.message, self.fix = line, message, fix


class PlanLoader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false: YAML 1.1 would read the key `on:` as True), and limits.

    Composing counts every value as it is made, an alias as all the values and text it repeats, and
    stops at the first one over a limit; the nodes themselves are shared, so counting costs nothing.
    """

    def __init__(self, stream: str, limits: Limits | None = None) -> None:
        super().__init__(stream)
        self.limits = limits or Limits()
        self._depth = 0      # nesting of the node being composed
        self._deepest = 0    # deepest nesting reached inside the current node, aliases expanded
        self._values = 0     # values so far, aliases expanded
        self._chars = 0      # scalar characters so far, aliases expanded
        self._cost: dict[int, tuple[int, int, int]] = {}  # anchored node -> (values, chars, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            cost = self._cost.get(id(node))
            if cost is None:
                raise _Refusal(line, f"the alias *{event.anchor} refers to a value it is part of",
                                 "an alias can only repeat a value that ends before it")
            self._spend(cost[0], cost[1], self._depth + cost[2], line)
            return node
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise _Refusal(line, f"nested more than {self.limits.max_depth} levels deep",
                             "a plan nests a few levels; check the indentation and brackets")
        values, chars, outer = self._values, self._chars, self._deepest
        self._deepest = self._depth
        self._spend(1, len(event.value) if isinstance(event, yaml.ScalarEvent) else 0, self._depth, line)
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            self._cost[id(node)] = (self._values - values, self._chars - chars, self._deepest - self._depth + 1)
        self._depth -= 1
        self._deepest = max(outer, self._deepest)
        return node

    def _spend(self, values: int, chars: int, reach: int, line: int) -> None:
        self._values += values
        self._chars += chars
        self._deepest = max(self._deepest, reach)
        if self._values > self.limits.max_values:
            raise _Refusal(line, f"more than {self.limits.max_values:,} values with aliases expanded",
                           "a plan holds a few hundred values; check what the aliases (*name) repeat")
        if self._chars > self.limits.max_bytes:
            raise _Refusal(line, f"more than {self.limits.max_bytes:,} characters of text with aliases expanded",
                           "check what the aliases (*name) repeat")
        if self._deepest > self.limits.max_depth:
            raise _Refusal(line, f"nested more than {self.limits.max_depth} levels deep with aliases expanded",
                           "check what the aliases (*name) repeat")

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """A value YAML resolves but Python cannot build (a 30 February, a 5,000-digit number)
        becomes a located problem instead of escaping as a ValueError."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as e:
            shown = str(node.value)[:40]
            raise _Refusal(node.start_mark.line + 1, f"{shown!r} cannot be read: {e}",
                           "put it in quotes to keep it as text") from e


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


def load(text: str, file: str, limits: Limits | None = None, *, empty_fix: str = "") -> Located:
    """Parse one YAML document within the limits; a syntax error or a refusal becomes a located PlanError."""
    loader = PlanLoader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PlanError([PlanProblem(file, 1, "", "the file is empty",
                                         empty_fix or "start with `apiVersion: launchdeck/v1` and `kind: Release`")])
        data = loader.construct_document(node)
    except _Refusal as e:
        raise _refused(file, e.message, e.fix, e.line) from None
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
