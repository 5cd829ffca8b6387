"""publication: published indicator results (pages, reports and open data serve the newest)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op

import promsvc.models  # noqa: F401  (promsvc.models.UTCDateTime)

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'publication',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('registry_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('published_at', promsvc.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('period', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('etag', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_publication_registry_published', 'publication', ['registry_id', 'published_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_publication_registry_published', table_name='publication')
    op.drop_table('publication')
