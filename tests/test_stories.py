"""Stories: reposts grouped by text and pictures, measured on a labelled set of pairs."""

from __future__ import annotations

import itertools
import random

from story_pairs import TOPICS, as_bytes, make_story, picture, repost, variant

from wagglebot.crawl.stories import (
    PICTURE_DISTANCE,
    SHORT_TEXT,
    StoryIndex,
    StoryRules,
    normalise,
    picture_distance,
    picture_hash,
    shingles,
    text_match,
)

Post = tuple[str, str, int | None]  # title, body, picture hash


def same_story(a: Post, b: Post) -> bool:
    """The pairwise rule: a verified text match, or a shared picture."""
    ta, tb = normalise(a[0], a[1]), normalise(b[0], b[1])
    if text_match(shingles(ta), shingles(tb), len(ta), len(tb)).same_story():
        return True
    return (
        a[2] is not None and b[2] is not None and picture_distance(a[2], b[2]) <= PICTURE_DISTANCE
    )


def labelled_pairs() -> tuple[list[tuple[Post, Post, bool]], dict[str, list[Post]]]:
    rng = random.Random(20261206)
    pairs: list[tuple[Post, Post, bool]] = []
    stories: dict[str, list[Post]] = {}
    for topic in TOPICS:
        originals = []
        for n in range(5):
            story = make_story(rng, topic)
            img = picture(rng)
            original: Post = (story.title, story.body, picture_hash(as_bytes(img)))
            originals.append(original)
            members = [original]
            for kind in ("decorated", "edited", "cut"):
                title, body = repost(rng, story, kind)
                members.append((title, body, None))
            pic_kind = ["reencoded", "resized", "larger"][n % 3]
            members.append(
                ("[펌] 이거 봤어요?", "제곧내 ㅠㅠ", picture_hash(variant(img, pic_kind)))
            )
            for member in members[1:]:
                pairs.append((original, member, True))
            pairs.append((members[1], members[2], True))  # two reposts of one story
            stories[f"{topic}-{n}"] = members
        for a, b in itertools.combinations(originals, 2):  # same topic, other story
            pairs.append((a, b, False))
    keys = sorted(stories)
    for _ in range(40):  # other topics
        a, b = rng.sample(keys, 2)
        if a.split("-")[0] != b.split("-")[0]:
            pairs.append((rng.choice(stories[a]), rng.choice(stories[b]), False))
    return pairs, stories


def test_precision_and_recall_on_the_labelled_pairs() -> None:
    pairs, _ = labelled_pairs()
    assert len(pairs) >= 200
    said = [(same_story(a, b), truth) for a, b, truth in pairs]
    tp = sum(s and t for s, t in said)
    fp = sum(s and not t for s, t in said)
    fn = sum(t and not s for s, t in said)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    positives = sum(t for _, t in said)
    print(
        f"{len(pairs)} pairs ({positives} reposts): precision {precision:.3f}, recall {recall:.3f}"
    )
    assert precision >= 0.98
    assert recall >= 0.9


def test_the_index_groups_each_story_and_nothing_else() -> None:
    _, stories = labelled_pairs()
    index = StoryIndex()
    members = [(key, post) for key, posts in stories.items() for post in posts]
    random.Random(1).shuffle(members)
    truth = {}
    for post_id, (key, (title, body, pic)) in enumerate(members):
        truth[post_id] = key
        index.add(post_id, title, body, [pic] if pic is not None else [])
    found = index.story_of  # as the stories stand at the end (a later post may merge two)
    ids = list(truth)
    together = [
        (truth[a] == truth[b], found[a] == found[b]) for a, b in itertools.combinations(ids, 2)
    ]
    tp = sum(t and f for t, f in together)
    fp = sum(f and not t for t, f in together)
    fn = sum(t and not f for t, f in together)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"index over {len(ids)} posts: pair precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98
    assert recall >= 0.9


def test_normalising_drops_what_reposters_add() -> None:
    a = normalise(
        "[네이트판] 퇴근길 고양이 후기", "퇴근길에 고양이가 따라왔어요 ㅋㅋㅋㅋ 😂\n출처 : 네이트판"
    )
    b = normalise("퇴근길 고양이 후기 (펌)", "퇴근길에   고양이가\n따라왔어요")
    assert a == b == "퇴근길고양이후기퇴근길에고양이가따라왔어요"
    assert normalise("제목.jpg", "https://example.com/x 본문") == "제목본문"


def test_a_near_uniform_picture_is_no_evidence() -> None:
    from PIL import Image

    white = Image.new("RGB", (300, 300), "white")
    assert picture_hash(as_bytes(white)) is None


def test_a_picture_in_many_stories_is_a_template_not_evidence() -> None:
    rng = random.Random(3)
    meme = picture_hash(as_bytes(picture(rng)))
    index = StoryIndex(StoryRules(template_after=3))
    stories = [
        index.add(i, f"짤 모음 {i}", f"전혀 다른 이야기 {i} " * (i + 1), [meme]) for i in range(5)
    ]
    assert stories[1] == stories[0]  # one shared picture: the same story, so far
    assert len(set(stories)) > 1  # ...but once the picture is everywhere it proves nothing


def test_a_repost_just_under_the_short_text_mark_still_matches() -> None:
    """A short text's 3-grams must not halve its likeness to a copy a little longer."""
    body = (
        "회사 탕비실에 둔 커피믹스가 매일 사라져서 CCTV를 확인해 봤어요. 범인은 옆 팀 "
        "팀장님이었고 다음 날 탕비실 문에 커피는 각자 사 드시라는 쪽지가 붙었습니다. "
        "팀장님은 그 뒤로 매일 아침 커피를 한 박스씩 사 오십니다."
    )
    a = normalise("탕비실 커피 도둑을 잡았습니다", body)
    b = normalise("탕비실 커피 도둑 (펌)", body + "\n출처 : 네이트판")
    assert len(b) < SHORT_TEXT <= len(a)
    assert text_match(shingles(a), shingles(b), len(a), len(b)).same_story()
