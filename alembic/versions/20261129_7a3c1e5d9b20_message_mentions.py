"""message mentions

Revision ID: 7a3c1e5d9b20
Revises: 3d1e7c0a11ed
Create Date: 2026-11-29 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c1e5d9b20"
down_revision: str | None = "3d1e7c0a11ed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mentions", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(
            sa.Column("mentions_all", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "message_mentions",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_mentions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_message_mentions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", name=op.f("pk_message_mentions")),
    )


def downgrade() -> None:
    op.drop_table("message_mentions")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("mentions_all")
        batch_op.drop_column("mentions")
