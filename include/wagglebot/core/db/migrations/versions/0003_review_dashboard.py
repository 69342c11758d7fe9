"""review dashboard: SCRIPTED status, who moved a post, inbox sort keys, script review

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BEFORE = ("COLLECTED", "APPROVED", "DECLINED", "PROCESSING", "RENDERED", "UPLOADED", "FAILED")
AFTER = (*BEFORE[:4], "SCRIPTED", *BEFORE[4:])
CHECK = "ck_posts_post_status"


def _status_check(statuses: tuple[str, ...]) -> None:
    op.drop_constraint(op.f(CHECK), "posts", type_="check")
    listed = ", ".join(f"'{s}'" for s in statuses)
    op.create_check_constraint(op.f(CHECK), "posts", f"status IN ({listed})")


def upgrade() -> None:
    _status_check(AFTER)
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("status_changed_by", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column(
                "dated_at",
                TIMESTAMP,
                sa.Computed("coalesce(`posted_at`,`created_at`)", persisted=True),
            )
        )
        batch.add_column(
            sa.Column("image_count", sa.Integer(), sa.Computed("json_length(`images`)", True))
        )
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))
    op.create_index(op.f("ix_posts_status_dated_at"), "posts", ["status", "dated_at"])
    op.create_index(op.f("ix_posts_status_score"), "posts", ["status", "score"])
    with op.batch_alter_table("contents") as batch:
        batch.add_column(sa.Column("script_reviewed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("script_reviewed_at", TIMESTAMP, nullable=True))
        batch.add_column(
            sa.Column("script_edited", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("contents") as batch:
        for column in ("script_edited", "script_reviewed_at", "script_reviewed_by"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_posts_status_score"), table_name="posts")
    op.drop_index(op.f("ix_posts_status_dated_at"), table_name="posts")
    with op.batch_alter_table("posts") as batch:
        for column in ("score", "image_count", "dated_at", "status_changed_by"):
            batch.drop_column(column)
    # Posts waiting for a script review go back to the queue they came from.
    op.execute("UPDATE posts SET status = 'APPROVED' WHERE status = 'SCRIPTED'")
    _status_check(BEFORE)
