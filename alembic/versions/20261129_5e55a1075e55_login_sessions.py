"""login sessions: the devices a person is signed in on

Revision ID: 5e55a1075e55
Revises: f1ead4686879
Create Date: 2026-11-29 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import chatapi.models

revision: str = "5e55a1075e55"
down_revision: str | None = "f1ead4686879"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", chatapi.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", chatapi.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)
    # Sessions signed in before this revision: listed with what the tokens tell (when
    # they began and were last refreshed), without a device or an address.
    op.execute(
        """
        INSERT INTO login_sessions
            (id, user_id, created_at, last_used_at, user_agent, address, method)
        SELECT family_id, user_id, MIN(created_at), MAX(created_at), '', '', 'password'
        FROM refresh_tokens
        WHERE revoked_at IS NULL
        GROUP BY family_id, user_id
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))
    op.drop_table("login_sessions")
