"""Failed attempts to drive a release: a worker that cannot drive one retries it with growing delays and
gives up after a bounded number of attempts, instead of retrying it at every lease expiry forever.

* ``releases.drive_failures``: consecutive attempts that ended in a failure (reset by one that finishes,
  and by a person driving it with `launchdeck run`);
* ``releases.drive_error``: why the last one failed, as the worker said it;
* ``releases.gave_up_at``: when the workers gave up; such a release is not claimed again until a
  person drives it (`launchdeck run`) or asks for it again (`launchdeck resume`).

The retry delay itself is the lease's expiry: a failed attempt gives the lease up with ``lease_until``
at the time of the next attempt.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as t:
        t.add_column(sa.Column("drive_failures", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("drive_error", sa.Text(), nullable=True))
        t.add_column(sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as t:
        for c in ("gave_up_at", "drive_error", "drive_failures"):
            t.drop_column(c)
