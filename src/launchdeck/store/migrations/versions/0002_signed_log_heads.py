"""Signed heads of the decision log: one row per checkpoint (stage end, outcome).

Decisions recorded from this revision on are hashed over all their columns (``store.chain``);
rows written before it keep their old hashes, which ``check_chain`` still accepts at the start of a
log, so an upgraded database's releases are not reported as changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_log_heads_release_id", "log_heads", ["release_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_log_heads_release_id", table_name="log_heads")
    op.drop_table("log_heads")
