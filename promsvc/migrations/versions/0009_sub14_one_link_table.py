"""every link in invitation_link: the in-clinic link moves out of invitation.token_hash

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The clinic link that was issued last becomes a link row like every other; when it was
    # issued is not known, so the invitation's last status change stands for it.
    op.execute(
        "INSERT INTO invitation_link (invitation_id, token_hash, kind, channel, issued_at, revoked_at) "
        "SELECT id, token_hash, 'token', 'clinic', status_at, NULL FROM invitation WHERE token_hash IS NOT NULL"
    )
    # Not in batch mode: on SQLite that copies the table, and dropping the old copy fails the
    # foreign keys of every row that refers to it. SQLite 3.35+ drops an unindexed column in place.
    op.drop_index('ix_invitation_token_hash', table_name='invitation')
    op.drop_column('invitation', 'token_hash')


def downgrade() -> None:
    op.add_column('invitation', sa.Column('token_hash', sa.String(), nullable=True))
    op.create_index('ix_invitation_token_hash', 'invitation', ['token_hash'], unique=True)
    # The newest working clinic link of each invitation goes back to where it was kept.
    op.execute(
        "UPDATE invitation SET token_hash = (SELECT l.token_hash FROM invitation_link l "
        "WHERE l.invitation_id = invitation.id AND l.channel = 'clinic' AND l.kind = 'token' AND l.revoked_at IS NULL "
        "ORDER BY l.issued_at DESC, l.id DESC LIMIT 1)"
    )
    op.execute("DELETE FROM invitation_link WHERE channel = 'clinic'")
