"""The release's artefact: the digest every other supply-chain check is made against."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import ArtifactSpec

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Artifact:
    digest: str
    """``sha256:<64 hex>``."""
    path: Path | None = None
    """The file, when the plan gave one (some signatures are checked over its bytes)."""

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]

    def describe(self) -> str:
        return f"{self.path.name} ({self.digest})" if self.path else self.digest

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, **({"file": str(self.path)} if self.path else {})}


def resolve(spec: ArtifactSpec, workdir: Path) -> Artifact:
    if spec.digest is not None:
        return Artifact(spec.digest)
    assert spec.file is not None
    path = workdir / spec.file
    return Artifact(f"sha256:{file_sha256(path, 'artifact.file', missing='build the artefact first')}", path)


def file_sha256(path: Path, what: str, *, missing: str = "") -> str:
    """The hex sha256 of a file; a missing or unreadable one is a failed check naming ``what``."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as e:
        hint = "fix the path (relative paths are read from the plan file's folder)"
        if isinstance(e, FileNotFoundError) and missing:
            hint = f"{missing}, or {hint}"
        raise SupplyChainError(f"{what} {path}: cannot read it: {e.strerror or e}", hint=hint) from e
    return digest.hexdigest()


def read_bytes(path: Path, what: str, *, missing: str = "", limit: int = 64 << 20) -> bytes:
    """A document the checks parse (bundle, envelope, SBOM, report), read within ``limit`` bytes.
    ``missing`` is the hint when there is no such file (how to produce it)."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SupplyChainError(f"{what} {path} is not a file", hint="give the path of the file itself")
        if size > limit:
            raise SupplyChainError(f"{what} {path} is {size} bytes, over the {limit >> 20} MB read limit",
                                   hint="give the document itself, not an archive of documents")
        return path.read_bytes()
    except OSError as e:
        hint = "fix the path (relative paths are read from the plan file's folder)"
        if isinstance(e, FileNotFoundError) and missing:
            hint = f"{missing}, or {hint}"
        raise SupplyChainError(f"{what} {path}: cannot read it: {e.strerror or e}", hint=hint) from e
