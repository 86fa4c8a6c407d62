"""Tenant documents: each tenant's configuration (``kind: Tenant``: people and chat) and guard rails
(``kind: TenantPolicy``), applied by admins, one row per version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("file", sa.String(300), nullable=False),
        sa.Column("applied_by", sa.String(120), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "kind", "version"),
    )


def downgrade() -> None:
    op.drop_table("tenant_documents")
