"""Signed release evidence: the record that proves what was released, how, and who agreed.

A release ends by writing an evidence bundle, a DSSE envelope around an in-toto Statement whose
predicate carries the release record (plan, decisions, sign-offs, metrics), signed with an Ed25519
key kept on disk as PEM. ``keys`` creates and loads those keys; ``bundle`` writes bundles in one
canonical byte form and verifies them strictly, so that any change to a file after signing, down to
a single character, is reported instead of trusted, and so that the same bundle can be checked by
standard supply-chain tooling outside launchdeck. ``checkpoint`` signs and opens the decision log's
heads; ``trust`` says which keys the user trusts, since a valid signature alone proves nothing about
who made it.
"""

from __future__ import annotations

from launchdeck.evidence.bundle import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    VerifiedBundle,
    canonical_json,
    pae,
    read_statement,
    verify_bundle,
    write_bundle,
)
from launchdeck.evidence.keys import (
    generate,
    key_id,
    load_private,
    load_public,
    public_path,
    public_pem,
)

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "VerifiedBundle",
    "canonical_json",
    "generate",
    "key_id",
    "load_private",
    "load_public",
    "pae",
    "public_path",
    "public_pem",
    "read_statement",
    "verify_bundle",
    "write_bundle",
]
