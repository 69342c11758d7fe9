"""upload state: each platform's publication has its own state, so a post goes to
YouTube, TikTok and Instagram independently (the post's status follows from them)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

STATES = ("waiting", "uploading", "published", "failed")


def upgrade() -> None:
    op.add_column(
        "uploads",
        sa.Column(
            "state",
            sa.Enum(
                *STATES,
                name="upload_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
            server_default="waiting",
        ),
    )
    op.create_index(op.f("ix_uploads_platform_state"), "uploads", ["platform", "state"])
    # Until now a post had one platform (YouTube) and its status was that upload's state.
    op.execute(
        "UPDATE uploads u JOIN posts p ON p.id = u.post_id SET u.state = CASE "
        "WHEN p.status = 'UPLOADED' AND u.video_id IS NOT NULL THEN 'published' "
        "WHEN p.status = 'PUBLISHING' THEN 'uploading' "
        "WHEN p.status = 'FAILED' AND u.note IS NOT NULL AND u.requested_at IS NOT NULL "
        "THEN 'failed' ELSE 'waiting' END"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_uploads_platform_state"), table_name="uploads")
    op.drop_column("uploads", "state")
