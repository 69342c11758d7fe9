"""posts.claimed_by: the sweep holding a post in PROCESSING (several sweeps run at once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("claimed_by", sa.String(250), nullable=True))


def downgrade() -> None:
    op.drop_column("posts", "claimed_by")
