"""Scanner reports (Grype, Trivy, OSV-Scanner) against severity limits and an allow-list with expiry."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from supply_chain_files import DIGEST, grype_report, osv_report, trivy_report

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import AllowSpec, VulnerabilitiesSpec
from launchdeck.supply import vulns
from launchdeck.supply.artifact import Artifact

TODAY = date(2025, 6, 1)
XZ = ("CVE-2024-3094", "Critical", "xz-utils", "5.6.0")
CURL = ("CVE-2023-38545", "High", "curl", "7.88.1")


def parsed(document: dict) -> vulns.Report:
    return vulns.parse(json.dumps(document).encode(), Path("report.json"))


def test_grype_and_trivy_reports_give_the_same_findings_and_the_scanned_digest() -> None:
    grype, trivy = parsed(grype_report(DIGEST, [XZ, CURL])), parsed(trivy_report(DIGEST, [XZ, CURL]))
    assert [(f.id, f.severity, f.package) for f in grype.findings] == [
        ("CVE-2024-3094", "critical", "xz-utils 5.6.0"), ("CVE-2023-38545", "high", "curl 7.88.1")]
    assert [(f.id, f.severity, f.package) for f in trivy.findings] == [(f.id, f.severity, f.package)
                                                                       for f in grype.findings]
    assert grype.digests == trivy.digests == {DIGEST.split(":")[1]}


def test_osv_findings_take_their_severity_from_the_groups_cvss_score() -> None:
    report = parsed(osv_report([("GHSA-p6mc-m468-83gw", "CVE-2020-8203", "7.4", "lodash", "4.17.15"),
                                ("GHSA-jf85-cpcp-j695", "CVE-2019-10744", "9.1", "lodash", "4.17.15")]))
    assert [f.severity for f in report.findings] == ["high", "critical"]
    assert report.findings[0].aliases == ("CVE-2020-8203",) and report.digests == frozenset()


def test_findings_within_the_limits_pass() -> None:
    ok, detail, data = vulns.judge(parsed(grype_report(DIGEST, [CURL])).findings, {"critical": 0, "high": 1}, [], TODAY)
    assert ok and detail == "1 high within the limits" and data["counts"] == {"high": 1}


def test_an_allow_list_entry_allows_until_its_expiry_day_and_not_after() -> None:
    findings = parsed(grype_report(DIGEST, [XZ])).findings
    entry = AllowSpec(id="CVE-2024-3094", reason="backdoored build not shipped", expires=TODAY)
    assert vulns.judge(findings, {"critical": 0}, [entry], TODAY)[0]
    ok, detail, data = vulns.judge(findings, {"critical": 0}, [entry], date(2025, 6, 2))
    assert not ok and data["expired"] == ["CVE-2024-3094"]
    assert "expired on 2025-06-01 (backdoored build not shipped) and no longer allows" in detail


def test_an_allow_list_entry_matches_an_alias() -> None:
    findings = parsed(osv_report([("GHSA-jf85-cpcp-j695", "CVE-2019-10744", "9.1", "lodash", "4.17.15")])).findings
    entry = AllowSpec(id="CVE-2019-10744", reason="server side only", expires=date(2030, 1, 1))
    assert vulns.judge(findings, {"critical": 0}, [entry], TODAY)[:2] == (
        True, "no findings within the limits (1 allowed: CVE-2019-10744)")


def test_a_report_for_another_image_is_refused(tmp_path: Path) -> None:
    (tmp_path / "grype.json").write_text(json.dumps(grype_report("sha256:" + "4" * 64, [])))
    with pytest.raises(SupplyChainError, match="is for sha256:444444444444…, not the artefact"):
        vulns.check(VulnerabilitiesSpec(report="grype.json"), Artifact(DIGEST), tmp_path, TODAY)


def test_a_file_that_is_no_scanner_report_says_which_formats_are_read(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"vulns": []}')
    with pytest.raises(SupplyChainError, match="not a Grype, Trivy or OSV-Scanner JSON report"):
        vulns.check(VulnerabilitiesSpec(report="r.json"), Artifact(DIGEST), tmp_path, TODAY)
