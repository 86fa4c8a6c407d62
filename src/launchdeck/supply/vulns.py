"""A vulnerability scanner's report for the artefact, judged against the plan's severity limits.

Reads the JSON of Grype (``grype IMAGE -o json``), Trivy (``trivy image -f json``) and OSV-Scanner
(``osv-scanner --format json``); ``format: auto`` tells them apart by their top-level keys. A report
that names the image digests it scanned (Grype, Trivy) must name the artefact's. Each finding has a
severity (OSV's from the group's highest CVSS score, else its database's word); an allow-list entry
takes a finding out of the count until its ``expires`` day has passed (UTC), and an expired entry is
named in the refusal. Limits are "at most N findings of this severity".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import AllowSpec, VulnerabilitiesSpec
from launchdeck.supply import Found
from launchdeck.supply.artifact import Artifact, read_bytes

WHAT = "vulnerabilities.report"
SCAN_HINT = "scan the artefact: `grype IMAGE@DIGEST -o json > FILE` or `trivy image -f json -o FILE IMAGE@DIGEST`"
LEVELS = ("critical", "high", "medium", "low", "negligible", "unknown")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    """One of LEVELS."""
    package: str
    aliases: tuple[str, ...] = ()

    def names(self) -> set[str]:
        return {self.id, *self.aliases}

    def describe(self) -> str:
        return f"{self.id} in {self.package}" if self.package else self.id


@dataclass(frozen=True)
class Report:
    scanner: str
    findings: tuple[Finding, ...]
    digests: frozenset[str]
    """Hex sha256 digests the report says it scanned (none for a file or lock-file scan)."""


def check(spec: VulnerabilitiesSpec, artifact: Artifact, workdir: Path, today: date) -> Found:
    path = workdir / spec.report
    report = parse(read_bytes(path, WHAT, missing=SCAN_HINT), path, spec.format)
    if report.digests and artifact.hex not in report.digests:
        named = ", ".join(f"sha256:{d[:12]}…" for d in sorted(report.digests))
        raise SupplyChainError(f"scan report {path} ({report.scanner}) is for {named}, not the artefact "
                               f"{artifact.digest}", hint=SCAN_HINT)
    ok, detail, data = judge(report.findings, spec.limits, spec.allow, today)
    data = {"report": str(path), "scanner": report.scanner, **data}
    if not ok:
        raise SupplyChainError(f"scan report {path} ({report.scanner}): {detail}", data=data,
                               hint="upgrade the affected packages and scan again, or allow a finding with "
                                    "vulnerabilities.allow: {id, reason, expires}")
    return f"{report.scanner} report {path.name}: {detail}", data


def judge(findings: tuple[Finding, ...], limits: dict[str, int], allow: list[AllowSpec],
          today: date) -> tuple[bool, str, dict[str, Any]]:
    """Whether the findings stay within the limits once the live allow-list entries are taken out."""
    live = [a for a in allow if a.expires >= today]
    expired = [a for a in allow if a.expires < today]
    counted = [f for f in findings if not any(a.id in f.names() for a in live)]
    allowed = sorted({a.id for a in live for f in findings if a.id in f.names()})
    counts = {level: sum(1 for f in counted if f.severity == level) for level in LEVELS}
    over = []
    for level in LEVELS:
        limit = limits.get(level)
        if limit is not None and counts[level] > limit:
            named = ", ".join([f.describe() for f in counted if f.severity == level][:5])
            more = f" and {counts[level] - 5} more" if counts[level] > 5 else ""
            over.append(f"{counts[level]} {level} (limit {limit}): {named}{more}")
    lapsed = [f"allow-list entry {a.id} expired on {a.expires.isoformat()} ({a.reason}) and no longer allows"
              for a in expired if any(a.id in f.names() for f in counted)]
    data = {"counts": {k: v for k, v in counts.items() if v}, "limits": dict(limits), "allowed": allowed,
            "expired": [a.id for a in expired]}
    if over:
        return False, "; ".join(over + lapsed), data
    within = ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "no findings"
    return True, f"{within} within the limits" + (f" ({len(allowed)} allowed: {', '.join(allowed)})" if allowed
                                                   else ""), data


def parse(raw: bytes, path: Path, kind: str = "auto") -> Report:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise SupplyChainError(f"{WHAT} {path} is not JSON: {e}", hint=SCAN_HINT) from e
    if not isinstance(document, dict):
        raise SupplyChainError(f"{WHAT} {path} is not a scanner report (not a JSON object)", hint=SCAN_HINT)
    if kind == "auto":
        kind = ("grype" if "matches" in document else "trivy" if "Results" in document or "SchemaVersion" in document
                else "osv" if "results" in document else "")
    readers = {"grype": _grype, "trivy": _trivy, "osv": _osv}
    if kind not in readers:
        raise SupplyChainError(f"{WHAT} {path} is not a Grype, Trivy or OSV-Scanner JSON report",
                               hint=SCAN_HINT + "; or set vulnerabilities.format")
    try:
        return readers[kind](document)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise SupplyChainError(f"{WHAT} {path} is not a well-formed {kind} report ({type(e).__name__}: {e})",
                               hint=SCAN_HINT) from e


def _grype(doc: dict[str, Any]) -> Report:
    findings = []
    for match in doc.get("matches") or []:
        vuln, art = match["vulnerability"], match.get("artifact") or {}
        related = [r.get("id") for r in match.get("relatedVulnerabilities") or [] if r.get("id")]
        findings.append(Finding(str(vuln["id"]), _level(vuln.get("severity")), _package(art.get("name"),
                                art.get("version")), tuple(str(r) for r in related)))
    target = (doc.get("source") or {}).get("target") or {}
    texts = [target.get("manifestDigest"), *(target.get("repoDigests") or [])] if isinstance(target, dict) else []
    descriptor = doc.get("descriptor") or {}
    return Report(f"grype {descriptor.get('version', '')}".strip(), tuple(findings), _digests(texts))


def _trivy(doc: dict[str, Any]) -> Report:
    findings = []
    for result in doc.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            findings.append(Finding(str(vuln["VulnerabilityID"]), _level(vuln.get("Severity")),
                                    _package(vuln.get("PkgName"), vuln.get("InstalledVersion"))))
    meta = doc.get("Metadata") or {}
    return Report("trivy", tuple(findings), _digests(list(meta.get("RepoDigests") or [])))


def _osv(doc: dict[str, Any]) -> Report:
    findings = []
    for result in doc.get("results") or []:
        for entry in result.get("packages") or []:
            package = entry.get("package") or {}
            scores = {i: g.get("max_severity") for g in entry.get("groups") or [] for i in g.get("ids") or []}
            for vuln in entry.get("vulnerabilities") or []:
                vid = str(vuln["id"])
                level = _cvss_level(scores.get(vid)) or _level((vuln.get("database_specific") or {}).get("severity"))
                findings.append(Finding(vid, level, _package(package.get("name"), package.get("version")),
                                        tuple(str(a) for a in vuln.get("aliases") or [])))
    return Report("osv-scanner", tuple(findings), frozenset())


def _level(word: Any) -> str:
    text = str(word or "").strip().lower()
    text = {"moderate": "medium", "important": "high", "none": "negligible"}.get(text, text)
    return text if text in LEVELS else "unknown"


def _cvss_level(score: Any) -> str | None:
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    return "critical" if value >= 9 else "high" if value >= 7 else "medium" if value >= 4 else \
        "low" if value > 0 else "negligible"


def _package(name: Any, version: Any) -> str:
    return " ".join(str(p) for p in (name, version) if p)


def _digests(texts: list[Any]) -> frozenset[str]:
    return frozenset(m for t in texts if isinstance(t, str) for m in _DIGEST.findall(t.lower()))
