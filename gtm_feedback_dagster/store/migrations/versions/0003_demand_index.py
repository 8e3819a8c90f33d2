"""Index for distinct-account demand per request (request pages, area tables).

Without it the request list's first, uncached ordering at 100x the demo data takes 1.1 s.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_feedback_request_account", "feedback", ["request_id", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_request_account", table_name="feedback")
