"""The one error tree every launchdeck failure belongs to.

    LaunchdeckError                  what went wrong, and `hint`: what to do about it
    ├── PlanError                    a plan (or approvals) that cannot be read or is invalid, each problem located (exit 2)
    ├── UsageError                   a wrong flag, an unknown release, a refused sign-off (exit 2)
    │   ├── NotFound                 no such release or plan (nor one of another tenant): HTTP 404
    │   ├── Refused                  a person acting in a role they do not hold, an API role too low: 403
    │   ├── Conflict                 the release's state does not allow it (already ended, running): 409
    │   └── Unauthenticated          no API token, or one unknown or revoked: 401
    ├── EvidenceError                a bundle that does not verify, a missing or bad key
    ├── TargetError                  a router or metrics source that failed or did not obey
    │   └── WeightNotApplied         a router that reports another weight than the one set
    ├── NotifyError                  a channel that could not take a message
    ├── StoreError                   the database is unreachable or holds something unexpected
    ├── SupplyChainError             an artefact, signature, SBOM or scan that fails a preflight check
    └── LeaseError                   a release another process drives
        ├── LeaseHeld                another live process holds the release's lease (exit 4)
        └── LeaseLost                this process no longer holds it: it must stop acting at once

The server answers each with an HTTP status (``server/problems.py``): NotFound 404, Refused 403,
Conflict 409, Unauthenticated 401, any other UsageError or PlanError 422, StoreError 503.

Third-party errors are wrapped with ``raise ... from e`` so the user reads one clear line.
An error the user fixes by changing what they typed (a ``--db`` URL that cannot be opened, a bundle
path that does not exist, a key path already taken) is raised with ``bad_input=True``: it keeps its
kind but exits 2, like PlanError and UsageError, instead of 1 (a fault).
"""

from __future__ import annotations

from dataclasses import dataclass


class LaunchdeckError(Exception):
    """Base of every error launchdeck raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str = "", bad_input: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if bad_input:
            self.exit_code = 2

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


@dataclass(frozen=True)
class PlanProblem:
    """One located problem in a plan file: where, what is wrong, what to write instead."""

    file: str
    line: int
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text


class PlanError(LaunchdeckError):
    """A plan that cannot be used; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[PlanProblem], *, what: str = "the plan", hint: str = "") -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        body = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} {noun} in {what}:\n{body}", hint=hint)


class UsageError(LaunchdeckError):
    exit_code = 2


class NotFound(UsageError):
    """What was asked for does not exist -- or belongs to another tenant, which is said the same way."""


class Refused(UsageError):
    """The person may not do this: they do not hold the plan role they act in, or their API role is too low."""


class Conflict(UsageError):
    """The request is fine but the release's state does not allow it now (it ended, or it is already running)."""


class Unauthenticated(UsageError):
    """An API request without a token, or with one the store does not know or that was revoked."""


class EvidenceError(LaunchdeckError):
    pass


class TargetError(LaunchdeckError):
    pass


class WeightNotApplied(TargetError):
    pass


class NotifyError(LaunchdeckError):
    pass


class StoreError(LaunchdeckError):
    pass


class SupplyChainError(LaunchdeckError):
    """A supply-chain check that fails: the message says what, the hint how to fix it. Preflight records it
    as a failed check and refuses the release (exit 4); ``data`` goes into the evidence with it."""

    def __init__(self, message: str, *, hint: str = "", data: dict[str, object] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.data = dict(data or {})


class LeaseError(LaunchdeckError):
    pass


class LeaseHeld(LeaseError):
    """Another live process drives the release; this one must not (exit 4, like a refusal)."""

    exit_code = 4


class LeaseLost(LeaseError):
    """The lease moved to another holder (or its epoch changed): no write of this holder may land."""
