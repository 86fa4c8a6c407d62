"""Chat: a release's Slack thread per channel, every delivery attempt of a message, broadcast messages.

* ``chat_threads``: the parent message a release posted on a threaded Slack channel (its channel id and
  ``ts``), one per release and plan channel, so every process delivering the release threads under it;
* ``message_attempts``: one row per delivery attempt of an outbox message (when, and the error if refused),
  for `launchdeck messages` and the API;
* ``outbox.broadcast``: a threaded channel also shows the message in the channel (the route's ``broadcast``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as t:
        t.add_column(sa.Column("broadcast", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(120), nullable=False),
        sa.Column("slack_channel", sa.String(40), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "channel"),
    )
    op.create_table(
        "message_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_message_attempts_message_id", "message_attempts", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_message_attempts_message_id", table_name="message_attempts")
    op.drop_table("message_attempts")
    op.drop_table("chat_threads")
    with op.batch_alter_table("outbox") as t:
        t.drop_column("broadcast")
