"""An in-toto attestation for the artefact in a DSSE envelope, signed by a key the plan trusts, and the
SLSA provenance it carries (who built the artefact, from what source).

The envelope file holds one DSSE envelope (JSON), JSON lines of envelopes (``*.intoto.jsonl``, as the
SLSA GitHub generator writes them), or a Sigstore bundle whose ``dsseEnvelope`` is the attestation.
The first envelope that is an in-toto statement, signed by a trusted key, with the artefact's digest
among its subjects, is the one checked; when none is, each one's problem is said.
"""

from __future__ import annotations

import base64
import binascii
import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from launchdeck.errors import SupplyChainError
from launchdeck.evidence.bundle import pae
from launchdeck.plan.supply_model import AttestationSpec, ProvenanceSpec
from launchdeck.supply import Found, keys
from launchdeck.supply.artifact import Artifact, read_bytes

IN_TOTO = "application/vnd.in-toto+json"
SLSA = "https://slsa.dev/provenance/"
WHAT = "signature.attestation.envelope"
ATTEST_HINT = ("attest the build (e.g. the SLSA GitHub generator, `cosign attest-blob`, `in-toto-run`) and sign it "
               "with a key listed in signature.attestation.keys")


def verify(spec: AttestationSpec, artifact: Artifact, workdir: Path) -> tuple[dict[str, Any], Found]:
    """The verified in-toto statement, and what was found."""
    path = workdir / spec.envelope
    raw = read_bytes(path, WHAT, missing=ATTEST_HINT)
    trusted = [(name, keys.load(workdir / name, "signature.attestation.keys")) for name in spec.keys]
    problems: list[str] = []
    for n, envelope in enumerate(_envelopes(raw, path), 1):
        where = f"envelope {n}" if n > 1 else "the envelope"
        payload_type, payload, signatures = _parts(envelope, path)
        if payload_type != IN_TOTO:
            problems.append(f"{where} carries {payload_type!r}, not an in-toto statement ({IN_TOTO})")
            continue
        signer = next(((name, key) for name, key in trusted for sig in signatures
                       if keys.verifies(key, sig, message=pae(payload_type, payload))), None)
        if signer is None:
            problems.append(f"{where} is not signed by a trusted key ({', '.join(spec.keys)})")
            continue
        statement = _statement(payload, path)
        subjects = _subject_digests(statement)
        if artifact.hex not in subjects:
            named = ", ".join(f"sha256:{d[:12]}…" for d in subjects) or "no sha256 subject"
            problems.append(f"{where} is about {named}, not the artefact {artifact.digest}")
            continue
        predicate = str(statement.get("predicateType", ""))
        fingerprint = keys.fingerprint(signer[1])
        return statement, (f"in-toto attestation ({predicate or 'no predicate type'}) for {artifact.digest} signed by "
                           f"the trusted key {signer[0]} ({fingerprint})",
                           {"envelope": str(path), "digest": artifact.digest, "predicateType": predicate,
                            "key": fingerprint})
    raise SupplyChainError(f"attestation {path}: " + "; ".join(problems or ["no envelope in the file"]),
                           hint=ATTEST_HINT)


def provenance(spec: ProvenanceSpec, statement: dict[str, Any]) -> Found:
    """The SLSA provenance's builder and source, each against the plan's allowed values."""
    kind = str(statement.get("predicateType", ""))
    if not kind.startswith(SLSA):
        raise SupplyChainError(f"provenance: the attestation is a {kind or 'untyped'} predicate, not SLSA provenance "
                               f"({SLSA}v1)", hint="attest the build with SLSA provenance (e.g. the SLSA GitHub "
                               "generator) in signature.attestation")
    predicate = statement.get("predicate")
    predicate = predicate if isinstance(predicate, dict) else {}
    if kind.startswith(SLSA + "v0"):
        builder = _get(predicate, "builder", "id")
        source = _get(predicate, "invocation", "configSource", "uri") or _first_uri(predicate.get("materials"))
    else:
        builder = _get(predicate, "runDetails", "builder", "id")
        definition = predicate.get("buildDefinition") if isinstance(predicate.get("buildDefinition"), dict) else {}
        source = (_first_uri(definition.get("resolvedDependencies"))
                  or _get(definition, "externalParameters", "workflow", "repository")
                  or _get(definition, "externalParameters", "source"))
    problems = []
    if not builder or not _allowed(builder, spec.builders):
        problems.append(f"builder {builder or '(none named)'} is not one the plan allows ({', '.join(spec.builders)})")
    if not source or not _allowed(source, spec.sources):
        problems.append(f"source {source or '(none named)'} is not one the plan allows ({', '.join(spec.sources)})")
    data = {"predicateType": kind, "builder": builder, "source": source}
    if problems:
        raise SupplyChainError("provenance: " + "; ".join(problems), data=data,
                               hint="build the release with an allowed builder from an allowed source, or add them "
                                    "to preflight.supplyChain.provenance")
    return f"SLSA provenance: built by {builder} from {source}", data


def _allowed(value: str, patterns: list[str]) -> bool:
    """A value matches an allowed entry exactly, as a glob (``https://github.com/acme/*``), or up to its
    ref (``git+https://github.com/acme/app@refs/heads/main`` matches ``git+https://github.com/acme/app``)."""
    bare = value.split("@", 1)[0]
    return any(fnmatchcase(value, p) or fnmatchcase(bare, p) for p in patterns)


def _envelopes(raw: bytes, path: Path) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8")
        try:
            documents = [json.loads(text)]
        except ValueError:  # JSON lines, one envelope a line
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError) as e:
        raise SupplyChainError(f"{WHAT} {path} is neither a DSSE envelope nor JSON lines of envelopes: {e}",
                               hint=ATTEST_HINT) from e
    out = []
    for document in documents:
        if isinstance(document, dict) and isinstance(document.get("dsseEnvelope"), dict):
            document = document["dsseEnvelope"]  # a Sigstore bundle around the attestation
        if isinstance(document, dict):
            out.append(document)
    return out


def _parts(envelope: dict[str, Any], path: Path) -> tuple[str, bytes, list[bytes]]:
    try:
        payload = base64.b64decode(str(envelope["payload"]), validate=True)
        signatures = [base64.b64decode(str(s["sig"]), validate=True) for s in envelope.get("signatures", [])
                      if isinstance(s, dict) and "sig" in s]
    except (KeyError, binascii.Error, ValueError) as e:
        raise SupplyChainError(f"{WHAT} {path} is not a DSSE envelope (payload and signatures, base64)",
                               hint=ATTEST_HINT) from e
    return str(envelope.get("payloadType", "")), payload, signatures


def _statement(payload: bytes, path: Path) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise SupplyChainError(f"{WHAT} {path}: the signed payload is not JSON", hint=ATTEST_HINT) from e
    if not isinstance(statement, dict):
        raise SupplyChainError(f"{WHAT} {path}: the signed payload is not an in-toto statement", hint=ATTEST_HINT)
    return statement


def _subject_digests(statement: dict[str, Any]) -> list[str]:
    subjects = statement.get("subject")
    return [str(s["digest"]["sha256"]).lower() for s in subjects if isinstance(s, dict)
            and isinstance(s.get("digest"), dict) and "sha256" in s["digest"]] if isinstance(subjects, list) else []


def _get(value: Any, *keys_: str) -> str | None:
    for key in keys_:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, dict) and "uri" in value:
        value = value["uri"]
    return str(value) if isinstance(value, str | int) and value != "" else None


def _first_uri(items: Any) -> str | None:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("uri"), str):
                return str(item["uri"])
    return None
