"""Assembles and signs the release's evidence: plan digest, decisions with inputs, sign-offs, outcome, and
the signed head of the decision log (``controller.audit``) as it stood when the bundle was written. Each
bundle is written to the plan's evidence folder and kept in the store (``store.bundles``) for the API."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from launchdeck import evidence
from launchdeck.comms.render import redact
from launchdeck.controller import audit
from launchdeck.evidence import trust
from launchdeck.store import bundles as stored
from launchdeck.store.repo import Store, StoredRelease


def ensure_key(path: Path) -> tuple[Any, str | None]:
    """The signing key, generated when missing, and trusted by this user for verification (see
    ``evidence.trust``); the second value says what was done, for the user."""
    notes = []
    if not path.exists():
        with _generating(path):  # releases of one folder started together (a worker) make one key, not a race
            if not path.exists():
                evidence.generate(path)
                notes.append(f"no signing key at {path}: generated a new Ed25519 key pair ({path}, {path}.pub)")
    key = evidence.load_private(path)
    trusted = trust.trust_own_key(key.public_key(), path)
    if trusted:
        notes.append(trusted)
    return key, "; ".join(notes) or None


@contextmanager
def _generating(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the key (``.NAME.lock``) while it is made; other processes wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write(*, store: Store, release: StoredRelease, key: Any, directory: Path, label: str | None,
          summary: dict[str, Any], secrets: list[str], checks: list[dict[str, Any]]) -> Path:
    name = file_name(release, label)
    # The head first: the bundle then lists exactly the decisions it covers.
    head = audit.sign_head(store=store, release_id=release.id, key=key, label=label or audit.FINAL,
                           bundle=directory / name)
    decisions = [
        {"seq": d.seq, "planAt": d.plan_at, "at": d.wall_at.isoformat(), "kind": d.kind, "reason": d.reason,
         "gate": d.gate, "inputs": d.inputs, "hash": d.hash}
        for d in store.decisions(release_id=release.id) if d.seq <= head["head"]["count"]
    ]
    signoffs = [
        {"who": s.who, "role": s.role, "stage": s.stage, "checklist": s.checklist, "decision": s.decision,
         "reason": s.reason, "source": s.source, "at": s.at.isoformat()}
        for s in store.signoffs(release_id=release.id)
    ]
    predicate = {
        "release": release.name, "tenant": release.tenant, "plan": {"path": release.plan_path,
                                                                     "digest": release.plan_digest},
        "scope": label or "release", "summary": summary, "decisions": decisions, "signoffs": signoffs,
        "checks": checks,
        **({"tenantPolicy": release.state["tenantPolicy"]} if release.state.get("tenantPolicy") else {}),
    }
    if secrets:
        predicate = _redacted(predicate, secrets)
    predicate["logHead"] = head  # after redaction: it is signed as it stands
    digest = release.plan_digest.split(":", 1)[1]
    path = evidence.write_bundle(directory / name, subject_name=Path(release.plan_path).name, subject_digest=digest,
                                 predicate=predicate, private_key=key)
    # Kept in the store too, so the API serves it whichever machine the run was on.
    stored.keep(store, release_id=release.id, name=name, label=label or audit.FINAL,
                body=path.read_text(encoding="utf-8"))
    return path


def file_name(release: StoredRelease, label: str | None) -> str:
    """``NAME.runID[.LABEL].bundle.json``: each run of a plan has its own files, so a new run never
    overwrites an earlier run's evidence."""
    base = f"{release.name.split('#', 1)[0]}.run{release.id}"
    return f"{base}.{label}.bundle.json" if label else f"{base}.bundle.json"


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    return value
