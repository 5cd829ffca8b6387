"""draft.seen: the items of the pages a patient has saved (where "Continue" goes)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: drafts saved before keep working (their answered items count as seen).
    with op.batch_alter_table('draft') as batch:
        batch.add_column(sa.Column('seen', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('draft') as batch:
        batch.drop_column('seen')
