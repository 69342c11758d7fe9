"""stories: posts grouped into stories across communities (posts.story_id), with each
post's LSH bands and picture hashes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:00:00

Posts stored before have no story (NULL) until `./wagglebot stories` (or the next crawl)
compares them: the grouping needs their pictures, which a migration does not fetch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
NOW = sa.text("CURRENT_TIMESTAMP(6)")
NOW_ON_UPDATE = sa.text("CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)")


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("main_post_id", sa.BigInteger),
        sa.Column("sites", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("members", sa.Integer, nullable=False, server_default="1"),
        sa.Column("popularity", sa.Float),
        sa.Column("standing", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("created_at", Timestamp, nullable=False, server_default=NOW),
        sa.Column("updated_at", Timestamp, nullable=False, server_default=NOW_ON_UPDATE),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        **OPTIONS,
    )
    op.create_index("ix_stories_standing_popularity", "stories", ["standing", "popularity"])
    op.add_column("posts", sa.Column("story_id", sa.BigInteger, nullable=True))
    op.create_foreign_key(
        "fk_posts_story_id_stories", "posts", "stories", ["story_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index("ix_posts_story_id_status", "posts", ["story_id", "status"])
    op.create_table(
        "story_bands",
        sa.Column("band", sa.SmallInteger, nullable=False),
        sa.Column("bucket", sa.Integer, nullable=False),
        sa.Column("post_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("band", "bucket", "post_id", name="pk_story_bands"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_story_bands_post_id_posts", ondelete="CASCADE"
        ),
        **OPTIONS,
    )
    op.create_index("ix_story_bands_post_id", "story_bands", ["post_id"])
    op.create_table(
        "story_pictures",
        sa.Column("post_id", sa.BigInteger, nullable=False),
        sa.Column("position", sa.SmallInteger, nullable=False),
        sa.Column("phash", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("post_id", "position", name="pk_story_pictures"),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_story_pictures_post_id_posts", ondelete="CASCADE"
        ),
        **OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("story_pictures")
    op.drop_table("story_bands")
    op.drop_constraint("fk_posts_story_id_stories", "posts", type_="foreignkey")
    op.drop_index("ix_posts_story_id_status", "posts")
    op.drop_column("posts", "story_id")
    op.drop_index("ix_stories_standing_popularity", "stories")
    op.drop_table("stories")
