"""crawl_runs (each site's crawl, how it ended) and health_states (each check's level)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("site_code", sa.String(32), nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("stored", sa.Integer, nullable=False, server_default="0"),
        sa.Column("new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cause", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_crawl_runs"),
        **OPTIONS,
    )
    op.create_index(
        "ix_crawl_runs_site_code_finished_at", "crawl_runs", ["site_code", "finished_at"]
    )
    op.create_table(
        "health_states",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("since", Timestamp, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("checked_at", Timestamp, nullable=False),
        sa.Column("notified_level", sa.String(8)),
        sa.Column("notified_at", Timestamp),
        sa.PrimaryKeyConstraint("name", name="pk_health_states"),
        **OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("health_states")
    op.drop_index("ix_crawl_runs_site_code_finished_at", "crawl_runs")
    op.drop_table("crawl_runs")
