"""initial schema: posts, comments, contents, stage_runs

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:23:52.091445
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
NOW = sa.text("CURRENT_TIMESTAMP(6)")
NOW_ON_UPDATE = sa.text("CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("site_code", sa.String(length=32), nullable=False),
        sa.Column("origin_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("content", LONG_TEXT, nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=True),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("comment_count", sa.Integer(), nullable=True),
        sa.Column("posted_at", TIMESTAMP, nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "COLLECTED",
                "APPROVED",
                "DECLINED",
                "PROCESSING",
                "RENDERED",
                "UPLOADED",
                "FAILED",
                name="post_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="COLLECTED",
            nullable=False,
        ),
        sa.Column("status_changed_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW_ON_UPDATE, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("site_code", "origin_id", name=op.f("uq_posts_site_code_origin_id")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_posts_site_code_status"), "posts", ["site_code", "status"], unique=False
    )
    op.create_index(
        op.f("ix_posts_status_created_at"), "posts", ["status", "created_at"], unique=False
    )
    op.create_index(op.f("ix_posts_status_likes"), "posts", ["status", "likes"], unique=False)
    op.create_index(
        op.f("ix_posts_status_posted_at"), "posts", ["status", "posted_at"], unique=False
    )
    op.create_index(
        op.f("ix_posts_status_status_changed_at"),
        "posts",
        ["status", "status_changed_at"],
        unique=False,
    )
    op.create_index(op.f("ix_posts_status_views"), "posts", ["status", "views"], unique=False)
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("comment_key", sa.String(length=80), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW_ON_UPDATE, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_comments_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
        sa.UniqueConstraint("post_id", "comment_key", name=op.f("uq_comments_post_id_comment_key")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_comments_post_id_likes"), "comments", ["post_id", "likes"], unique=False
    )
    op.create_table(
        "contents",
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("summary_text", sa.Text(), nullable=True),
        sa.Column("audio_path", sa.String(length=1024), nullable=True),
        sa.Column("video_path", sa.String(length=1024), nullable=True),
        sa.Column("upload_meta", sa.JSON(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updated_at", TIMESTAMP, server_default=NOW_ON_UPDATE, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_contents_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_contents")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_table(
        "stage_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "llm",
                "tts",
                "render",
                "upload",
                name="stage",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                name="stage_outcome",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="running",
            nullable=False,
        ),
        sa.Column("started_at", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("engine", sa.String(length=64), nullable=True),
        sa.Column("dag_id", sa.String(length=250), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("try_number", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_stage_runs_attempt_positive")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_stage_runs_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_runs")),
        sa.UniqueConstraint(
            "post_id", "stage", "attempt", name=op.f("uq_stage_runs_post_id_stage_attempt")
        ),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    op.create_index(
        op.f("ix_stage_runs_outcome_started_at"),
        "stage_runs",
        ["outcome", "started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stage_runs_outcome_started_at"), table_name="stage_runs")
    op.drop_table("stage_runs")
    op.drop_table("contents")
    op.drop_index(op.f("ix_comments_post_id_likes"), table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_posts_status_views"), table_name="posts")
    op.drop_index(op.f("ix_posts_status_status_changed_at"), table_name="posts")
    op.drop_index(op.f("ix_posts_status_posted_at"), table_name="posts")
    op.drop_index(op.f("ix_posts_status_likes"), table_name="posts")
    op.drop_index(op.f("ix_posts_status_created_at"), table_name="posts")
    op.drop_index(op.f("ix_posts_site_code_status"), table_name="posts")
    op.drop_table("posts")
