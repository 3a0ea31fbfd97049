"""profile pictures: users.avatar_key, avatar_thumb_key, avatar_version

Revision ID: b7e2c4a91d3f
Revises: b7e2c4a91d03
Create Date: 2026-11-30 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b7e2c4a91d3f"
down_revision: str | None = "b7e2c4a91d03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place (no batch copy of `users`).
    op.add_column(
        "users", sa.Column("avatar_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
    )
    op.add_column(
        "users",
        sa.Column("avatar_thumb_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "users", sa.Column("avatar_version", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    # SQLite drops a column in place (3.35+) when nothing indexes or references it.
    op.drop_column("users", "avatar_version")
    op.drop_column("users", "avatar_thumb_key")
    op.drop_column("users", "avatar_key")
