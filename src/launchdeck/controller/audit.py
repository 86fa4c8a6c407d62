"""The release's decision log, checked against what was signed: `launchdeck audit verify`.

A hash chain alone shows that rows were changed in place, not that the tail was cut or the whole
chain recomputed. So the log's head is signed with the release's evidence key at every stage end and
at the outcome (``sign_head``, called where each bundle is written, which embeds it), and the check
here reads the log against four things, in this order, and names the first decision that differs:

1. the chain itself: a gap (a deleted row) or a changed row (``store.chain.check_chain``);
2. the final bundle's decision hashes, when the final bundle is there: names a changed decision
   even when the whole chain was recomputed;
3. every signed head by a trusted key: a cut tail (decisions the head covers are gone), a chain
   recomputed after a change (the head's hash is not the log's), decisions after the last head of
   a release that has ended;
4. the release row: its outcome, phase and plan digest against the latest signed head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.errors import EvidenceError
from launchdeck.evidence import checkpoint
from launchdeck.evidence.bundle import verify_bundle
from launchdeck.evidence.trust import TrustedKeys, gather
from launchdeck.store.chain import GENESIS, check_chain, missing
from launchdeck.store.repo import Store, StoredRelease
from launchdeck.store.tables import DecisionRow, LogHeadRow

#: The label of the head signed at the outcome, with the final bundle.
FINAL = "release"


@dataclass(frozen=True)
class AuditReport:
    release: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    """What was checked and held, for the OK line."""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Head:
    head: dict[str, Any]
    key_id: str
    bundle: str | None

    @property
    def where(self) -> str:
        return f"the signed head at {self.head.get('signedAt')} ({self.head.get('label')})"


def sign_head(*, store: Store, release_id: int, key: Any, label: str, bundle: Path) -> dict[str, Any]:
    """Sign the log's head as committed now, keep it with the release, and return it as bundles embed it."""
    row = store.record_head(release_id=release_id, label=label, bundle=str(bundle.resolve()),
                            sign=checkpoint.signer(key))
    return checkpoint.embedded(payload=row.payload, signature=row.signature, public_key=row.public_key)


def trusted_keys(*, keys: list[Path], plan: Path | None) -> TrustedKeys:
    """``--key`` alone, or else the ``--plan``'s ``evidence.trustedKeys`` and the user's trusted-keys file."""
    plan_keys: list[Path] = []
    if plan is not None and not keys:
        from launchdeck.plan import load_plan

        loaded = load_plan(plan)
        specs = [spec for _, spec in loaded.services] or [loaded.doc.spec]
        entries = [k for spec in specs if spec.evidence is not None for k in spec.evidence.trusted_keys]
        plan_keys = [plan.parent / entry for entry in dict.fromkeys(entries)]
    return gather(keys=keys, plan_keys=plan_keys)


def verify_release(store: Store, release: StoredRelease, trusted: TrustedKeys,
                   bundle: Path | None = None) -> AuditReport:
    """Check the release's log against its chain, its final bundle, its signed heads and its release row."""
    report = AuditReport(release.name)
    rows = store.decisions(release_id=release.id)
    chain = check_chain(rows)
    report.problems.extend(chain)
    if not chain:
        report.checked.append(f"{len(rows)} decisions chained intact for {release.name}")
    by_seq = {r.seq: r for r in rows}
    head_rows = store.log_heads(release_id=release.id)
    heads = _trusted_heads(head_rows, release, trusted, report)
    final = bundle or _final_bundle(heads)
    if final is not None:
        _against_bundle(final, by_seq, release, trusted, report)
    if heads or not head_rows:  # heads by a stranger's key were reported: they cannot be compared with
        _against_heads(heads, by_seq, rows[-1].seq if rows else 0, release, report)
    if heads:
        _against_release_row(heads[-1], release, report)
    return report


def _phase(release: StoredRelease) -> str:
    return str(release.state.get("engine", {}).get("phase", ""))


def _ended(release: StoredRelease) -> bool:
    return release.outcome is not None or _phase(release) == "done"


def _trusted_heads(rows: list[LogHeadRow], release: StoredRelease, trusted: TrustedKeys,
                   report: AuditReport) -> list[_Head]:
    """The heads whose signature holds and whose key is trusted, oldest first; the others are problems."""
    heads: list[_Head] = []
    strangers: dict[str, list[_Head]] = {}
    for row in rows:
        try:
            opened = checkpoint.open_checkpoint(payload=row.payload, signature=row.signature,
                                                public_key=row.public_key)
        except EvidenceError as e:
            report.problems.append(f"signed head {row.id} was changed: {e.message}")
            continue
        head = _Head(opened.head, opened.key_id, row.bundle)
        if head.head.get("run") != release.id:
            report.problems.append(f"{head.where} belongs to another run ({head.head.get('run')}), "
                                   f"not run {release.id}")
        elif not trusted.trusts(opened.key_id):
            strangers.setdefault(opened.key_id, []).append(head)
        else:
            heads.append(head)
    for fingerprint, signed in strangers.items():
        last = signed[-1].head
        which = signed[0].where if len(signed) == 1 else \
            f"{len(signed)} signed heads (the latest at {last.get('signedAt')}, {last.get('label')})"
        report.problems.append(f"{which}: {trusted.untrusted(fingerprint)}")
    if heads:
        signers = sorted({h.key_id for h in heads})
        report.checked.append(f"{len(heads)} signed head{'s' if len(heads) != 1 else ''} by {', '.join(signers)} (trusted: {trusted.describe()})")
    return heads


def _final_bundle(heads: list[_Head]) -> Path | None:
    finals = [h.bundle for h in heads if h.head.get("label") == FINAL and h.bundle]
    return Path(finals[-1]) if finals else None


def _against_bundle(path: Path, by_seq: dict[int, DecisionRow], release: StoredRelease, trusted: TrustedKeys,
                    report: AuditReport) -> None:
    if not path.exists():
        report.notes.append(f"final bundle {path} not found: the log was not compared with it")
        return
    try:
        verified = verify_bundle(path)
    except EvidenceError as e:
        report.problems.append(e.message)
        return
    if not trusted.trusts(verified.key_id):
        report.problems.append(f"final bundle {path}: {trusted.untrusted(verified.key_id)}")
        return
    listed = [d for d in verified.predicate.get("decisions", []) if isinstance(d, dict)]
    gone = [int(d["seq"]) for d in listed if d.get("seq") not in by_seq]
    if gone:
        first, last = _first_run(gone)
        report.problems.append(f"{missing(first, last)}: the final bundle {path.name} lists "
                               f"{'it' if first == last else 'them'}")
    changed = [d for d in listed if d.get("seq") in by_seq and by_seq[d["seq"]].hash != d.get("hash")]
    if changed:
        report.problems.append(f"decision {changed[0]['seq']} ({changed[0].get('kind')}) was changed: "
                               f"it differs from the final bundle {path.name}")
    if not gone and not changed:
        report.checked.append(f"the final bundle {path.name} lists the same {len(listed)} decision hashes")


def _first_run(seqs: list[int]) -> tuple[int, int]:
    """The first run of consecutive numbers in ``seqs`` (sorted): 78, 79, 80, 91 → (78, 80)."""
    end = seqs[0]
    for seq in seqs[1:]:
        if seq != end + 1:
            break
        end = seq
    return seqs[0], end


def _against_heads(heads: list[_Head], by_seq: dict[int, DecisionRow], last: int, release: StoredRelease,
                   report: AuditReport) -> None:
    if not heads:
        if _ended(release):
            report.problems.append("no trusted signed head covers this log: it cannot be told apart from a cut or "
                                   "recomputed one (written before launchdeck signed its log, or the heads were "
                                   "deleted)")
        elif by_seq:
            report.notes.append(f"{len(by_seq)} decisions not yet covered by a signed head "
                                "(the first is signed at the end of stage 1)")
        return
    agreed = 0
    for head in heads:
        count, digest = int(head.head.get("count", 0)), str(head.head.get("head"))
        row = by_seq.get(count)
        if count > last or (count and row is None):
            continue  # a cut tail or a gap: said below, and by the chain
        actual = row.hash if row is not None else GENESIS
        if actual != digest:
            report.problems.append(f"the log does not match {head.where}: a decision among {agreed + 1}–{count} "
                                   f"was changed and the chain recomputed (the head signs {digest[:12]}… for "
                                   f"decision {count}, the log has {actual[:12]}…)")
            break
        agreed = max(agreed, count)
    latest = max(reversed(heads), key=lambda h: int(h.head.get("count", 0)))  # the newest of the longest
    covered = int(latest.head.get("count", 0))
    if covered > last:
        report.problems.append(f"{missing(last + 1, covered)}: {latest.where} covers {covered}")
    elif last > covered:
        extra = f"decision {last}" if last == covered + 1 else f"decisions {covered + 1}–{last}"
        if _ended(release):
            report.problems.append(f"{extra} {'is' if last == covered + 1 else 'are'} extra: {latest.where} covers "
                                   f"{covered} and the release has ended")
        else:
            report.notes.append(f"{extra} came after {latest.where} (the release is still running)")
    else:
        report.checked.append(f"{latest.where} covers all {covered} decisions")


def _against_release_row(latest: _Head, release: StoredRelease, report: AuditReport) -> None:
    head, where = latest.head, latest.where
    problems = []
    signed_outcome = head.get("outcome")
    if signed_outcome is not None and release.outcome != signed_outcome:
        problems.append(f"the release row was changed: its outcome is {release.outcome}, {where} says {signed_outcome}")
    elif signed_outcome is None and release.outcome is not None:
        problems.append(f"the release row's outcome ({release.outcome}) is not covered by a signed head ({where} "
                        f"says the release was {head.get('phase')}); if the run stopped right after its outcome, "
                        "run the plan again to finish it")
    elif signed_outcome is not None and _phase(release) != head.get("phase"):
        problems.append(f"the release row was changed: its phase is {_phase(release)}, {where} says "
                        f"{head.get('phase')}")
    if release.plan_digest != head.get("planDigest"):
        problems.append(f"the release row was changed: its plan digest is {release.plan_digest}, {where} says "
                        f"{head.get('planDigest')}")
    if release.name.split("#", 1)[0] != head.get("release") or release.tenant != head.get("tenant"):
        problems.append(f"the release row was changed: it names {release.tenant}/{release.name}, {where} says "
                        f"{head.get('tenant')}/{head.get('release')}")
    report.problems.extend(problems)
    if not problems:
        outcome = f"outcome {release.outcome}" if release.outcome else "no outcome yet"
        report.checked.append(f"the release row agrees with it ({outcome}, phase {_phase(release)})")

