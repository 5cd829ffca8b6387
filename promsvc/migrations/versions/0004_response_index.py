"""drop response's index on invitation_id: the unique (invitation_id, instrument_id) leads with it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 23:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every submission inserts two or more responses; each index is one more B-tree to write.
    op.drop_index('ix_response_invitation_id', table_name='response')


def downgrade() -> None:
    op.create_index('ix_response_invitation_id', 'response', ['invitation_id'], unique=False)
