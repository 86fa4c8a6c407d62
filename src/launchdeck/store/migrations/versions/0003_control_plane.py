"""The control plane: leases on releases, effect keys, API tokens, registered plans, stored evidence.

* ``releases`` gains its lease (``lease_holder``, ``lease_until``, ``lease_epoch``), who submitted it,
  and the plan text it was submitted with, so a worker on another machine can drive it;
* ``effects``: one row per external effect a driver sent (router write, rollback step), keyed by
  release, lease epoch and step, written in the transaction that checked the epoch;
* ``api_tokens``: a person in a tenant with an API role; only the token's SHA-256 is kept;
* ``plans``: plans registered through the API, one row per version (tenant, name, digest);
* ``evidence``: every bundle a run writes, so the server can serve it wherever the run was;
* ``outbox.epoch``: the lease epoch a message was decided under (its idempotency key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as t:
        t.add_column(sa.Column("lease_holder", sa.String(200), nullable=True))
        t.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("lease_epoch", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("submitted_by", sa.String(120), nullable=True))
        t.add_column(sa.Column("plan_text", sa.Text(), nullable=True))
    op.create_index("ix_releases_due", "releases", ["outcome", "lease_until"], unique=False)
    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
    op.create_table(
        "effects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(240), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_effects_release_id", "effects", ["release_id"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("person", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(120), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(120), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "name", "digest"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("plans")
    op.drop_table("api_tokens")
    op.drop_index("ix_effects_release_id", table_name="effects")
    op.drop_table("effects")
    with op.batch_alter_table("outbox") as t:
        t.drop_column("epoch")
    op.drop_index("ix_releases_due", table_name="releases")
    with op.batch_alter_table("releases") as t:
        for c in ("plan_text", "submitted_by", "lease_epoch", "lease_until", "lease_holder"):
            t.drop_column(c)
