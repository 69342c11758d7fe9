"""The ppomppu comments hook: best comments from the inline initialCommentData JSON."""

from __future__ import annotations

from pathlib import Path

from wagglebot.crawl.extract import ListEntry, extract_post
from wagglebot.crawl.hooks import ppomppu_comments
from wagglebot.crawl.items import CommentItem
from wagglebot.crawl.sites import load_site

REPO = Path(__file__).resolve().parents[1]
PAGES = REPO / "sample_site" / "ppomppu"
SITE = load_site(REPO / "include" / "wagglebot" / "crawl" / "sites" / "ppomppu.yaml")


def page(name: str) -> str:
    """A sample page; they are EUC-KR bytes, as on the real site."""
    return (PAGES / name).read_bytes().decode("cp949")


def rows(comments: list[CommentItem]) -> list[tuple[str | None, str | None, str, int | None]]:
    return [(c.origin_comment_id, c.author, c.content, c.likes) for c in comments]


def test_top_five_by_likes_ties_in_page_order() -> None:
    comments = ppomppu_comments(page("post_990001.html"), SITE)
    # A reply (sub_cmt) competes; the picture-only comment (30 likes) has no words, its
    # "원본보기" button aside; a link's preview card is no words of its writer.
    assert rows(comments) == [
        ("20010002", "달빛고양이", "열림 버튼 눌러주는 사람 복 받으세요", 15),
        ("20010008", "닫힘버튼", "습관 인정합니다\n저도 모르게 누름", 12),
        ("20010003", "퇴근요정", '닫힘 연타는 "급한 사람"이 아니라\n그냥 습관입니다 ㅋㅋ', 9),
        ("20010005", "무지개빵", "짤 보고 빵 터짐", 9),
        ("20010009", "기사봇", "관련 기사 있네요", 5),
    ]
    assert [c.key for c in comments] == [
        "id:20010002",
        "id:20010008",
        "id:20010003",
        "id:20010005",
        "id:20010009",
    ]


def test_html_inside_memo_and_name_is_cleaned() -> None:
    html = (
        'var initialCommentData = {"total_comment":1,"comments":[{"no":31,'
        '"name":"<b><a href=# onClick=\\"return false\\"><i class=\\"nlevel lv4\\"><\\/i>'
        'A&amp;B<\\/a><\\/b>",'
        '"memo":"<p>첫 줄&nbsp;<\\/p>\\r\\n<p><img class=\\"lazy\\" src=\\"x.jpg\\">'
        '둘째 &lt;줄&gt;<br>셋째<\\/p><script>alert(1)<\\/script>",'
        '"vote_btn":{"vote_count":"1,204"}}]};'
    )
    assert rows(ppomppu_comments(html, SITE)) == [
        ("31", "A&B", "첫 줄\n둘째 <줄>\n셋째", 1204),
    ]


def test_emoji_from_json_escapes() -> None:
    comments = ppomppu_comments(page("post_990002.html"), SITE)
    assert rows(comments) == [
        ("20020001", "야옹선생", "우리 집 고양이도 그래요 😂", 6),
        ("20020002", "백업필수", "저장 안 한 게 더 무섭네요", 2),
    ]


def test_comment_without_text_is_skipped() -> None:
    # 20030002 has the most likes but its memo is an image only.
    comments = ppomppu_comments(page("post_990003.html"), SITE)
    assert rows(comments) == [
        ("20030001", "크림빵러버", "월요병 치료제 10개 주세요", 2),
        ("20030003", "동네주민", "작명 센스 미쳤다", 1),
    ]


def test_empty_comment_list() -> None:
    assert ppomppu_comments(page("post_990006.html"), SITE) == []


def test_missing_blob() -> None:
    assert ppomppu_comments(page("post_990005.html"), SITE) == []
    assert ppomppu_comments("", SITE) == []
    assert ppomppu_comments("<html><body><p>댓글 없음</p></body></html>", SITE) == []
    assert ppomppu_comments("var initialCommentData = null;", SITE) == []


def test_malformed_json() -> None:
    assert ppomppu_comments(page("post_990007.html"), SITE) == []
    truncated = 'var initialCommentData = {"total_comment":2,"comments":[{"no":1,"memo":"<p>잘'
    assert ppomppu_comments(truncated, SITE) == []
    assert ppomppu_comments("var initialCommentData = {comments: []};", SITE) == []


def test_unexpected_shapes() -> None:
    assert ppomppu_comments('var initialCommentData = {"comments":"none"};', SITE) == []
    assert ppomppu_comments("var initialCommentData = {};", SITE) == []
    odd = (
        'var initialCommentData = {"comments":[1,null,["x"],{"memo":5},'
        '{"no":"abc","name":7,"memo":"<p>남은 하나</p>","vote_btn":{"vote_count":true}}]};'
    )
    assert rows(ppomppu_comments(odd, SITE)) == [(None, None, "남은 하나", None)]


def test_plain_vote_field_and_limit_without_site() -> None:
    memos = ",".join(f'{{"no":{n},"memo":"댓글 {n}","vote":{n}}}' for n in range(1, 8))
    comments = ppomppu_comments(f'var initialCommentData = {{"comments":[{memos}]}};', None)
    assert [(c.origin_comment_id, c.likes) for c in comments] == [
        ("7", 7),
        ("6", 6),
        ("5", 5),
        ("4", 4),
        ("3", 3),
    ]


def test_extract_post_calls_the_hook() -> None:
    url = "https://www.ppomppu.co.kr/zboard/view.php?id=humor&page=1&divpage=150&no=990002"
    extraction = extract_post(SITE, page("post_990002.html"), ListEntry("990002", url))
    assert extraction.item.title == "고양이가 키보드 위에서 잠든 이유 😂🔥"
    assert [c.key for c in extraction.item.comments] == ["id:20020001", "id:20020002"]
