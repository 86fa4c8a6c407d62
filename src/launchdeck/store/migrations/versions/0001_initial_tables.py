"""Initial tables: releases, decisions (the hash chain), sign-offs and the outbox.

Exactly the schema ``Base.metadata.create_all`` made before launchdeck had migrations, so a
database made that way is stamped with this revision instead of being created again (see
``launchdeck.store.migrations``). Generated with ``alembic revision --autogenerate`` against the
models and reviewed; JSON columns are JSONB on PostgreSQL, timestamps keep their time zone.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:29:50
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan_path", sa.Text(), nullable=False),
        sa.Column("plan_digest", sa.String(length=80), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("plan_clock", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "name"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("plan_at", sa.Float(), nullable=False),
        sa.Column("wall_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("gate", sa.String(length=120), nullable=True),
        sa.Column("inputs", JSON_DOC, nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "seq"),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
    )
    op.create_index("ix_decisions_release_id", "decisions", ["release_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_release_id", "outbox", ["release_id"], unique=False)
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=120), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=True),
        sa.Column("checklist", sa.String(length=120), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("consumed", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signoffs_release_id", "signoffs", ["release_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_signoffs_release_id", table_name="signoffs")
    op.drop_table("signoffs")
    op.drop_index("ix_outbox_release_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_decisions_release_id", table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("releases")
