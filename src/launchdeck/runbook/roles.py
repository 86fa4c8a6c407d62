"""Who may sign what: a sign-off counts only from a person the plan puts in that role."""

from __future__ import annotations

from collections.abc import Mapping, Set


def refusal(roles: Mapping[str, Set[str]], person: str, role: str) -> str | None:
    """Why ``person`` may not act as ``role``, or None when they may."""
    if role not in roles:
        known = ", ".join(sorted(roles)) or "none"
        return f"the plan has no role '{role}' (roles: {known})"
    if person not in roles[role]:
        members = ", ".join(sorted(roles[role])) or "nobody"
        return f"{person} is not in role '{role}' (members: {members})"
    return None
