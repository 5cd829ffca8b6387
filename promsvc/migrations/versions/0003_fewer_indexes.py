"""fewer indexes on invitation and message: each one costs every status change

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (table, index, column): low-cardinality `status`, and columns that lead a unique constraint.
DROPPED = [
    ('invitation', 'ix_invitation_status', 'status'),
    ('invitation', 'ix_invitation_episode_id', 'episode_id'),
    ('message', 'ix_message_invitation_id', 'invitation_id'),
    ('message', 'ix_message_registry_id', 'registry_id'),
    ('message', 'ix_message_batch_id', 'batch_id'),
]


def upgrade() -> None:
    for table, index, _ in DROPPED:
        op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index, column in DROPPED:
        op.create_index(index, table, [column], unique=False)
