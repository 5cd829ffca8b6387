"""the rows a dispatcher holds, indexed for the recovery; failed tries of the code page, shared

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op

import promsvc.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: only claimed rows (a few batches' worth) are in it, so the status changes of the
    # rest of the outbox do not write it.
    op.create_index('ix_message_claimed_until', 'message', ['claimed_until'], unique=False,
                    sqlite_where=sa.text('claimed_by IS NOT NULL'), postgresql_where=sa.text('claimed_by IS NOT NULL'))
    op.create_table(
        'failed_try',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('at', promsvc.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_failed_try_client_at', 'failed_try', ['client', 'at'], unique=False)
    op.create_index('ix_failed_try_at', 'failed_try', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_failed_try_at', table_name='failed_try')
    op.drop_index('ix_failed_try_client_at', table_name='failed_try')
    op.drop_table('failed_try')
    op.drop_index('ix_message_claimed_until', table_name='message')
