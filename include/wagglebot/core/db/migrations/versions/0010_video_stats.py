"""video stats: published Shorts' figures read back from YouTube, the read-back runs,
the expected-views models and each post's estimate

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
NOW = sa.text("CURRENT_TIMESTAMP(6)")


def upgrade() -> None:
    op.create_table(
        "video_stats",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("post_id", sa.BigInteger, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("measured_at", Timestamp, nullable=False),
        sa.Column("collected_at", Timestamp, nullable=False, server_default=NOW),
        sa.Column("views", sa.BigInteger),
        sa.Column("engaged_views", sa.BigInteger),
        sa.Column("likes", sa.Integer),
        sa.Column("comments", sa.Integer),
        sa.Column("shares", sa.Integer),
        sa.Column("subscribers_gained", sa.Integer),
        sa.Column("minutes_watched", sa.Float),
        sa.Column("average_view_seconds", sa.Float),
        sa.Column("average_view_percentage", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_video_stats"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_video_stats_post_id_posts", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "platform",
            "video_id",
            "source",
            "measured_at",
            name="uq_video_stats_platform_video_id_source_measured_at",
        ),
        **OPTIONS,
    )
    op.create_index(
        "ix_video_stats_post_id_source_measured_at",
        "video_stats",
        ["post_id", "source", "measured_at"],
    )
    op.create_table(
        "stats_runs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=False),
        sa.Column("videos", sa.Integer, nullable=False, server_default="0"),
        sa.Column("totals", sa.Integer, nullable=False, server_default="0"),
        sa.Column("days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("data_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("analytics_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("totals_off", sa.Text),
        sa.Column("analytics_off", sa.Text),
        sa.Column("problems", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_stats_runs"),
        **OPTIONS,
    )
    op.create_table(
        "view_models",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("trained_at", Timestamp, nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("shorts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("model", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_view_models"),
        **OPTIONS,
    )
    op.add_column("uploads", sa.Column("stats_read_at", Timestamp))
    op.add_column("uploads", sa.Column("analytics_read_at", Timestamp))
    op.add_column("uploads", sa.Column("views_24h", sa.BigInteger))
    op.add_column("posts", sa.Column("expected_views", sa.Float))
    op.create_index("ix_posts_status_expected_views", "posts", ["status", "expected_views"])


def downgrade() -> None:
    op.drop_index("ix_posts_status_expected_views", "posts")
    op.drop_column("posts", "expected_views")
    for column in ("views_24h", "analytics_read_at", "stats_read_at"):
        op.drop_column("uploads", column)
    op.drop_table("view_models")
    op.drop_table("stats_runs")
    op.drop_table("video_stats")  # its indexes with it (one holds the foreign key)
