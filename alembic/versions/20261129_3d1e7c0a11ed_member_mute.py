"""mute: conversation_members.muted_until

Revision ID: 3d1e7c0a11ed
Revises: 9a55e7de5e70
Create Date: 2026-11-29 22:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chatapi.models

revision: str = "3d1e7c0a11ed"
down_revision: str | None = "9a55e7de5e70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("muted_until", chatapi.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_members", schema=None) as batch_op:
        batch_op.drop_column("muted_until")
