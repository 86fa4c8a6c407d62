"""SBOMs: CycloneDX and SPDX documents parsed and validated by their libraries, describing the artefact."""

from __future__ import annotations

import hashlib

import pytest
from supply_chain_files import DIGEST, ReleaseFiles, cyclonedx_sbom

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SbomSpec
from launchdeck.supply import sbom
from launchdeck.supply.artifact import Artifact


def test_a_cyclonedx_sbom_for_the_artefact_passes_and_its_digest_is_recorded(files: ReleaseFiles) -> None:
    detail, data = sbom.check(SbomSpec(path="sbom.cdx.json"), Artifact(DIGEST), files.folder)
    own = hashlib.sha256((files.folder / "sbom.cdx.json").read_bytes()).hexdigest()
    assert data == {"path": str(files.folder / "sbom.cdx.json"), "sha256": f"sha256:{own}", "format": "CycloneDX 1.5",
                    "components": 1}
    assert f"describes {DIGEST}" in detail


def test_an_spdx_sbom_for_the_artefact_passes(files: ReleaseFiles) -> None:
    _, data = sbom.check(SbomSpec(path="sbom.spdx.json"), Artifact(DIGEST), files.folder)
    assert data["format"] == "SPDX-2.3" and data["components"] == 2


def test_an_sbom_of_another_artefact_is_refused(files: ReleaseFiles) -> None:
    files.write_text("sbom.cdx.json", cyclonedx_sbom("3" * 64))
    with pytest.raises(SupplyChainError, match=f"describes sha256:333333333333…, not the artefact {DIGEST}"):
        sbom.check(SbomSpec(path="sbom.cdx.json"), Artifact(DIGEST), files.folder)


def test_an_sbom_that_breaks_its_schema_is_refused(files: ReleaseFiles) -> None:
    files.write_text("sbom.cdx.json", '{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": "none"}')
    with pytest.raises(SupplyChainError, match="is not valid CycloneDX 1.5"):
        sbom.check(SbomSpec(path="sbom.cdx.json"), Artifact(DIGEST), files.folder)


def test_a_document_that_is_no_sbom_is_refused(files: ReleaseFiles) -> None:
    files.write_text("sbom.json", '{"spdxVersion": "SPDX-2.3"}')
    with pytest.raises(SupplyChainError, match="does not parse as SPDX"):
        sbom.check(SbomSpec(path="sbom.json"), Artifact(DIGEST), files.folder)
