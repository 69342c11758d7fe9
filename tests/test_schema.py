"""The app schema on a real MariaDB: migrations are its only source, utf8mb4 throughout."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack.mariadb import MariaDB

from wagglebot.core.db.migrate import downgrade, upgrade
from wagglebot.core.db.models import Base, Comment, Content, Post, StageRun
from wagglebot.core.statuses import PostStatus

from factories import add_posts


def _diff(engine: Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    assert _diff(engine) == []


def test_downgrade_to_nothing_and_back(mariadb: MariaDB, engine: Engine) -> None:
    downgrade(mariadb.db_url, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(mariadb.db_url)
    assert {"posts", "comments", "contents", "stage_runs"} <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []


def test_posts_crawled_before_0006_move_to_utc(mariadb: MariaDB, engine: Engine) -> None:
    downgrade(mariadb.db_url, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO posts (site_code, origin_id, url, title, content, images, posted_at)"
                " VALUES ('nate_pann', 'tz-1', 'u', 't', 'c', '[]', '2026-11-20 12:41:00'),"
                " ('nate_pann', 'tz-2', 'u', 't', 'c', '[]', NULL)"
            )
        )
    upgrade(mariadb.db_url)
    with engine.begin() as conn:
        rows = dict(
            conn.execute(
                text("SELECT origin_id, posted_at FROM posts WHERE origin_id LIKE 'tz-%'")
            ).all()
        )
        conn.execute(text("DELETE FROM posts WHERE origin_id LIKE 'tz-%'"))
    # 12:41 in Seoul, as the page showed it, is 03:41 UTC; an unknown time stays unknown.
    assert {k: str(v) if v else None for k, v in rows.items()} == {
        "tz-1": "2026-11-20 03:41:00",
        "tz-2": None,
    }


def test_every_table_is_utf8mb4(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
            )
        ).all()
    assert len(rows) == len(Base.metadata.tables)
    assert {collation for _, collation in rows} == {"utf8mb4_unicode_ci"}


def test_indexes_for_crawl_sweep_and_dashboard(engine: Engine) -> None:
    indexes = {tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("posts")}
    for wanted in [
        ("site_code", "status"),
        ("status", "created_at"),
        ("status", "status_changed_at"),
        ("status", "views"),
        ("status", "likes"),
    ]:
        assert wanted in indexes
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("posts")}
    assert ("site_code", "origin_id") in uniques


def test_korean_emoji_and_huge_bodies_round_trip(sessions: sessionmaker[Session]) -> None:
    title = "오늘의 판 🔥😂 𝒳 — 한글 제목"
    huge = ("가나다라마바사 🐝 " * 400_000)[:3_000_000]  # ~3 million characters
    with sessions() as session:
        [post_id] = add_posts(session, title=title, content=huge, images=["https://e.x/🐝.jpg"])
        session.add(
            Comment(
                post_id=post_id,
                comment_key="id:1",
                content="ㅋㅋㅋ 👍",
                content_hash="0" * 64,
                author="익명",
            )
        )
        session.commit()
    with sessions() as session:
        post = session.get(Post, post_id)
        assert post.title == title
        assert post.content == huge
        assert post.images == ["https://e.x/🐝.jpg"]
        assert post.comments[0].content == "ㅋㅋㅋ 👍"


def test_counts_the_page_does_not_show_stay_null(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [post_id] = add_posts(session, views=120)
    with sessions() as session:
        post = session.get(Post, post_id)
        assert (post.views, post.likes, post.comment_count) == (120, None, None)
        assert post.status is PostStatus.COLLECTED
        assert post.attempts == 0


def test_a_post_is_unique_per_site(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        add_posts(session, site_code="nate_pann", origin_id="777")
        add_posts(session, site_code="nate_tok", origin_id="777")  # other site: fine
        with pytest.raises(IntegrityError):
            add_posts(session, site_code="nate_pann", origin_id="777")


def test_a_comment_is_unique_per_post_by_key(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [a, b] = add_posts(session, 2)
        for post_id in (a, b):
            session.add(
                Comment(post_id=post_id, comment_key="sha256:ab", content="x", content_hash="ab")
            )
        session.commit()
        session.add(Comment(post_id=a, comment_key="sha256:ab", content="x", content_hash="ab"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_deleting_a_post_takes_its_rows_along(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [post_id] = add_posts(session)
        session.add_all(
            [
                Comment(post_id=post_id, comment_key="id:9", content="c", content_hash="h"),
                Content(post_id=post_id, summary_text="대본", upload_meta={"youtube": {"id": "x"}}),
                StageRun(post_id=post_id, stage="llm", attempt=1),
            ]
        )
        session.commit()
        session.delete(session.get(Post, post_id))
        session.commit()
        for model in (Comment, Content, StageRun):
            assert session.scalars(select(model)).all() == []


def test_database_refuses_bad_values(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [post_id] = add_posts(session)
        with pytest.raises(OperationalError, match="CONSTRAINT"):
            session.execute(text("UPDATE posts SET status = 'BOGUS' WHERE id = :i"), {"i": post_id})
        session.rollback()
        with pytest.raises(OperationalError, match="CONSTRAINT"):
            session.execute(
                text("INSERT INTO stage_runs (post_id, stage, attempt) VALUES (:i, 'llm', 0)"),
                {"i": post_id},
            )
        session.rollback()
        with pytest.raises(DataError, match="too long"):
            add_posts(session, site_code="x" * 40)


def test_timestamps_are_set_by_the_server_in_utc(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [post_id] = add_posts(session)
        now = session.scalar(text("SELECT UTC_TIMESTAMP(6)"))
        post = session.get(Post, post_id)
        assert abs((now - post.created_at).total_seconds()) < 5
        assert post.status_changed_at == post.created_at
