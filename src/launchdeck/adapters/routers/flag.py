"""Router for ``router: {type: flag}``: a flagd flag definition file with a sticky per-user split.

:class:`FlagRouter` owns one flag in a flagd flag-definition file (the file flagd, or an
OpenFeature flagd provider in file mode, watches). It splits *users*, not requests:

``set_weight(p)`` writes::

    {"flags": {"<flag>": {"state": "ENABLED",
                          "variants": {"off": false, "on": true},
                          "defaultVariant": "off",
                          "targeting": {"fractional": [["off", 100 - p], ["on", p]]}}}}

``fractional`` without a bucketing expression buckets on the evaluation context's
``targetingKey`` (the user id) with a deterministic murmur3 hash of the flag key and the
targeting key, so a user keeps the variant they got while the canary's share only grows: the
canary owns the top of the hash range and a larger share only extends it downwards. Whole
percentages are written as weights summing to 100, which every flagd version accepts; a fractional
percentage (``2.5``) is written as relative integer weights (``[["off", 975], ["on", 25]]``),
which needs a flagd recent enough to accept weights that do not add up to 100 (older ones bucket
by whole percents).

A same-age baseline (``analysis.baseline: same-age``) needs a third variant, which a boolean flag
cannot have: the router then writes a string flag whose variants are ``stable``, ``canary`` and
``baseline`` (the application sends each user to the deployment the value names), split
``[["stable", s], ["baseline", b], ["canary", c]]``: the canary keeps the top of the hash range and
the baseline the range below it, so as both grow a canary user stays on the canary and a user
moves only from stable to the baseline (the same code) or on to the canary.

``kill()`` sets ``state: DISABLED`` (and the split to 0%). A disabled flagd flag evaluates to the
*application's code default*, so the application must pass the stable variant's value as its
default (``client.get_boolean_value("canary.enable", False, ...)``); ``defaultVariant`` is set to
the stable variant as well, for evaluators that use it. ``drain()`` sends every *new* evaluation
to stable (0%) with the flag still enabled; users holding a value already evaluated keep it
until they evaluate again.

The file is replaced atomically (written to a temporary file in the same directory, then
``os.replace``), so a watcher never sees half a file; other flags in the file are preserved.

Verification: ``configured_weight()`` is what the file says. ``current_weight()`` additionally
evaluates the flag with the OpenFeature Python SDK and the flagd provider in *file* mode
(in-process, offline: ``openfeature-provider-flagd``, resolver ``FILE``) for ``verify_sample``
user keys, and returns the configured weight only if the observed share of canary users agrees
within a binomial tolerance (4 standard deviations of the sample share, plus half a user);
otherwise it raises :class:`~launchdeck.errors.WeightNotApplied`. ``observed_weight()`` returns
the raw observed share for callers who want to apply their own tolerance.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from launchdeck.adapters.routers import Split, check_percent, check_split, no_baseline
from launchdeck.errors import TargetError, WeightNotApplied

#: ``$schema`` written into new flag files.
FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
#: Standard deviations of the sample share allowed between observed and configured weight.
TOLERANCE_SD = 4.0
_domains = itertools.count()


def fraction_weights(canary_percent: float) -> tuple[int, int]:
    """(stable, canary) integer weights for flagd's ``fractional``: total 100 for whole percents,
    else the smallest of 10 000 / 1 000 000 that represents the percentage (rounded at 1e-4 %)."""
    for total in (100, 10_000, 1_000_000):
        canary = canary_percent * total / 100
        if abs(canary - round(canary)) < 1e-9 or total == 1_000_000:
            c = round(canary)
            return total - c, c
    raise AssertionError("unreachable")


def split_fraction_weights(canary_percent: float, baseline_percent: float) -> tuple[int, int, int]:
    """(stable, canary, baseline) integer weights for flagd's ``fractional``, on the smallest of 100 /
    10 000 / 1 000 000 that represents both percentages."""
    for total in (100, 10_000, 1_000_000):
        parts = [x * total / 100 for x in (canary_percent, baseline_percent)]
        if all(abs(x - round(x)) < 1e-9 for x in parts) or total == 1_000_000:
            c, b = (round(x) for x in parts)
            return total - c - b, c, b
    raise AssertionError("unreachable")


def binomial_tolerance(percent: float, n: int) -> float:
    """Allowed |observed - configured| (percent) for a share measured on ``n`` users."""
    p = percent / 100
    return 100 * (TOLERANCE_SD * math.sqrt(p * (1 - p) / n) + 0.5 / n)




class FlagRouter:
    """A :class:`~launchdeck.adapters.routers.Router` that moves users with a flagd flag."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        flag: str,
        *,
        variants: Sequence[str] | Mapping[str, Any] = ("off", "on"),
        verify_sample: int = 500,
        sample_keys: Sequence[str] | None = None,
    ) -> None:
        """``variants``: (stable, canary) names, or (stable, canary, baseline) with a same-age
        baseline; ``("off", "on")`` are the booleans false/true, other names are string flags whose
        value is the name; a mapping gives explicit values."""
        if not flag:
            raise TargetError("the flag router needs a flag key")
        names = list(variants)
        if len(names) not in (2, 3) or len(set(names)) != len(names):
            raise TargetError(
                f"variants must name two different variants (stable, canary), or three with a "
                f"baseline, got {names}"
            )
        if isinstance(variants, Mapping):
            self.variant_values: dict[str, Any] = {n: variants[n] for n in names}
        elif names == ["off", "on"]:
            self.variant_values = {"off": False, "on": True}
        else:
            self.variant_values = {n: n for n in names}
        if sample_keys is None:
            if verify_sample < 1:
                raise TargetError(f"verify_sample must be >= 1, got {verify_sample}")
            sample_keys = [f"launchdeck-verify-{i}" for i in range(verify_sample)]
        if not sample_keys:
            raise TargetError("sample_keys must not be empty")
        self.path = Path(path)
        self.flag = flag
        self.stable, self.canary = names[:2]
        self.baseline: str | None = names[2] if len(names) == 3 else None
        self.sample_keys = list(sample_keys)
        self._domain = f"launchdeck.flag-router.{next(_domains)}"
        self._evaluating = threading.Lock()

    @property
    def type(self) -> str:
        return "flag"

    # -- writing -----------------------------------------------------------------------------

    def flag_definition(self, canary_percent: float, *, enabled: bool = True,
                        baseline_percent: float = 0.0) -> dict[str, Any]:
        """The flagd definition of this router's flag at ``canary_percent`` (and ``baseline_percent``)."""
        if self.baseline is None:
            no_baseline("flag", baseline_percent)
            stable_w, canary_w = fraction_weights(check_percent(canary_percent))
            fractional = [[self.stable, stable_w], [self.canary, canary_w]]
        else:
            stable_w, canary_w, baseline_w = split_fraction_weights(*check_split(canary_percent, baseline_percent))
            fractional = [[self.stable, stable_w], [self.baseline, baseline_w], [self.canary, canary_w]]
        return {
            "state": "ENABLED" if enabled else "DISABLED",
            "variants": dict(self.variant_values),
            "defaultVariant": self.stable,
            "targeting": {"fractional": fractional},
        }

    async def set_weight(self, canary_percent: float, baseline_percent: float = 0.0) -> None:
        """Give ``canary_percent`` of users the canary variant, and ``baseline_percent`` the baseline's
        (the flag is enabled)."""
        definition = self.flag_definition(canary_percent, baseline_percent=baseline_percent)
        await asyncio.to_thread(self._write_flag, definition)

    async def kill(self) -> None:
        """Kill switch: the flag is DISABLED, so every evaluation gets the stable default."""
        await asyncio.to_thread(self._write_flag, self.flag_definition(0, enabled=False))

    async def drain(self) -> None:
        """No new user gets the canary (0%); values already evaluated stay until re-evaluated."""
        await self.set_weight(0)

    def _read_document(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise TargetError(f"cannot read the flag file {self.path}: {e}") from e
        try:
            document = json.loads(text)
        except json.JSONDecodeError as e:
            raise TargetError(
                f"the flag file {self.path} is not valid JSON ({e}); launchdeck will not "
                "overwrite it",
                hint="fix or remove the file",
            ) from e
        if not isinstance(document, dict) or not isinstance(document.get("flags", {}), dict):
            raise TargetError(
                f"the flag file {self.path} is not a flagd flag definition (no 'flags' object)",
                hint="point the router at a flagd flags file, or at a path that does not exist",
            )
        return document

    def _write_flag(self, definition: dict[str, Any]) -> None:
        document = self._read_document()
        document.setdefault("$schema", FLAGD_SCHEMA)
        document.setdefault("flags", {})[self.flag] = definition
        write_atomically(self.path, json.dumps(document, indent=2) + "\n")

    # -- reading back ------------------------------------------------------------------------

    def configured_weight(self) -> float:
        """The canary's share of users (percent) as the file configures it."""
        return self.configured_split().canary

    def configured_split(self) -> Split:
        """The canary's and the baseline's shares of users (percent) as the file configures them."""
        flags = self._read_document().get("flags")
        if not flags or self.flag not in flags:
            raise TargetError(
                f"the flag file {self.path} has no flag {self.flag!r}",
                hint="set a weight first (the router writes the flag)",
            )
        flag = flags[self.flag]
        if flag.get("state") == "DISABLED":
            return Split(0.0)
        fractional = (flag.get("targeting") or {}).get("fractional")
        if fractional is None:
            default = flag.get("defaultVariant")
            return Split(100.0 if default == self.canary else 0.0,
                         100.0 if self.baseline is not None and default == self.baseline else 0.0)
        buckets = [b for b in fractional if isinstance(b, list)]
        weights = {b[0]: (b[1] if len(b) > 1 else 1) for b in buckets if b}
        total = sum(weights.values())
        if total <= 0:
            raise TargetError(f"flag {self.flag!r} has a fractional split with no weight")
        baseline = weights.get(self.baseline, 0) if self.baseline is not None else 0
        return Split(100.0 * weights.get(self.canary, 0) / total, 100.0 * baseline / total)

    async def assignments(self, keys: Sequence[str] | None = None) -> dict[str, str]:
        """Variant each user key gets, evaluated by the OpenFeature SDK + flagd file provider."""
        return await asyncio.to_thread(self._evaluate, list(keys or self.sample_keys))

    async def observed_weight(self) -> float:
        """Percent of the sample users the SDK evaluation sends to the canary."""
        return (await self.observed_split()).canary

    async def observed_split(self) -> Split:
        """Percent of the sample users the SDK evaluation sends to the canary, and to the baseline."""
        got = list((await self.assignments()).values())
        return Split(100.0 * got.count(self.canary) / len(got),
                     100.0 * got.count(self.baseline) / len(got) if self.baseline is not None else 0.0)

    async def current_weight(self) -> float:
        """The configured weight, once the SDK's evaluation agrees with it (else WeightNotApplied)."""
        return (await self.current_split()).canary

    async def current_split(self) -> Split:
        """The configured shares, once the SDK's evaluation agrees with them (else WeightNotApplied)."""
        configured = await asyncio.to_thread(self.configured_split)
        observed = await self.observed_split()
        n = len(self.sample_keys)
        for what, want, seen in (("canary", configured.canary, observed.canary),
                                 ("baseline", configured.baseline, observed.baseline)):
            tolerance = binomial_tolerance(want, n)
            if abs(seen - want) > tolerance:
                raise WeightNotApplied(
                    f"flag {self.flag!r} in {self.path} configures {want:g}% {what} users, "
                    f"but flagd evaluation sends {seen:g}% of {n} sample "
                    f"users there (tolerance ±{tolerance:.2g} points)",
                    hint="check the flag's targeting; another writer may have changed the file",
                )
        return configured

    def _evaluate(self, keys: list[str]) -> dict[str, str]:
        # Imported here so that plans without a flag router never load the SDK.
        from openfeature.contrib.provider.flagd import FlagdProvider
        from openfeature.contrib.provider.flagd.config import ResolverType

        if not self.path.exists():
            raise TargetError(f"the flag file {self.path} does not exist",
                              hint="set a weight first (the router writes the flag)")
        # A provider per verification reads the file as it is now; its file-watcher thread polls
        # every deadline_ms and ends within that time of shutdown().
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=str(self.path),
            deadline_ms=50,
        )
        with self._evaluating:
            return self._evaluate_with(provider, keys)

    def _evaluate_with(self, provider: Any, keys: list[str]) -> dict[str, str]:
        from openfeature import api
        from openfeature.evaluation_context import EvaluationContext

        domain = self._domain
        try:
            api.set_provider_and_wait(provider, domain)
        except Exception as e:
            provider.shutdown()
            raise TargetError(
                f"the flagd provider cannot load {self.path}: {_describe(e)}",
                hint="check that the file is a valid flagd flag definition",
            ) from e
        try:
            client = api.get_client(domain)
            default = self.variant_values[self.stable]
            by_value = {json.dumps(v, sort_keys=True): n for n, v in self.variant_values.items()}
            if isinstance(default, bool):
                evaluate = client.get_boolean_details
            elif isinstance(default, str):
                evaluate = client.get_string_details
            elif isinstance(default, int):
                evaluate = client.get_integer_details
            elif isinstance(default, float):
                evaluate = client.get_float_details
            else:
                evaluate = client.get_object_details
            out: dict[str, str] = {}
            for key in keys:
                details = evaluate(self.flag, default, EvaluationContext(targeting_key=key))
                if details.error_code is not None:
                    raise TargetError(
                        f"flagd could not evaluate flag {self.flag!r} from {self.path}: "
                        f"{details.error_code.value}: {details.error_message}",
                        hint="check the flag definition",
                    )
                variant = details.variant or by_value.get(json.dumps(details.value, sort_keys=True))
                if variant is None:
                    raise TargetError(
                        f"flag {self.flag!r} evaluated to {details.value!r}, which is none of its "
                        f"variants ({', '.join(repr(v) for v in self.variant_values)})"
                    )
                out[key] = variant
            return out
        finally:
            provider.shutdown()


def _describe(error: BaseException) -> str:
    """The messages of an exception and of its causes (the SDK's own ones are often empty)."""
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(parts) < 5:
        text = getattr(seen, "error_message", None) or str(seen)
        if text and text not in parts:
            parts.append(text)
        seen = seen.__cause__ or seen.__context__
    return ": ".join(parts) or type(error).__name__


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
