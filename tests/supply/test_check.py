"""The supply-chain preflight as a whole: a trusted release passes every check, and each way of breaking
it (no signature, no SBOM, a critical CVE, an expired allow-list entry, a planted key, a region outside
the plan's) is refused with what failed and how to fix it, the other checks still reported."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from supply_chain_files import DIGEST, FAKE_AWS_KEY, ReleaseFiles, grype_report

from launchdeck import supply
from launchdeck.plan.supply_model import SupplyChainSpec

TODAY = date(2025, 6, 1)


def run(files: ReleaseFiles, section: dict[str, Any] | None = None) -> dict[str, supply.Result]:
    spec = SupplyChainSpec.model_validate(section or files.plan_section())
    return {r.name: r for r in supply.check(spec, workdir=files.folder, today=TODAY)}


def failed(results: dict[str, supply.Result]) -> dict[str, supply.Result]:
    return {name: r for name, r in results.items() if not r.passed}


def test_a_signed_image_with_an_sbom_and_a_clean_scan_passes_every_check(files: ReleaseFiles) -> None:
    results = run(files)
    assert list(results) == ["artifact", "signature.sigstore", "signature.attestation", "provenance", "sbom",
                             "vulnerabilities", "secrets", "residency"]
    assert failed(results) == {}
    assert results["signature.sigstore"].data["identity"] == files.sigstore.identity
    assert results["sbom"].data["sha256"].startswith("sha256:")
    assert results["vulnerabilities"].data["counts"] == {"low": 1}
    assert all(r.to_json()["name"].startswith("supplyChain.") for r in results.values())


def test_a_missing_signature_is_refused_with_how_to_sign(files: ReleaseFiles) -> None:
    (files.folder / "image.sigstore.json").unlink()
    bad = failed(run(files))
    assert list(bad) == ["signature.sigstore"]
    assert "image.sigstore.json" in bad["signature.sigstore"].detail
    assert "sign-blob --bundle" in bad["signature.sigstore"].fix


def test_a_missing_sbom_is_refused(files: ReleaseFiles) -> None:
    (files.folder / "sbom.cdx.json").unlink()
    bad = failed(run(files))
    assert list(bad) == ["sbom"]
    assert "No such file" in bad["sbom"].detail and "syft" in bad["sbom"].fix


def test_a_critical_cve_is_refused_naming_it(files: ReleaseFiles) -> None:
    files.write_json("grype.json", grype_report(DIGEST, [("CVE-2024-3094", "Critical", "xz-utils", "5.6.0")]))
    bad = failed(run(files))
    assert list(bad) == ["vulnerabilities"]
    assert "1 critical (limit 0): CVE-2024-3094 in xz-utils 5.6.0" in bad["vulnerabilities"].detail
    assert "vulnerabilities.allow" in bad["vulnerabilities"].fix


def test_an_expired_allow_list_entry_no_longer_allows(files: ReleaseFiles) -> None:
    files.write_json("grype.json", grype_report(DIGEST, [("CVE-2024-3094", "Critical", "xz-utils", "5.6.0")]))
    section = files.plan_section()
    entry = {"id": "CVE-2024-3094", "reason": "not reachable: xz unused at run time", "expires": "2025-12-31"}
    section["vulnerabilities"]["allow"] = [entry]
    assert failed(run(files, section)) == {}
    entry["expires"] = "2025-05-31"  # the day before TODAY
    bad = failed(run(files, section))
    assert "allow-list entry CVE-2024-3094 expired on 2025-05-31" in bad["vulnerabilities"].detail


def test_a_planted_aws_key_is_refused_by_file_and_line_never_by_value(files: ReleaseFiles) -> None:
    files.write_text("config/app.yaml", f"db:\n  host: orders-db.internal\naws:\n  access_key_id: {FAKE_AWS_KEY}\n")
    bad = failed(run(files))
    assert list(bad) == ["secrets"]
    assert "config/app.yaml:4: AWS Access Key" in bad["secrets"].detail
    assert FAKE_AWS_KEY not in json.dumps(bad["secrets"].to_json())


def test_a_region_outside_a_us_only_plan_is_refused(files: ReleaseFiles) -> None:
    section = files.plan_section()
    section["residency"]["region"] = "eu-west-1"
    bad = failed(run(files, section))
    assert list(bad) == ["residency"]
    assert "the target is in eu-west-1, outside the allowed regions (us-*)" in bad["residency"].detail


def test_checks_against_an_artefact_that_cannot_be_read_each_fail_and_say_why(files: ReleaseFiles) -> None:
    section = files.plan_section()
    section["artifact"] = {"file": "dist/missing.tar"}
    bad = failed(run(files, section))
    assert {"artifact", "signature.sigstore", "signature.attestation", "sbom", "vulnerabilities"} <= set(bad)
    assert "the artefact could not be read" in bad["sbom"].detail
    assert "provenance" in bad  # nothing verified to read it from
