"""The release's configuration files scanned with detect-secrets: a finding refuses the release, naming
the file, the line and the kind of secret, never the value (the evidence keeps detect-secrets' hash of
it, so the same finding can be recognised later without being readable)."""

from __future__ import annotations

from pathlib import Path

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SecretsSpec
from launchdeck.supply import Found


def scan(spec: SecretsSpec, workdir: Path) -> Found:
    files, missing = _files(spec.files, workdir)
    if missing:
        raise SupplyChainError(f"secrets: {', '.join(missing)} matches no file, so nothing there was scanned",
                               hint="fix the path or pattern in preflight.supplyChain.secrets.files (relative to "
                                    "the plan file's folder)")
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    collection = SecretsCollection()
    with default_settings():
        for path in files:
            collection.scan_file(str(path))
    found = sorted(((_shown(Path(name), workdir), secret.line_number, secret.type, secret.secret_hash)
                    for name, secret in collection), key=lambda f: (f[0], f[1]))
    data = {"files": [_shown(p, workdir) for p in files],
            "findings": [{"file": f, "line": line, "type": kind, "hashedSecret": digest} for f, line, kind, digest in found]}
    if found:
        where = "; ".join(f"{f}:{line}: {kind}" for f, line, kind, _ in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        raise SupplyChainError(f"secrets: {len(found)} secret(s) in the release's configuration: {where}{more}",
                               data=data, hint="move each secret out of the file (a secret store, or an "
                                               "environment variable read at start) and rotate it, since it was shipped")
    return f"secrets: none found in {len(files)} file(s)", data


def _files(patterns: list[str], workdir: Path) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing = []
    for pattern in patterns:
        matched = sorted(p for p in workdir.glob(pattern) if p.is_file()) if any(c in pattern for c in "*?[") else (
            [workdir / pattern] if (workdir / pattern).is_file() else [])
        if not matched:
            missing.append(pattern)
        files += [p for p in matched if p not in files]
    return files, missing


def _shown(path: Path, workdir: Path) -> str:
    try:
        return str(path.resolve().relative_to(workdir.resolve()))
    except ValueError:
        return str(path)
