"""How much a plan (or approvals) file may cost to read, and reading one within that.

A file is read only if it is a regular file no larger than ``max_bytes``: it is opened without
blocking and checked with ``fstat`` first, so a FIFO or a device (``/dev/zero``) is refused rather
than waited on or read forever, and at most ``max_bytes + 1`` bytes are ever read. The other limits
are applied while the YAML is composed (``yamlsrc``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from launchdeck.errors import PlanError, PlanProblem, UsageError

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
    """The bytes of a regular file no larger than the limit; anything else is a located PlanError."""
    limits = limits or limits_from_env()
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise refused(file, f"cannot read the {what}: {e.strerror}", _read_fix(what)) from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
            raise refused(file, f"the {what} is {kind}", _read_fix(what))
        if info.st_size > limits.max_bytes:
            raise refused(file, f"the {what} is {info.st_size:,} bytes, over the limit of {limits.max_bytes:,}",
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
        raise refused(file, f"cannot read the {what}: {e.strerror}", _read_fix(what)) from e
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limits.max_bytes:  # the file grew after fstat
        raise refused(file, f"the {what} is over the limit of {limits.max_bytes:,} bytes", _size_fix(what))
    return raw


def _read_fix(what: str) -> str:
    return "check the path; `launchdeck validate PLAN` takes a YAML file" if what == "plan" else "check the path"


def _size_fix(what: str) -> str:
    return (f"a {what} is a few KB: check this is the right file (or set {MAX_BYTES_ENV} "
            "to a larger number of bytes)")


def refused(file: str, message: str, fix: str, line: int = 0) -> PlanError:
    """A PlanError with one problem (line 0: the file as a whole)."""
    return PlanError([PlanProblem(file, line, "", message, fix)])
