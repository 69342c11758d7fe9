"""contents: the script engine's raw output and name, the thumbnail and the video length

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("script_raw", LONG_TEXT, nullable=True))
        batch.add_column(sa.Column("script_engine", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("thumbnail_path", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("video_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        for column in ("video_seconds", "thumbnail_path", "script_engine", "script_raw"):
            batch.drop_column(column)
