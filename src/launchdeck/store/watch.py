"""What changed for the releases one holder drives, in one query for all of them (a worker's many releases).

A release's driver reads its sign-offs each tick to act on people's input (a stage sign-off, a kill, a
decision). A worker driving thousands of releases would send thousands of such reads a second, nearly
all of them answering "nothing new"; ``signoff_marks`` answers that question for every release of the
worker at once. A release's mark is the count, sum and largest id of its sign-offs not yet consumed: a
sign-off added (whatever order concurrent inserts commit in) or consumed changes it, so its driver reads
the sign-offs themselves only when the mark moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from launchdeck.store.tables import ReleaseRow, SignoffRow

if TYPE_CHECKING:
    from launchdeck.store.repo import Store

Mark = tuple[int, int, int]


def signoff_marks(store: Store, *, holder: str) -> dict[int, Mark]:
    """For each release whose lease ``holder`` holds and that has sign-offs not consumed yet: their
    (count, sum of ids, largest id). A release without any is absent."""
    with store.session() as s:
        q = (select(SignoffRow.release_id, func.count(), func.sum(SignoffRow.id), func.max(SignoffRow.id))
             .join(ReleaseRow, ReleaseRow.id == SignoffRow.release_id)
             .where(ReleaseRow.lease_holder == holder, SignoffRow.consumed.is_(False))
             .group_by(SignoffRow.release_id))
        return {rid: (int(n), int(total), int(last)) for rid, n, total, last in s.execute(q)}
