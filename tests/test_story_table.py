"""Stories in MariaDB: grouping as posts are stored (text, pictures fetched over loopback),
the backfill, a person's split and merge, and one story never made or published twice."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker
from story_pairs import make_story, picture, repost, variant
from test_stories import labelled_pairs
from wagglebot_stack.sample_site import SampleSite

from wagglebot.core.config import Settings
from wagglebot.core.db.models import Post, Story, StoryBand, StoryPicture, Upload, utcnow
from wagglebot.core.states import transition
from wagglebot.core.statuses import PostStatus, StoryStanding, UploadState
from wagglebot.crawl.stories import StoryIndex, StoryRules
from wagglebot.crawl.story_table import (
    LOCK_NAME,
    StoriesBusy,
    StoryTable,
    group_new_posts,
    group_stored_posts,
    stories_lock,
)
from wagglebot.publish.store import StoryPublished, claim_for_publish, request_publish
from wagglebot.review.stories import (
    StoryEditRefused,
    StoryTaken,
    approve_story,
    decline_story,
    merge_stories,
    split_out,
)

from conftest import free_ports
from factories import add_posts

SITES = ("nate_pann", "theqoo")  # sorted: nate_pann answers on the first port


def test_the_database_groups_the_labelled_posts_as_the_index_does(
    sessions: sessionmaker[Session], db_settings: Settings
) -> None:
    _, stories = labelled_pairs()
    members = [(key, post) for key, posts in stories.items() for post in posts]
    random.Random(1).shuffle(members)
    memory = StoryIndex()
    with sessions() as session:
        ids = add_posts(
            session,
            len(members),
            **{"title": "", "content": ""},
        )
        for post_id, (_, (title, body, _)) in zip(ids, members, strict=True):
            session.execute(
                update(Post).where(Post.id == post_id).values(title=title, content=body)
            )
        session.commit()
        table = StoryTable(session, StoryRules.from_settings(db_settings))
        for post_id, (_, (title, body, pic)) in zip(ids, members, strict=True):
            pictures = [pic] if pic is not None else []
            table.add(post_id, title, body, pictures)
            memory.add(post_id, title, body, pictures)
            if post_id % 50 == 0:  # batches, as group_new_posts writes them
                table.flush()
        table.flush()
        session.commit()
        stored = dict(session.execute(select(Post.id, Post.story_id).where(Post.id.in_(ids))).all())
        assert session.scalar(select(text("count(*)")).select_from(StoryBand)) > 0
    same = [
        (stored[a] == stored[b], memory.story_of[a] == memory.story_of[b])
        for a, b in itertools.combinations(ids, 2)
    ]
    assert all(db == mem for db, mem in same)  # the same partition, pair by pair
    truth = {pid: key for pid, (key, _) in zip(ids, members, strict=True)}
    together = [
        (truth[a] == truth[b], stored[a] == stored[b]) for a, b in itertools.combinations(ids, 2)
    ]
    tp = sum(t and f for t, f in together)
    assert tp / (tp + sum(f and not t for t, f in together)) >= 0.98
    assert tp / (tp + sum(t and not f for t, f in together)) >= 0.9


@pytest.fixture
def picture_site(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two community sites on loopback serving one photo as each reposter carries it."""
    rng = random.Random(7)
    photo, other = picture(rng), picture(rng)
    files = {
        "nate_pann": {"/a.jpg": variant(photo, "original"), "/d.jpg": variant(other, "original")},
        "theqoo": {
            "/b.jpg": variant(photo, "resized"),
            "/c.jpg": variant(photo.crop((8, 6, 472, 354)), "reencoded"),
            "/gone.jpg": None,
        },
    }
    root = tmp_path / "sites"
    for site, served in files.items():
        folder = root / site
        folder.mkdir(parents=True)
        routes = {}
        for path, data in served.items():
            if data is None:
                routes[path] = {"status": 404}
                continue
            (folder / path[1:]).write_bytes(data)
            routes[path] = {"file": path[1:], "content_type": "image/jpeg"}
        (folder / "routes.yaml").write_text(yaml.safe_dump(routes))
    running = SampleSite(free_ports(2), root, quiet=True).start()
    yield running.urls
    running.stop()


def _settings(db_settings: Settings, urls: dict[str, str], tmp_path: Path) -> Settings:
    return db_settings.model_copy(
        update={"crawl_base_urls": dict(urls), "media_root": tmp_path / "media"}
    )


def _reposts(session: Session, urls: dict[str, str]) -> dict[str, int]:
    rng = random.Random(11)
    story = make_story(rng, "회사")
    other = make_story(rng, "회사")  # the same topic, another story
    edited = repost(rng, story, "edited")
    pann, qoo = urls["nate_pann"], urls["theqoo"]

    def one(site: str, title: str, body: str, images: list[str], score: float) -> int:
        (post_id,) = add_posts(
            session, site_code=site, title=title, content=body, images=images, score=score
        )
        return post_id

    return {
        "original": one("nate_pann", story.title, story.body, [f"{pann}/a.jpg"], 1.0),
        "edited": one("theqoo", *edited, [f"{qoo}/b.jpg", f"{qoo}/gone.jpg"], 2.0),
        "screenshot": one("theqoo", "이거 보고 소름 돋음", "", [f"{qoo}/c.jpg"], 0.5),
        "other": one("nate_pann", other.title, other.body, [f"{pann}/d.jpg"], 3.0),
    }


@pytest.fixture
def grouped(
    sessions: sessionmaker[Session], db_settings: Settings, picture_site: dict, tmp_path: Path
) -> tuple[Settings, dict[str, int]]:
    """The four posts of ``_reposts``, grouped: the settings used, and the posts' ids."""
    settings = _settings(db_settings, picture_site, tmp_path)
    with sessions() as session:
        posts = _reposts(session, picture_site)
        group_new_posts(session, settings)
    return settings, posts


def test_new_posts_join_their_story_by_words_or_by_picture(
    sessions: sessionmaker[Session], db_settings: Settings, picture_site: dict, tmp_path: Path
) -> None:
    settings = _settings(db_settings, picture_site, tmp_path)
    with sessions() as session:
        posts = _reposts(session, picture_site)
    figures = group_stored_posts(settings)
    assert figures["grouped"] == 4
    assert figures["joined"] == 2  # the edited repost by words, the screenshot by picture
    assert figures["pictures"] == 4
    assert figures["pictures_not_compared"] == 1
    assert figures["stories"] == 2
    assert figures["stories_on_several_sites"] == 1
    with sessions() as session:
        story_of = dict(session.execute(select(Post.id, Post.story_id)).all())
        story = session.get(Story, story_of[posts["original"]])
        assert story_of[posts["edited"]] == story_of[posts["screenshot"]] == story.id
        assert story_of[posts["other"]] != story.id  # same topic, same words' style: not it
        assert story.main_post_id == posts["original"]  # not a "(펌)": the most text
        assert (story.members, story.sites) == (3, 2)
        assert story.popularity == pytest.approx(2.0 + settings.story_site_bonus)
        alone = session.get(Story, story_of[posts["other"]])
        assert (alone.sites, alone.popularity) == (1, pytest.approx(3.0))
        hashes = session.scalars(select(StoryPicture.phash)).all()
        assert len(hashes) == 4
    # Everything has its story: the backfill's second run has nothing to do.
    assert group_stored_posts(settings)["grouped"] == 0


def test_a_repost_weeks_later_joins_a_published_story_and_is_never_made_again(
    sessions: sessionmaker[Session], grouped: tuple[Settings, dict[str, int]], picture_site: dict
) -> None:
    settings, posts = grouped
    with sessions() as session:
        # The original was made and published; the edited repost was approved first and
        # rendered too (before stories existed, say).
        session.execute(
            update(Post).where(Post.id == posts["original"]).values(status=PostStatus.UPLOADED)
        )
        session.add(
            Upload(
                post_id=posts["original"],
                platform="youtube",
                state=UploadState.PUBLISHED,
                video_id="abc",
                video_url="https://youtu.be/abc",
            )
        )
        session.execute(
            update(Post).where(Post.id == posts["edited"]).values(status=PostStatus.RENDERED)
        )
        session.commit()

        moved, refused = approve_story(session, [posts["screenshot"]], by="reviewer")
        assert moved == []
        assert isinstance(refused[0], StoryTaken)
        assert "already published: https://youtu.be/abc" in str(refused[0])

        moved, refused = request_publish(session, [posts["edited"]], by="reviewer")
        assert moved == []
        assert isinstance(refused[0], StoryPublished)
        assert "https://youtu.be/abc" in str(refused[0])

        # Asked before the story was known to be published: the claim refuses it, and
        # the request carries the reason to the Gallery.
        session.add(Upload(post_id=posts["edited"], platform="youtube", requested_at=utcnow()))
        session.commit()
        assert claim_for_publish(session, timedelta(minutes=5)) == []
        note = session.scalar(select(Upload.note).where(Upload.post_id == posts["edited"]))
        assert "already published: https://youtu.be/abc" in note
        assert session.get(Post, posts["edited"]).status is PostStatus.RENDERED

    with sessions() as session:  # weeks later, another repost of it
        (late,) = add_posts(
            session,
            site_code="theqoo",
            title="[펌] 옛날 글인데 또 봐도 웃김",
            content="",
            images=[f"{picture_site['theqoo']}/b.jpg"],
        )
    group_stored_posts(settings)
    with sessions() as session:
        assert session.get(Post, late).story_id == session.get(Post, posts["original"]).story_id
        moved, refused = approve_story(session, [late], by="reviewer")
        assert moved == []
        assert "already published" in str(refused[0])
        # Another story is free to be approved.
        assert approve_story(session, [posts["other"]], by="reviewer")[0] == [posts["other"]]


def test_declining_a_story_declines_every_waiting_member(
    sessions: sessionmaker[Session], grouped: tuple[Settings, dict[str, int]]
) -> None:
    _, posts = grouped
    with sessions() as session:
        moved, refused = decline_story(session, [posts["original"]], by="reviewer")
        assert sorted(moved) == sorted([posts["original"], posts["edited"], posts["screenshot"]])
        assert refused == []
        assert session.get(Post, posts["other"]).status is PostStatus.COLLECTED


def test_a_persons_split_and_merge_hold_against_later_crawls(
    sessions: sessionmaker[Session], grouped: tuple[Settings, dict[str, int]], picture_site: dict
) -> None:
    settings, posts = grouped
    with sessions() as session:
        story = session.get(Post, posts["original"]).story_id

        # The screenshot was grouped by its picture only: a person says it is not the story.
        apart = split_out(session, settings, posts["screenshot"], by="reviewer")
        assert session.get(Post, posts["screenshot"]).story_id == apart != story
        assert session.get(Story, apart).decided_by == "reviewer"
        with pytest.raises(StoryEditRefused):
            split_out(session, settings, posts["screenshot"], by="reviewer")
        original = session.get(Post, posts["original"])

    # A later repost with the original's words and the screenshot's picture would join
    # both and merge them; the person's split stands.
    with sessions() as session:
        (later,) = add_posts(
            session,
            site_code="theqoo",
            title=f"(펌) {original.title}",
            content=original.content,
            images=[f"{picture_site['theqoo']}/c.jpg"],
        )
    group_stored_posts(settings)
    with sessions() as session:
        assert session.get(Post, later).story_id == story
        assert session.get(Post, posts["screenshot"]).story_id == apart
        assert session.get(Story, apart) is not None

        # Merging by hand: the other story joins this one, every member.
        merged = merge_stories(session, settings, posts["original"], posts["other"], by="reviewer")
        assert merged == story
        assert session.get(Post, posts["other"]).story_id == story
        assert session.get(Story, story).members == 4
        with pytest.raises(StoryEditRefused):
            merge_stories(session, settings, posts["original"], posts["other"], by="reviewer")


def test_one_grouping_run_at_a_time(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        engine = session.get_bind()
    with stories_lock(engine), pytest.raises(StoriesBusy), stories_lock(engine, wait_s=0):
        pass
    got: list[int] = []
    with stories_lock(engine):
        waiter = threading.Thread(
            target=lambda: got.append(_locked_after_wait(engine)), daemon=True
        )
        waiter.start()
        waiter.join(0.5)
        assert got == []  # still waiting
    waiter.join(10)
    assert got == [1]


def _locked_after_wait(engine) -> int:
    with stories_lock(engine, wait_s=10), engine.connect() as conn:
        return int(conn.scalar(text("SELECT IS_USED_LOCK(:n) IS NOT NULL"), {"n": LOCK_NAME}))


def test_a_storys_standing_follows_its_members_moves(
    sessions: sessionmaker[Session], grouped: tuple[Settings, dict[str, int]]
) -> None:
    _, posts = grouped
    with sessions() as session:
        story = session.get(Post, posts["original"]).story_id

        def standing() -> StoryStanding:
            session.expire_all()
            return StoryStanding(session.get(Story, story).standing)

        assert standing() is StoryStanding.WAITING
        approve_story(session, [posts["edited"]], by="reviewer")
        assert standing() is StoryStanding.IN_PRODUCTION
        for status in (PostStatus.PROCESSING, PostStatus.SCRIPTED):
            transition(session, posts["edited"], status)
            session.commit()
            assert standing() is StoryStanding.IN_PRODUCTION
        transition(session, posts["edited"], PostStatus.DECLINED, by="reviewer")
        session.commit()
        assert standing() is StoryStanding.DECLINED


def test_two_sweeps_moving_members_of_one_story_at_once_never_deadlock(
    sessions: sessionmaker[Session],
) -> None:
    """Two sweeps each move their own members of one story (reposts approved before they
    were grouped) in one transaction per batch, as claim and finish do: the story's
    standing is refreshed after each commit, so neither waits on the other's rows."""
    with sessions() as session:
        ids = add_posts(session, 8, status=PostStatus.APPROVED, content="같은 이야기")
        story = Story(main_post_id=ids[0])
        session.add(story)
        session.flush()
        session.execute(update(Post).where(Post.id.in_(ids)).values(story_id=story.id))
        session.commit()
        story_id = story.id
    halves = [ids[0::2], ids[1::2]]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep(mine: list[int]) -> None:
        try:
            start.wait()
            for target in (PostStatus.PROCESSING, PostStatus.RENDERED):
                with sessions() as session:
                    for post_id in mine:
                        transition(session, post_id, target)
                        session.execute(text("DO SLEEP(0.05)"))  # the other sweep moves too
                    session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(half,)) for half in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with sessions() as session:
        assert StoryStanding(session.get(Story, story_id).standing) is StoryStanding.IN_PRODUCTION
        statuses = session.scalars(select(Post.status).where(Post.id.in_(ids))).all()
        assert set(statuses) == {PostStatus.RENDERED}
