"""Live-agent desk: operators on duty and the hand-off queue.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Why these two tables only: the conversation itself stays in Rasa's tracker
store (the desk reads it through Rasa's token-protected HTTP API and masks it
for display); the desk keeps who is on duty and each hand-off's life cycle
(waiting → taken → closed, or timeout / no_operator), which is all it must
remember across restarts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``desk_operator`` and ``desk_conversation``."""
    op.create_table(
        "desk_operator",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("admin_user.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("on_duty", sa.Boolean, nullable=False),
        sa.Column("seen_at", TZ, nullable=True),
        sa.Column("changed_at", TZ, nullable=False),
    )
    op.create_table(
        "desk_conversation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("taken_by", sa.String(64), nullable=True),
        sa.Column("taken_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("n_replies", sa.Integer, nullable=False),
    )
    op.create_index("ix_desk_conversation_status", "desk_conversation", ["status"])
    op.create_index("ix_desk_conversation_sender_id", "desk_conversation", ["sender_id"])


def downgrade() -> None:
    """Drop the desk's tables (the conversations themselves live in Rasa's tracker store)."""
    op.drop_table("desk_conversation")
    op.drop_table("desk_operator")
