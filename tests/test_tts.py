"""The offline TTS engine, run for real (espeak-ng)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from wagglebot.produce.stages.tts import GAP_SECONDS, TTSError, espeak_speech

SCRIPT = "안녕하세요. 오늘은 3년 차 직장인의 이야기입니다! 댓글 반응이 뜨거웠어요 ㅋㅋ 😂"


def test_espeak_speaks_korean_with_a_cue_per_sentence(tmp_path: Path) -> None:
    out = tmp_path / "media" / "speech.wav"
    speech = espeak_speech(SCRIPT, out)
    assert speech.engine == "espeak-ng"
    assert [c.text for c in speech.cues] == [
        "안녕하세요.",
        "오늘은 3년 차 직장인의 이야기입니다!",
        "댓글 반응이 뜨거웠어요 ㅋㅋ 😂",
    ]
    with wave.open(str(out)) as w:
        seconds = w.getnframes() / w.getframerate()
        assert w.getnchannels() == 1
        samples = w.readframes(w.getnframes())
    assert abs(seconds - speech.duration) < 0.01
    assert 4 < speech.duration < 20
    assert any(samples[i] for i in range(0, len(samples), 997))  # not silence
    starts, ends = [c.start for c in speech.cues], [c.end for c in speech.cues]
    assert starts[0] == 0
    assert ends[-1] == speech.duration
    for previous_end, start in zip(ends, starts[1:], strict=False):
        assert start == pytest.approx(previous_end + GAP_SECONDS, abs=0.002)
    assert all(c.end - c.start > 0.3 for c in speech.cues)
    assert list(out.parent.iterdir()) == [out]  # no temporary files left behind


def test_nothing_to_say_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TTSError, match="nothing to say"):
        espeak_speech("😂🔥 https://x.kr", tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists()
