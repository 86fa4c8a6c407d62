"""Durable delivery of a tenant's guard alerts: one row per (alert, channel), kept until the channel took
the alert or the workers gave up on it, as the release outbox keeps its messages.

* ``attempts``: sends tried so far; ``last_error``: what the channel said the last time (redacted);
* ``next_at``: when the alert may be sent (again); a worker claims a row by moving it forward (a
  compare-and-set), so two workers never send the same alert to the same channel at once;
* ``delivered_at``: when the channel took it; ``gave_up_at``: when the attempts ran out.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guard_alert_deliveries",
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("guard_alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", "channel"),
    )
    op.create_index("ix_guard_alert_deliveries_next_at", "guard_alert_deliveries", ["next_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_guard_alert_deliveries_next_at", table_name="guard_alert_deliveries")
    op.drop_table("guard_alert_deliveries")
