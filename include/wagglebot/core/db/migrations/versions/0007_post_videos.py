"""posts.videos: a post's video files (with their posters) and embedded YouTube players

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Posts crawled before have none recorded: an empty list, not NULL.
    op.add_column(
        "posts", sa.Column("videos", sa.JSON, nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    op.drop_column("posts", "videos")
