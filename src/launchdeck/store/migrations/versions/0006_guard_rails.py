"""Guard rails per tenant: spend records, the alerts raised (once each), each tenant's guard state
(autonomy tier, emergency override, enforced action) and its history.

* ``guard_spend``: a tenant's spend, one row per (tenant, source, at) so feeding a file twice adds nothing;
* ``guard_alerts``: every alert raised, unique per (tenant, key): a threshold fires once a month;
* ``guard_state``: one row per tenant: its tier (None: the policy's), override, enforced action;
* ``guard_history``: who changed what (a tier drop, an override, an enforcement, an approval), and why.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guard_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "source", "at"),
    )
    op.create_index("ix_guard_spend_tenant_at", "guard_spend", ["tenant", "at"], unique=False)
    op.create_table(
        "guard_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("page", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "key"),
    )
    op.create_table(
        "guard_state",
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("tier_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("override_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_by", sa.String(120), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("action", sa.String(20), nullable=False, server_default="none"),
        sa.Column("action_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("action_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    op.create_table(
        "guard_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("who", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_guard_history_tenant", "guard_history", ["tenant", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_guard_history_tenant", table_name="guard_history")
    op.drop_table("guard_history")
    op.drop_table("guard_state")
    op.drop_table("guard_alerts")
    op.drop_index("ix_guard_spend_tenant_at", table_name="guard_spend")
    op.drop_table("guard_spend")
