"""Thousands of damaged plans: each one loads or is refused with a PlanError/UsageError, never a crash.

The example plans are damaged the ways people and tools damage files: bytes changed, inserted or
cut; lines dropped, repeated, swapped or re-indented; values swapped for odd ones (dates that do not
exist, 5,000-digit numbers, aliases, tags, half a quote); keys renamed. Whatever comes out, loading
it either gives a plan (which also compiles to a policy) or a PlanError/UsageError that reads as a
message. Any other exception is a traceback a user would have seen.

The run is derandomized (the same examples every time, no example database), so a failure shows up
on every run and in CI alike.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchdeck.errors import PlanError, UsageError
from launchdeck.plan import load_plan, to_policy

EXAMPLES = Path(__file__).parents[2] / "examples"
PLANS = [p.read_bytes() for p in sorted(EXAMPLES.glob("*.yaml")) if "approvals" not in p.name]

_KEY_LINE = re.compile(rb"^(\s*(?:- )?)([A-Za-z][\w.-]*)(:)(.*)$")
KEYS = sorted({m.group(2) for plan in PLANS for line in plan.split(b"\n") if (m := _KEY_LINE.match(line))})

ODD_VALUES = [
    b"", b"~", b"null", b"-1", b"0", b"1e999", b"-.inf", b".nan", b"2024-02-30", b"2024-01-01 25:61:00",
    b"9" * 5000, b"0x_1", b"1:2:3", b"true", b"False", b"yes", b"'unclosed", b'"\\uZZZZ"', b"[", b"{",
    b"}", b"[a, b]", b"{a: 1}", b"&x 1", b"*x", b"*nowhere", b"!!binary AAA=", b"!!binary ***",
    b"!!python/object/apply:os.system ['true']", b"!!set {a}", b"!!omap [a: 1]", b"!!timestamp x",
    b"!!int x", b"!!float x", b"!local x", b"|", b">-", b"%YAML 1.1", b"---", b"...", b"@x", b"`x",
    b"\t", b"\x00", b"\xff\xfe", b"\x1b[31m", b"1%", b"+50%", b"-50%", b"200%", b"1e308%", b"-5m",
    b"5 minutes", b"0s", b"99999999999999999999d", b"1e308m", b"1e308ms", b"nan%", b"inf",
    b"-0", b"0.0000001%", "é ü 中".encode(), b"a" * 3000,
]
ODD_KEYS = [b"null", b"1", b"true", b"[a]", b"? x", b"<<", b"&k key", b"*k", b"''", b'"\\x00"', b"-"]


def _bytes(draw: Callable, raw: bytes) -> bytes:
    at = draw(st.integers(0, len(raw)))
    new = draw(st.binary(min_size=1, max_size=4))
    how = draw(st.sampled_from(["replace", "insert", "delete"]))
    if how == "insert":
        return raw[:at] + new + raw[at:]
    if how == "delete":
        return raw[:at] + raw[at + len(new):]
    return raw[:at] + new + raw[at + len(new):]


def _lines(draw: Callable, raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["drop", "repeat", "swap", "indent", "move"]))
    if how == "drop":
        del lines[i]
    elif how == "repeat":
        lines.insert(j, lines[i])
    elif how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "indent":
        shift = draw(st.integers(-4, 4))
        lines[i] = b" " * shift + lines[i] if shift >= 0 else lines[i][-shift:]
    else:
        lines.insert(j, lines.pop(i))
    return b"\n".join(lines)


def _keyed(draw: Callable, raw: bytes) -> tuple[list[bytes], int, re.Match[bytes]] | None:
    lines = raw.split(b"\n")
    keyed = [n for n, line in enumerate(lines) if _KEY_LINE.match(line)]
    if not keyed:
        return None
    n = draw(st.sampled_from(keyed))
    match = _KEY_LINE.match(lines[n])
    assert match is not None
    return lines, n, match


def _value(draw: Callable, raw: bytes) -> bytes:
    found = _keyed(draw, raw)
    if found is None:
        return raw
    lines, n, m = found
    value = draw(st.sampled_from(ODD_VALUES) | st.text(max_size=12).map(str.encode))
    lines[n] = m.group(1) + m.group(2) + b": " + value
    return b"\n".join(lines)


def _key(draw: Callable, raw: bytes) -> bytes:
    found = _keyed(draw, raw)
    if found is None:
        return raw
    lines, n, m = found
    key = draw(st.sampled_from(KEYS) | st.sampled_from(ODD_KEYS) | st.from_regex(rb"\A[a-zA-Z]{1,8}\Z"))
    lines[n] = m.group(1) + key + b":" + m.group(4)
    return b"\n".join(lines)


MUTATIONS = [_bytes, _lines, _value, _key]


@st.composite
def damaged_plans(draw: Callable) -> bytes:
    raw = draw(st.sampled_from(PLANS))
    for _ in range(draw(st.integers(1, 4))):
        raw = draw(st.sampled_from(MUTATIONS))(draw, raw)
    return raw


_WORKDIR = tempfile.TemporaryDirectory(prefix="launchdeck-mutated-")
_PLAN = Path(_WORKDIR.name) / "plan.yaml"


@settings(max_examples=2000, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(damaged_plans())
def test_a_damaged_plan_loads_or_is_refused_with_a_message(raw: bytes) -> None:
    _PLAN.write_bytes(raw)
    try:
        loaded = load_plan(_PLAN)
    except (PlanError, UsageError) as e:
        assert e.exit_code == 2
        assert e.message.strip() and "Traceback" not in str(e)
        return
    if not loaded.is_train:
        to_policy(loaded.doc.spec)  # type: ignore[union-attr]
    else:
        for _, spec in loaded.services:
            to_policy(spec)
