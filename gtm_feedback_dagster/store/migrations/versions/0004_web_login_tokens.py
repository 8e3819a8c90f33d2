"""One-time web sign-in links, spent once across every process and replica.

A row per link (the SHA-256 of its nonce, never the token); spending it is one conditional
UPDATE (`used_at IS NULL AND expires_at > now`), so two replicas cannot both accept it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_login_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_login_tokens")),
    )
    op.create_index(
        op.f("ix_web_login_tokens_expires_at"), "web_login_tokens", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_web_login_tokens_expires_at"), table_name="web_login_tokens")
    op.drop_table("web_login_tokens")
