"""Which message templates exist, per locale, read from the template folders without Jinja2.

Plan validation asks this (a route's ``template:`` must exist) and must start fast, so the
listing lives apart from the renderer, which needs Jinja2. The built-in folders ship with the package
and do not change while a process runs: they are listed once per process (a worker validates the plan of
every release it starts).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from launchdeck.errors import UsageError

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def available_locales() -> list[str]:
    """The locales templates exist for, e.g. ``["en", "fr"]``."""
    return list(_builtin_locales())


def available_templates(locale: str) -> list[str]:
    """Every template a route may name for ``locale``: the events and the named templates."""
    return list(_builtin_templates(locale))


@cache
def _builtin_locales() -> tuple[str, ...]:
    return tuple(locales_in(TEMPLATES_DIR))


@cache
def _builtin_templates(locale: str) -> tuple[str, ...]:
    if locale not in _builtin_locales():
        locale_dir(TEMPLATES_DIR, locale)  # the UsageError naming the known locales (not cached)
    return tuple(templates_in(TEMPLATES_DIR / locale))


def locales_in(root: Path) -> list[str]:
    """The locale folders under ``root`` that hold at least one template."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.j2")))


def locale_dir(root: Path, locale: str) -> Path:
    """The folder of ``locale``'s templates; an unknown locale is a UsageError naming the known ones."""
    locales = locales_in(root)
    if locale not in locales:
        raise UsageError(
            f"no message templates for locale {locale!r}",
            hint=f"use one of: {', '.join(locales) or '(none installed)'}",
        )
    return root / locale


def templates_in(folder: Path) -> list[str]:
    """Template names in ``folder``; files starting with ``_`` hold shared macros and are left out."""
    return sorted(p.name[: -len(".j2")] for p in folder.glob("*.j2") if not p.name.startswith("_"))
