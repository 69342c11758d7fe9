"""posts.posted_at in UTC: the crawler stored the Korean time a page shows as if it were UTC

Every bundled community writes Korean time (UTC+9, no daylight saving); the crawl
now converts it (wagglebot.crawl.parsing.parse_time). Rows written before are moved
back by nine hours so that old and new posts sort and filter alike.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE posts SET posted_at = posted_at - INTERVAL 9 HOUR WHERE posted_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE posts SET posted_at = posted_at + INTERVAL 9 HOUR WHERE posted_at IS NOT NULL"
    )
