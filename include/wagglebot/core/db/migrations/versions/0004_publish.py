"""publish: PUBLISHING status, uploads (resumable sessions, requests), daily quota

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
NOW = sa.text("CURRENT_TIMESTAMP(6)")
NOW_ON_UPDATE = sa.text("CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")
OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
BEFORE = (
    *("COLLECTED", "APPROVED", "DECLINED", "PROCESSING", "SCRIPTED", "RENDERED"),
    *("UPLOADED", "FAILED"),
)
AFTER = (*BEFORE[:6], "PUBLISHING", *BEFORE[6:])
CHECK = "ck_posts_post_status"


def _status_check(statuses: tuple[str, ...]) -> None:
    op.drop_constraint(op.f(CHECK), "posts", type_="check")
    listed = ", ".join(f"'{s}'" for s in statuses)
    op.create_check_constraint(op.f(CHECK), "posts", f"status IN ({listed})")


def upgrade() -> None:
    _status_check(AFTER)
    op.create_table(
        "uploads",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("privacy", sa.String(length=16), nullable=True),
        sa.Column("publish_at", TIMESTAMP, nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("requested_at", TIMESTAMP, nullable=True),
        sa.Column("session_uri", sa.String(length=2048), nullable=True),
        sa.Column("total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("bytes_sent", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("video_id", sa.String(length=64), nullable=True),
        sa.Column("video_url", sa.String(length=512), nullable=True),
        sa.Column("uploaded_at", TIMESTAMP, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW_ON_UPDATE, nullable=False),
        sa.CheckConstraint("bytes_sent >= 0", name=op.f("ck_uploads_bytes_sent_positive")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_uploads_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "platform", name=op.f("pk_uploads")),
        **OPTIONS,
    )
    op.create_index(
        op.f("ix_uploads_platform_requested_at"), "uploads", ["platform", "requested_at"]
    )
    op.create_table(
        "publish_quota",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("uploads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("exhausted", sa.Text(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW_ON_UPDATE, nullable=False),
        sa.PrimaryKeyConstraint("platform", "day", name=op.f("pk_publish_quota")),
        **OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("publish_quota")
    op.drop_index(op.f("ix_uploads_platform_requested_at"), table_name="uploads")
    op.drop_table("uploads")
    # An upload in flight gives its post back to the rendered shelf it came from.
    op.execute("UPDATE posts SET status = 'RENDERED' WHERE status = 'PUBLISHING'")
    _status_check(BEFORE)
