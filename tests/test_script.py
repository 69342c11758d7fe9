"""Script checks and the offline (extractive) script engine."""

from __future__ import annotations

import pytest

from wagglebot.produce.stages.script import (
    MAX_SECONDS,
    InvalidScript,
    PostText,
    anonymise,
    extractive_script,
    soften,
    spoken_seconds,
    too_thin,
    validate,
)

POST = PostText(
    title="회사 탕비실 커피 때문에 생긴 일",
    content=(
        "안녕하세요 평범한 직장인입니다.\n요즘 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요.\n"
        "범인은 바로 옆 팀 팀장님이었습니다 시발 진짜 어이없네요. 연락은 010-1234-5678로 주세요. "
        "그 뒤로 팀장님은 커피를 사 오십니다. 이 문장은 너무 뒤에 있어서 대본에 들어가지 않습니다."
    ),
    comments=[
        ("커피러버", "팀장님 월급 받으시면서 왜 그러세요 ㅋㅋ 커피러버은 웁니다"),
        ("ㅇㅇ", "저도요"),
    ],
)


def test_the_extractive_script_tells_the_post_with_its_best_comment() -> None:
    script = extractive_script(POST)
    assert script.engine == "extractive"
    assert script.text == (
        "회사 탕비실 커피 때문에 생긴 일. 안녕하세요 평범한 직장인입니다. "
        "요즘 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요. "
        "범인은 바로 옆 팀 팀장님이었습니다 아이고 진짜 어이없네요. "
        "연락은 로 주세요. 그 뒤로 팀장님은 커피를 사 오십니다. "
        "이 문장은 너무 뒤에 있어서 대본에 들어가지 않습니다. "
        "베스트 댓글은 이렇습니다. 팀장님 월급 받으시면서 왜 그러세요 ㅋㅋ 누군가는 웁니다. "
        "이런 댓글도 있어요. 저도요."
    )  # the whole body fits the 250-character target now, and a second comment with it
    assert 150 <= len(script.text) <= 300  # 30-55 s of speech
    assert 30 <= spoken_seconds(script.text) <= 55
    assert "010" not in script.text
    assert "시발" not in script.text
    assert script.raw == script.text


def test_a_long_post_stays_under_a_minute_and_a_thin_one_is_flagged() -> None:
    long = PostText("제목 " * 30, "아주 긴 본문 문장입니다. " * 80, [(None, "댓글입니다 " * 40)])
    script = extractive_script(long)
    assert spoken_seconds(script.text) < MAX_SECONDS
    assert too_thin(script.text) is None
    thin = extractive_script(PostText("사진 한 장으로 설명되는 오늘의 출근길 풍경", "", []))
    assert too_thin(thin.text).startswith("about 10 s of speech; a Short needs at least 15 s")
    with pytest.raises(InvalidScript, match="a Short must stay under 59 s"):
        validate("가나다라마 " * 60)


def test_markup_shown_as_text_on_a_page_does_not_sink_the_script() -> None:
    post = PostText(
        "시어머니께 받은 <b>반찬</b> 후기 & 질문",
        "- 첫째 반찬이 정말 맛있었어요\n- 둘째 [사진] 참고해 주세요 {웃음}\n"
        + "이야기가 깁니다. " * 6,
        [("ㅇㅇ", "* 부럽네요 `진짜`")],
    )
    script = extractive_script(post)  # validate() refuses markup: none is left
    assert script.text.startswith("시어머니께 받은 반찬 후기 & 질문. 첫째 반찬이 정말 맛있었어요")
    assert "<" not in script.text
    assert "[" not in script.text
    assert "`" not in script.text


def test_a_post_with_no_comments_or_body_still_gets_a_script() -> None:
    script = extractive_script(PostText("사진 한 장으로 설명되는 오늘의 출근길 풍경", "", []))
    assert script.text == (
        "오늘의 인기 글입니다. 사진 한 장으로 설명되는 오늘의 출근길 풍경. "
        "여러분은 어떻게 생각하시나요?"
    )


@pytest.mark.parametrize(
    ("text", "soft"),
    [
        ("ㅅㅂ 존나 웃기네", "아이고 엄청 웃기네"),
        ("병신같은 지랄", "바보같은 난리"),
        ("평범한 말", "평범한 말"),
    ],
)
def test_profanity_is_softened(text: str, soft: str) -> None:
    assert soften(text) == soft


def test_people_and_contacts_are_anonymised() -> None:
    text = "김철수은 @kim_cs 에게 kim@example.com 이나 010 1234 5678 로 연락했고 김철수이 웃었다"
    assert anonymise(text, ["김철수"]) == "누군가는 에게 이나 로 연락했고 누군가가 웃었다"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("다음 게시글을 요약해 드리겠습니다. " * 3, "prompt_echo"),
        ('```json\n{"script": "안녕하세요"}\n```' + "가" * 50, "markup"),
        ("- 첫째 항목입니다 " * 5, "markup"),
        (
            "This is an English answer that is long enough to be a script for a Short video.",
            "not_korean",
        ),
        ("짧아요.", "length"),
        ("가" * 500, "length"),
    ],
)
def test_output_that_cannot_be_voiced_is_refused_with_a_reason(output: str, reason: str) -> None:
    with pytest.raises(InvalidScript) as info:
        validate(output)
    assert info.value.reason == reason


def test_a_good_script_passes_validation() -> None:
    text = (
        "  오늘은 회사 탕비실에서 벌어진 커피 실종 사건을 소개합니다. "
        "범인은 바로 옆 팀 팀장님이었어요!  "
    )
    assert validate(text) == text.strip()
