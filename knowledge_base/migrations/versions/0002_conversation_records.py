"""Conversation records (events from Rasa's event broker, PII masked) and analytics tables.

Why one summary row per turn, not the raw events: a raw Rasa event carries the citizen's
text several times (``text``, ``parse_data.text``, entities, slots), unmasked; the broker
(bot/brokers/recording.py) masks the text once and keeps only what the analytics read.
Two daily roll-ups, kept by the broker in the same transaction as the turns, make the overview
page read a few hundred rows instead of scanning a million turns: ``turn_daily_channel`` (turns,
conversations, fallbacks, unanswered per day and channel) and ``turn_daily_topic`` (turns per
day, procedure and aspect).  The unanswered page reads the turns through an index on
(unanswered, day, text_key).
The table is not Rasa's tracker-store table ``events`` (PostgreSQL in production holds both).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
# 64-bit ids in PostgreSQL (years of turns); SQLite's INTEGER PRIMARY KEY is the rowid either way.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the turn records, their daily roll-ups and the editors' decisions on unanswered questions."""
    op.create_table(
        "conversation_turn",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False),  # the citizen's message, UTC
        sa.Column("day", sa.Date, nullable=False),  # its calendar day in the province (RECORDS_TIMEZONE)
        sa.Column("sender_id", sa.String(128), nullable=False),  # a phone-like sender id is stored hashed
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),  # masked (vntext.pii.mask_pii)
        sa.Column("text_key", sa.String(255), nullable=False),  # masked, accent-folded, lower case: groups phrasings
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("intent_confidence", sa.Float, nullable=True),
        sa.Column("kind", sa.String(16), nullable=True),  # bot_payload.KINDS of the turn's main reply
        sa.Column("procedure_code", sa.String(32), nullable=True),
        sa.Column("aspect", sa.String(16), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("answered", sa.Boolean, nullable=False),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.Column("low_confidence", sa.Boolean, nullable=False),
        sa.Column("unanswered", sa.Boolean, nullable=False),  # fallback or low_confidence
        sa.Column("new_conversation", sa.Boolean, nullable=False),  # first turn of a Rasa session
        sa.Column("bot_messages", sa.Integer, nullable=False),
    )
    op.create_index("ix_conversation_turn_day", "conversation_turn", ["day"])  # purge, per-day lists
    op.create_index("ix_conversation_turn_unanswered", "conversation_turn", ["unanswered", "day", "text_key"])
    op.create_table(
        "turn_daily_channel",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("conversations", sa.Integer, nullable=False),
        sa.Column("fallback", sa.Integer, nullable=False),
        sa.Column("unanswered", sa.Integer, nullable=False),
    )
    op.create_table(
        "turn_daily_topic",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("procedure_code", sa.String(32), primary_key=True),  # "" when the turn named none
        sa.Column("aspect", sa.String(16), primary_key=True),  # "" when none
        sa.Column("turns", sa.Integer, nullable=False),
    )
    op.create_table(
        "unanswered_decision",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("text_key", sa.String(255), nullable=False, unique=True),
        sa.Column("action", sa.String(16), nullable=False),  # out_of_scope | alias
        sa.Column("procedure_code", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )


def downgrade() -> None:
    """Drop the records (they are analytics only; the catalogue is untouched)."""
    op.drop_table("unanswered_decision")
    op.drop_table("turn_daily_topic")
    op.drop_table("turn_daily_channel")
    op.drop_table("conversation_turn")
