"""Reads YAML while remembering where every value came from, so problems can name file:line.

Composing stops as soon as the document, with its aliases expanded, holds more values or text than
the limits (``limits.Limits``) or nests deeper than ``max_depth``: a "billion laughs" plan or
``[[[[…]]]]`` is refused with a located PlanError in milliseconds instead of taking the machine's
memory or Python's stack. Aliases are counted, not copied: an alias costs what it repeats.

Two parsers feed the same composer. libyaml's (when PyYAML has it) is about four times faster and
reads every valid plan; when it finds a YAML error, the pure-Python parser reads the file again,
because its messages say better what is wrong, and where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from launchdeck.errors import PlanError, PlanProblem
from launchdeck.plan.limits import Limits, refused

try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    CParser = None

Path_ = tuple[str | int, ...]


class _Refusal(Exception):
    """A located reason to stop reading: over a limit while composing, or a value Python cannot build."""

    def __init__(self, line: int, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.message, self.fix = line, message, fix


class PlanResolver(Resolver):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the key `on:` (routes) as True."""


PlanResolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
PlanResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Bounded:
    """Composing within the limits, and constructing without a stray ValueError (a mixin).

    Each value is counted as it is composed, an alias as all the values and text it repeats, and
    composing stops at the first one over a limit; the nodes themselves are shared, so counting
    costs nothing.
    """

    limits: Limits

    def _start_budget(self, limits: Limits | None) -> None:
        self.limits = limits or Limits()
        self._depth = 0      # nesting of the node being composed
        self._deepest = 0    # deepest nesting reached inside the current node, aliases expanded
        self._values = 0     # values so far, aliases expanded
        self._chars = 0      # scalar characters so far, aliases expanded
        self._cost: dict[int, tuple[int, int, int]] = {}  # anchored node -> (values, chars, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            node = Composer.compose_node(self, parent, index)  # type: ignore[arg-type]
            cost = self._cost.get(id(node))
            if cost is None:
                raise _Refusal(line, f"the alias *{event.anchor} refers to a value it is part of",
                               "an alias can only repeat a value that ends before it")
            self._spend(cost[0], cost[1], self._depth + cost[2], line)
            return node
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise _Refusal(line, f"nested more than {self.limits.max_depth} levels deep",
                           "check the indentation and brackets: a plan nests about 7 levels")
        values, chars, outer = self._values, self._chars, self._deepest
        self._deepest = self._depth
        self._spend(1, len(event.value) if isinstance(event, yaml.ScalarEvent) else 0, self._depth, line)
        node = Composer.compose_node(self, parent, index)  # type: ignore[arg-type]
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
                           "check what the aliases (*name) repeat: a plan holds a few hundred values")
        if self._chars > self.limits.max_bytes:
            raise _Refusal(line, f"more than {self.limits.max_bytes:,} characters of text with aliases expanded",
                           "check what the aliases (*name) repeat")
        if self._deepest > self.limits.max_depth:
            raise _Refusal(line, f"nested more than {self.limits.max_depth} levels deep with aliases expanded",
                           "check what the aliases (*name) repeat")

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        """A value YAML resolves but Python cannot build (a 30 February, a 5,000-digit number,
        ``!!timestamp x``) becomes a located problem instead of escaping as a ValueError,
        KeyError or AttributeError from inside PyYAML."""
        try:
            return SafeConstructor.construct_object(self, node, deep)  # type: ignore[arg-type]
        except (_Refusal, yaml.YAMLError):
            raise
        except Exception as e:  # whatever PyYAML's constructors raise on odd values
            shown = str(node.value)[:40]
            kind = str(node.tag).rsplit(":", 1)[-1]
            what = (f"{shown!r} cannot be read: {str(e).split(';')[0]}" if isinstance(e, (ValueError, OverflowError))
                    else f"{shown!r} is not a valid {kind}")
            raise _Refusal(node.start_mark.line + 1, what, "put it in quotes (without a !!tag) to keep it as text") from e


class PlanLoader(_Bounded, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, Composer,
                 SafeConstructor, PlanResolver):
    """The pure-Python loader: slower, and the one whose syntax errors are shown."""

    def __init__(self, stream: str, limits: Limits | None = None) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        PlanResolver.__init__(self)
        self._start_budget(limits)


if CParser is not None:

    class _FastLoader(_Bounded, CParser, Composer, SafeConstructor, PlanResolver):  # type: ignore[misc,valid-type]
        """libyaml's events, composed by the same bounded composer (not libyaml's own)."""

        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document

        def __init__(self, stream: str, limits: Limits | None = None) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            PlanResolver.__init__(self)
            self._start_budget(limits)


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
    lines: dict[Path_, int] = {}
    problems: list[PlanProblem] = []
    try:
        loader, node = _compose(text, file, limits)
        try:
            if node is None:
                raise refused(file, "the file is empty",
                              empty_fix or "start with `apiVersion: launchdeck/v1` and `kind: Release`", 1)
            _walk(node, (), lines, problems, file)  # before constructing, which merges `<<:` keys in
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _Refusal as e:
        raise refused(file, e.message, e.fix, e.line) from None
    except yaml.YAMLError as e:
        raise _syntax_error(file, e) from e
    if problems:
        raise PlanError(problems)
    return Located(file, data, lines)


def _compose(text: str, file: str, limits: Limits | None) -> tuple[Any, Any]:
    """A loader and the document's node, by libyaml's parser if it can, else by the pure-Python one."""
    if CParser is not None:
        fast = _FastLoader(text, limits)
        try:
            return fast, fast.get_single_node()
        except yaml.YAMLError:
            fast.dispose()  # the pure-Python parser says what is wrong, and where
    try:
        loader = PlanLoader(text, limits)
    except yaml.reader.ReaderError as e:  # checked on the whole text at once, before parsing
        line = text.count("\n", 0, max(e.position, 0)) + 1
        raise refused(file, f"character #x{e.character:04x} is not allowed in YAML",
                      "remove it: the file should be plain text", line) from None
    return loader, loader.get_single_node()


def _syntax_error(file: str, e: yaml.YAMLError) -> PlanError:
    if not isinstance(e, yaml.MarkedYAMLError):
        return PlanError([PlanProblem(file, 1, "", f"not valid YAML: {e}", "")])
    # An unclosed quote is found at the end of the file; where it opened is what the user needs.
    opened = e.context and "quoted scalar" in e.context
    mark = (e.context_mark if opened else None) or e.problem_mark or e.context_mark
    line = mark.line + 1 if mark else 1
    what = " ".join(p for p in (e.context, e.problem) if p)
    return PlanError([PlanProblem(file, line, "", f"not valid YAML: {what}",
                                  "check indentation, colons and quotes on this line")])


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
