"""a completed invitation's status time is its responses' submission time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 22:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before 0010 the submission store gave a batch's invitations the batch's time and each
    # response its own request's time, up to the batch's few milliseconds earlier. From 0010 on
    # they are one time, and the indicator reader takes a time point's submission time from its
    # invitation (promsvc.indicators.dbread): the invitations stored before take their
    # responses' latest submission time, as the export has always shown it. Responses are
    # never changed; the invitation's events keep the time they were written with.
    op.execute(
        "UPDATE invitation SET status_at = "
        "(SELECT max(r.submitted_at) FROM response r WHERE r.invitation_id = invitation.id) "
        "WHERE status = 'completed' AND EXISTS (SELECT 1 FROM response r WHERE r.invitation_id = invitation.id)"
    )


def downgrade() -> None:
    pass  # the times stay aligned: what an earlier version reads them for does not change
