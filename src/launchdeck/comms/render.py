"""Messages: one Jinja2 template per event and locale, rendered with real values or not at all.

Templates live in ``launchdeck/comms/templates/<locale>/<name>.j2``. Every event has a template
named after it (``stage.started.j2``); named templates (``launch-success.j2`` …) are picked by a
route's ``template:``. Files starting with ``_`` hold shared macros and are not templates.

The context
-----------
The caller builds one dict per message (``make_context`` fills the optional keys) with:

==================== ======================================================================
``event``            str — the event name, e.g. ``"gate.fired"``
``release``          str — the release name (``metadata.name``)
``tenant``           str | None
``service``          str | None — the service, in a train or when the plan names one
``version``          str — the version being released (the canary)
``previous_version`` str | None — the stable version it replaces
``stage``            int | None — the current stage, 1-based
``stages``           int — how many stages the release has
``weight``           float — the canary's current weight, in percent (25.0 = 25%)
``outcome``          str | None — ``promoted`` | ``rolled_back`` | ``held`` | ``refused`` | ``aborted``
``reason``           str | None — one readable sentence saying why, in English: the decision log's
                     words. French templates do not print it; they say the same from the keys
                     below, so a French message is French throughout
``gate``             dict | None — ``name``, ``metric``, ``severity``, ``value``, ``threshold``,
                     ``baseline`` (may be None). ``value``/``baseline`` are in the metric's unit
                     (a fraction for ``error_rate``/``availability``, ms for ``*_ms``);
                     ``threshold`` is a number in that unit, or the plan's text such as
                     ``"+20%"`` for a relative gate. For ``checkpoint.*`` events it describes the
                     criterion checked (``name`` = the checkpoint); for ``escalation``,
                     ``severity`` may carry the level (``P1``).
``numbers``          dict — version → ``{"error_rate": float | None (fraction), "p95_ms": float |
                     None, "requests": int}``; may be empty
``who``              str | None — the person who approved, decided or started
``role``             str | None — that person's role
``roles``            list[str] — the roles being asked or told; may be empty
``window_closes_in`` str | None — human duration left to decide, e.g. ``"10m"``
``deadline``         str | None — wall-clock time by which people must answer, e.g. ``"14:32 UTC"``
``deadline_in``      float | None — wall seconds left until ``deadline`` (format with ``duration``)
``command``          str | None — the exact command that answers what the release waits for
``hold``             float | None — plan seconds the stage holds at least (``stage.started``) or
                     held (``stage.passed``); format with ``duration``
``cause``            str | None — why a rollback started when no gate says it: ``kill-switch``,
                     ``smoke`` or ``held`` (a person's decision on a held release)
``default``          str | None — what happens if nobody decides (``rollback``, ``hold`` …)
``evidence``         str | None — path of the evidence bundle
``next``             str | None — what comes next, one sentence
``at``               str — ISO time of the event
``started_at``       str | None — ISO time the release started
``duration``         str | None — human duration so far or in total
==================== ======================================================================

Filters available in templates: ``pct`` (fraction → ``"2.00%"``), ``ms`` (→ ``"123 ms"``),
``weight`` (→ ``"25%"``), ``clock`` (ISO → ``"14:05 UTC"``) and ``metric(name)`` (a gate value formatted in its metric's unit);
each gives ``"n/a"`` for a missing value. ``duration`` writes seconds as people do (``90 s``,
``15 min``, ``1 h 30 min``, ``24 h``; ``core.durations.human``), and ``durations`` does the same
for every ``86483s`` written in a free text such as ``reason``.

A rendered text never leaves this module with an unfilled placeholder: ``{{``, ``{%``, ``}}``,
or a ``None``/``nan`` printed where a value should be raise :class:`NotifyError`. Messages pass
through :func:`redact` before they leave the process.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from launchdeck.comms.catalog import (
    TEMPLATES_DIR,
    available_locales,
    available_templates,
)
from launchdeck.comms.catalog import locale_dir as _locale_dir
from launchdeck.comms.catalog import templates_in as _templates
from launchdeck.core.durations import human, in_text
from launchdeck.errors import NotifyError, UsageError

__all__ = [
    "CONTEXT_KEYS",
    "EVENTS",
    "MissingValueError",
    "Message",
    "Renderer",
    "available_locales",
    "available_templates",
    "make_context",
    "ms",
    "pct",
    "redact",
    "weight",
]

#: Every event a plan may route (see the plan contract, spec.notifications).
EVENTS = (
    "release.started", "preflight.failed", "approval.requested", "approval.granted",
    "stage.started", "stage.passed", "gate.fired", "decision.requested", "hold.started",
    "rollback.started", "rollback.completed", "release.completed", "status.cadence",
    "checkpoint.passed", "checkpoint.failed", "escalation", "incident.opened", "incident.resolved",
)

#: Keys of the context every template receives, and the value a missing optional one takes.
_REQUIRED = ("event", "release", "version", "stages", "weight", "at")
_OPTIONAL: dict[str, Any] = {
    "tenant": None, "service": None, "previous_version": None, "stage": None, "outcome": None,
    "reason": None, "gate": None, "numbers": dict, "who": None, "role": None, "roles": list,
    "window_closes_in": None, "default": None, "evidence": None, "next": None,
    "started_at": None, "duration": None, "deadline": None, "deadline_in": None, "command": None,
    "hold": None, "cause": None,
}
CONTEXT_KEYS = _REQUIRED + tuple(_OPTIONAL)

_NA = "n/a"
_SECRET_MARK = "[redacted]"
_PLACEHOLDER = re.compile(r"\{\{|\{%|\}\}|%\}")
_EMPTY_WORD = re.compile(r"\b(None|nan|NaN)\b")
_EMPTY_VALUES = {"None", "nan", "NaN", "Undefined"}


# --------------------------------------------------------------------------------- filters


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals: 0.0213 → ``"2.13%"``; None → ``"n/a"``."""
    if _missing(value):
        return _NA
    return f"{float(value) * 100:.2f}%"  # type: ignore[arg-type]


def ms(value: float | None) -> str:
    """Milliseconds: 231.4 → ``"231 ms"``, 4.25 → ``"4.2 ms"``; None → ``"n/a"``."""
    if _missing(value):
        return _NA
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.0f} ms" if abs(number) >= 10 else f"{number:.1f} ms"


def weight(value: float | None) -> str:
    """A weight in percent: 25.0 → ``"25%"``, 2.5 → ``"2.5%"``; None → ``"n/a"``."""
    if _missing(value):
        return _NA
    return f"{round(float(value), 4):g}%"  # type: ignore[arg-type]


def clock(value: str | None) -> str:
    """An ISO time as people read it on a notice: ``"2026-12-01T01:05:09+00:00"`` → ``"01:05 UTC"``."""
    if not value:
        return _NA
    from datetime import UTC, datetime

    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%H:%M UTC")


def metric_value(value: object, metric: str | None = None) -> str:
    """A gate's value, threshold or baseline in its metric's unit.

    Text (``"+20%"``) and plan thresholds that are relative are shown as written.
    """
    if _missing(value):
        return _NA
    if isinstance(value, str):
        return value
    if hasattr(value, "relative") and hasattr(value, "text"):  # a plan Threshold
        if value.relative:
            return str(value.text)
        value = value.value  # type: ignore[attr-defined]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    name = metric or ""
    if name in ("error_rate", "availability") or name.endswith("_rate"):
        return pct(value)
    if name.endswith("_ms"):
        return ms(value)
    if name.endswith("_rps"):
        return f"{float(value):.1f} rps"
    if name == "requests":
        return str(int(value))
    return f"{float(value):g}"


# --------------------------------------------------------------------------------- templates


# Which templates exist is catalog.py's (TEMPLATES_DIR, available_locales, available_templates):
# plan validation asks it without importing Jinja2.


@dataclass(frozen=True)
class Message:
    """A rendered message on its way to one channel; ``title`` is the text's first line."""

    event: str
    channel: str
    locale: str
    text: str
    title: str
    release: str = ""
    key: str = ""
    """Stable per message across retries (``release:epoch:outbox id``, ``controller.outbox.idempotency_key``):
    receivers can drop duplicates."""
    broadcast: bool = False
    """A threaded Slack channel also shows it in the channel (the route's ``broadcast``)."""


class MissingValueError(NotifyError, jinja2.UndefinedError):
    """A template asked for a context key that was not given (StrictUndefined)."""

    message = None  # shadows TemplateError.message (a read-only property) so ours can be set


class _EmptyValue(Exception):
    def __init__(self, shown: str) -> None:
        super().__init__(shown)
        self.shown = shown


def _finalize(value: object) -> object:
    """Every ``{{ … }}`` goes through here: a None/NaN printed as a value is a leftover."""
    if value is None:
        raise _EmptyValue("None")
    if isinstance(value, float) and math.isnan(value):
        raise _EmptyValue("nan")
    if isinstance(value, str) and value.strip() in _EMPTY_VALUES:
        raise _EmptyValue(value.strip())
    return value


@lru_cache(maxsize=64)
def renderer_for(locale: str) -> Renderer:
    """The process's renderer for ``locale`` with launchdeck's own templates: its Jinja2 environment compiles
    each template once, and a worker's thousands of releases share it (rendering is thread-safe)."""
    return Renderer(locale)


class Renderer:
    """Renders event messages for one locale.

    ``templates_dir`` points at another tree of ``<locale>/<name>.j2`` (tests, custom wording);
    by default the templates shipped with launchdeck are used.
    """

    def __init__(self, locale: str, *, templates_dir: Path | None = None) -> None:
        self.root = Path(templates_dir) if templates_dir is not None else TEMPLATES_DIR
        self.locale = locale
        self.folder = _locale_dir(self.root, locale)
        self.env = Environment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            finalize=_finalize,
        )
        self.env.filters.update(pct=pct, ms=ms, weight=weight, metric=metric_value, clock=clock,
                                duration=lambda v: _NA if _missing(v) else human(float(v), locale),
                                durations=lambda text: in_text(text, locale))

    def templates(self) -> list[str]:
        return _templates(self.folder)

    def template_for(self, event: str, template: str | None = None) -> str:
        """The template name used for ``event`` (``template`` overrides), checked to exist."""
        names = self.templates()
        name = template or event
        if name not in names:
            what = f"template {name!r}" if template else f"template for event {event!r}"
            raise UsageError(
                f"no message {what} in locale {self.locale!r}",
                hint=f"use one of: {', '.join(names)}",
            )
        return name

    def render(self, event: str, context: Mapping[str, Any], *, template: str | None = None) -> str:
        """The message text for ``event``: real values only, blank runs squeezed, no trailing space."""
        name = self.template_for(event, template)
        values = dict(context)
        values.setdefault("event", event)
        try:
            raw = self.env.get_template(f"{name}.j2").render(values)
        except _EmptyValue as e:
            raise NotifyError(
                f"template {self.locale}/{name} printed {e.shown!r} where a value should be",
                hint="guard optional values with {% if … %} in the template, or pass the real value",
            ) from None
        except jinja2.UndefinedError as e:
            raise MissingValueError(
                f"template {self.locale}/{name} needs a value the context does not have: {e.message}",
                hint=f"build the context with make_context(); its keys are: {', '.join(CONTEXT_KEYS)}",
            ) from e
        except jinja2.TemplateError as e:
            raise NotifyError(
                f"template {self.locale}/{name} could not be rendered: {e}",
                hint="fix the template file; `launchdeck validate` renders every template it routes",
            ) from e
        text = _tidy(raw)
        leftover = _leftover(text, values)
        if leftover:
            raise NotifyError(
                f"template {self.locale}/{name} left an unfilled placeholder: {leftover!r}",
                hint="every value in a message must be real; fix the template or the context",
            )
        return text

    def message(
        self, event: str, context: Mapping[str, Any], *, channel: str, template: str | None = None
    ) -> Message:
        """Render and wrap for one channel."""
        text = self.render(event, context, template=template)
        return Message(event=event, channel=channel, locale=self.locale, text=text,
                       title=text.split("\n", 1)[0])


def make_context(**values: Any) -> dict[str, Any]:
    """A complete template context: required keys checked, optional ones filled with None/[]/{}."""
    unknown = sorted(set(values) - set(CONTEXT_KEYS))
    if unknown:
        raise UsageError(
            f"unknown message context key(s): {', '.join(unknown)}",
            hint=f"the keys are: {', '.join(CONTEXT_KEYS)}",
        )
    missing = [k for k in _REQUIRED if values.get(k) is None]
    if missing:
        raise UsageError(
            f"message context lacks {', '.join(missing)}",
            hint=f"always pass {', '.join(_REQUIRED)}",
        )
    context = {k: values[k] for k in _REQUIRED}
    for key, empty in _OPTIONAL.items():
        value = values.get(key)
        context[key] = (empty() if callable(empty) else empty) if value is None else value
    return context


def _tidy(raw: str) -> str:
    lines = [line.rstrip() for line in raw.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _strings(v)


def _leftover(text: str, context: Mapping[str, Any]) -> str | None:
    """The first unfilled placeholder in ``text``, if any.

    Jinja delimiters count wherever they are. ``None``/``nan`` count unless they are part of a
    free-text value the caller gave (a reason may well say "None of the gates fired").
    """
    found = _PLACEHOLDER.search(text)
    if found:
        return _excerpt(text, found.start(), found.end())
    masked = text
    free_text = {s for s in _strings(context) if _EMPTY_WORD.search(s) and s.strip() not in _EMPTY_VALUES}
    for s in sorted(free_text, key=len, reverse=True):
        masked = masked.replace(s, " " * len(s))
    found = _EMPTY_WORD.search(masked)
    if found:
        return _excerpt(masked, found.start(), found.end())
    return None


def _excerpt(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start: line_end if line_end != -1 else len(text)].strip()
    return line if len(line) <= 120 else text[max(start - 40, 0): end + 40].strip()


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret value replaced by ``[redacted]`` (longest first)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, _SECRET_MARK)
    return text
