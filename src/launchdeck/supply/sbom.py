"""The artefact's SBOM: a CycloneDX (JSON) or SPDX (JSON, YAML, XML, tag-value) document that parses and
validates with its own library, and describes the artefact's digest. The evidence records the SBOM's own
sha256, so the document the release was judged with can be found again.

An SBOM "describes" the digest when its subject (CycloneDX ``metadata.component``; any SPDX package)
carries it as a SHA-256 hash, as its version (``sha256:…``, as Syft writes images), or in its package URL.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SbomSpec
from launchdeck.supply import Found
from launchdeck.supply.artifact import Artifact, read_bytes

WHAT = "sbom.path"
MAKE_HINT = "generate it for the artefact, e.g. `syft IMAGE@DIGEST -o cyclonedx-json=sbom.cdx.json` (or spdx-json)"
_HEX = re.compile(r"[0-9a-f]{64}")


def check(spec: SbomSpec, artifact: Artifact, workdir: Path) -> Found:
    path = workdir / spec.path
    raw = read_bytes(path, WHAT, missing=MAKE_HINT)
    own = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        kind, described, components = _cyclonedx(document, path)
    else:
        kind, described, components = _spdx(path)
    data = {"path": str(path), "sha256": own, "format": kind, "components": components}
    if artifact.hex not in described:
        named = ", ".join(f"sha256:{d[:12]}…" for d in sorted(described)) or "no digest"
        raise SupplyChainError(f"SBOM {path} ({kind}) describes {named}, not the artefact {artifact.digest}",
                               hint=MAKE_HINT, data=data)
    return f"SBOM {path.name} ({kind}, {components} components, {own}) describes {artifact.digest}", data


def _cyclonedx(document: dict[str, Any], path: Path) -> tuple[str, set[str], int]:
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    version = str(document.get("specVersion", ""))
    kind = f"CycloneDX {version}"
    try:
        schema = SchemaVersion.from_version(version)
    except ValueError as e:
        raise SupplyChainError(f"SBOM {path}: CycloneDX specVersion {version!r} is not one the library knows",
                               hint=MAKE_HINT) from e
    problem = JsonStrictValidator(schema).validate_str(json.dumps(document))
    if problem is not None:
        raise SupplyChainError(f"SBOM {path} is not valid {kind}: {str(problem.data)[:300]}", hint=MAKE_HINT)
    try:
        with warnings.catch_warnings():  # the library warns about incomplete dependency graphs: not ours to judge
            warnings.simplefilter("ignore")
            bom = Bom.from_json(document)  # type: ignore[attr-defined]
    except Exception as e:  # the library's deserializer raises many kinds; any of them means "does not parse"
        raise SupplyChainError(f"SBOM {path} does not parse as {kind}: {type(e).__name__}: {str(e)[:200]}",
                               hint=MAKE_HINT) from e
    subject = bom.metadata.component
    described: set[str] = set()
    if subject is not None:
        described |= {h.content.lower() for h in subject.hashes if h.alg.value == "SHA-256"}
        for text in (subject.version, str(subject.purl or ""), str(subject.bom_ref.value or "")):
            described |= set(_HEX.findall(str(text or "").lower()))
    return kind, described, len(bom.components)


def _spdx(path: Path) -> tuple[str, set[str], int]:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import (
        validate_full_spdx_document,
    )

    try:
        document = parse_file(str(path))
    except SPDXParsingError as e:
        raise SupplyChainError(f"SBOM {path} does not parse as SPDX: {'; '.join(e.get_messages())[:300]}",
                               hint=MAKE_HINT) from e
    except (ValueError, KeyError, TypeError, OSError) as e:  # an unknown extension, a broken file
        raise SupplyChainError(f"SBOM {path} is neither CycloneDX JSON nor SPDX (json, yaml, xml, tag-value): "
                               f"{str(e)[:200]}", hint=MAKE_HINT) from e
    problems = validate_full_spdx_document(document)
    if problems:
        raise SupplyChainError(f"SBOM {path} is not valid SPDX: {problems[0].validation_message[:300]}",
                               hint=MAKE_HINT)
    kind = document.creation_info.spdx_version
    described: set[str] = set()
    for package in document.packages:
        described |= {c.value.lower() for c in package.checksums if c.algorithm.name == "SHA256"}
        texts = [str(package.version or "")] + [str(ref.locator) for ref in package.external_references]
        for text in texts:
            described |= set(_HEX.findall(text.lower()))
    return kind, described, len(document.packages)
