"""Korean script text for the voice and for the subtitles."""

from __future__ import annotations

import pytest

from wagglebot.produce.stages.speech_text import (
    MAX_SPOKEN,
    Sentence,
    sentences,
    sino_korean,
    speakable,
)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "영"),
        (1, "일"),
        (10, "십"),
        (11, "십일"),
        (105, "백오"),
        (1000, "천"),
        (1234, "천이백삼십사"),
        (2026, "이천이십육"),
        (10000, "만"),
        (10001, "만 일"),
        (74428, "칠만 사천사백이십팔"),
        (100000000, "일억"),
        (123456789, "일억 이천삼백사십오만 육천칠백팔십구"),
        (-3, "마이너스 삼"),
    ],
)
def test_numbers_read_in_sino_korean(number: int, words: str) -> None:
    assert sino_korean(number) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("3년 차 직장인입니다", "삼년 차 직장인입니다"),
        ("조회 74,428회", "조회 칠만 사천사백이십팔회"),
        ("1.2만 명, 45% 할인", "일 점 이 만 명, 사십오 퍼센트 할인"),
        ("진짜 웃겨요 ㅋㅋㅋㅋ", "진짜 웃겨요 크크"),
        ("ㅎㅎ 그렇죠", "흐흐 그렇죠"),
        ("너무 슬퍼요 ㅠㅠ", "너무 슬퍼요"),
        ("ㅇㅇ 맞아요", "맞아요"),
        ("강아지 🐶 최고 😂🔥", "강아지 최고"),
        ("여기 https://pann.nate.com/talk/1 보세요", "여기 보세요"),
        ("대박!!!", "대박!"),
        ("A & B <태그>", "A 그리고 B 태그"),
        ("안녕하세요 😂.", "안녕하세요."),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_sentences_keep_the_written_form_for_subtitles() -> None:
    script = "안녕하세요 😂. 오늘은 3년 차 이야기예요!\n링크는 https://x.kr/a 입니다. 🔥🔥"
    assert sentences(script) == [
        Sentence("안녕하세요 😂.", "안녕하세요."),
        Sentence("오늘은 3년 차 이야기예요!", "오늘은 삼년 차 이야기예요!"),
        Sentence("링크는 입니다.", "링크는 입니다."),
    ]
    assert sentences("") == []
    assert sentences("😂😂 https://x.kr") == []


def test_long_sentences_are_cut_where_a_reader_would_pause() -> None:
    long = "회사 탕비실 커피가 매일 사라져서, " * 6 + "결국 범인을 찾았습니다"
    parts = sentences(long)
    assert len(parts) > 1
    assert all(len(p.spoken) <= MAX_SPOKEN for p in parts)
    assert " ".join(p.display for p in parts) == " ".join(long.split())
