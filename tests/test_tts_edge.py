"""The online TTS engine: the real edge-tts client against a loopback fake of the service."""

from __future__ import annotations

import itertools
import socket
import wave
from collections.abc import Iterator
from pathlib import Path

import edge_tts.communicate
import pytest
from edge_tts.drm import DRM
from edge_tts_fake import LEAD, EdgeTTSFake

from wagglebot.produce.stages.tts import Cue, NothingToSay, TTSError
from wagglebot.produce.stages.tts_edge import edge_speech

SCRIPT = "안녕하세요. 조회수 74,428회를 찍은 글입니다! 댓글 반응이 뜨거웠어요 ㅋㅋ 😂"
DISPLAYED = ["안녕하세요.", "조회수 74,428회를 찍은 글입니다!", "댓글 반응이 뜨거웠어요 ㅋㅋ 😂"]
BACKOFF = 0.01  # seconds before the first retry: keeps the tests quick


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[EdgeTTSFake]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "WS_PROXY", "WSS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setattr(DRM, "clock_skew_seconds", 0.0)  # a 403 makes edge-tts adjust it
    with EdgeTTSFake() as server:
        # communicate.py reads its imported WSS_URL at each connection
        monkeypatch.setattr(edge_tts.communicate, "WSS_URL", server.url)
        yield server
    assert server.errors == []


def assert_sane(cues: list[Cue], duration: float) -> None:
    assert [c.text for c in cues] == DISPLAYED
    for cue in cues:
        assert 0 <= cue.start < cue.end <= duration
    for before, after in itertools.pairwise(cues):
        assert before.end <= after.start


def test_speaks_the_whole_script_in_one_request(fake: EdgeTTSFake, tmp_path: Path) -> None:
    out = tmp_path / "media" / "speech.wav"
    speech = edge_speech(SCRIPT, out, backoff=BACKOFF)

    assert fake.connections == 1
    request = fake.requests[0]
    assert request.voice == "ko-KR-SunHiNeural"
    assert request.boundary == "WordBoundary"
    assert request.output_format == "audio-24khz-48kbitrate-mono-mp3"
    # the voice got the spoken forms; the subtitles keep what the script shows
    assert "칠만 사천사백이십팔회를" in request.text
    assert "74" not in request.text
    assert "ㅋ" not in request.text
    assert "크크" in request.text
    assert speech.engine == "edge-tts:ko-KR-SunHiNeural"
    assert speech.audio_path == out
    assert_sane(speech.cues, speech.duration)
    assert speech.cues[0].start == pytest.approx(LEAD, abs=0.002)  # the first word's offset

    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24_000, 1, 2)
        seconds = w.getnframes() / w.getframerate()
        samples = w.readframes(w.getnframes())
    assert seconds == pytest.approx(speech.duration, abs=0.002)
    assert speech.duration == pytest.approx(request.audio_seconds, abs=0.12)  # MP3 padding
    assert any(samples[i] for i in range(0, len(samples), 997))
    assert list(out.parent.iterdir()) == [out]  # no temporary files left behind


def test_every_written_word_gets_its_time_from_the_voice(fake: EdgeTTSFake, tmp_path: Path) -> None:
    speech = edge_speech(SCRIPT, tmp_path / "speech.wav", backoff=BACKOFF)
    for cue in speech.cues:
        assert [w.text for w in cue.words] == cue.text.split()  # as written, not as spoken
        assert cue.start <= cue.words[0].start
        assert cue.words[-1].end <= cue.end + 0.001
        for before, after in itertools.pairwise(cue.words):
            assert before.start <= after.start
    # "74,428" is read as "칠만 사천사백이십팔": the written number spans the spoken words.
    number = next(w for c in speech.cues for w in c.words if w.text.startswith("74"))
    assert number.end - number.start > 0.2


def test_a_sentence_with_no_reported_word_is_interpolated(
    fake: EdgeTTSFake, tmp_path: Path
) -> None:
    fake.skip_words = {"조회수", "칠만", "사천사백이십팔회를", "찍은", "글입니다"}
    speech = edge_speech(SCRIPT, tmp_path / "speech.wav", backoff=BACKOFF)
    assert fake.requests[0].words == ["안녕하세요", "댓글", "반응이", "뜨거웠어요", "크크"]
    assert_sane(speech.cues, speech.duration)
    first, middle, last = speech.cues
    # between its neighbours' words, and most of that gap: it is the longest sentence
    assert middle.end - middle.start > 0.6 * (last.start - first.end)


@pytest.mark.parametrize("cut", ["drop", "reset"])
def test_a_stream_cut_short_is_retried(fake: EdgeTTSFake, tmp_path: Path, cut: str) -> None:
    # edge-tts itself ends the stream quietly when the socket goes away before turn.end
    fake.fail(cut, times=1)  # type: ignore[arg-type]
    out = tmp_path / "speech.wav"
    speech = edge_speech(SCRIPT, out, voice="ko-KR-InJoonNeural", rate="+10%", backoff=BACKOFF)
    assert fake.connections == 2
    assert [r.voice for r in fake.requests] == ["ko-KR-InJoonNeural"] * 2
    assert fake.requests[1].rate == "+10%"
    assert speech.engine == "edge-tts:ko-KR-InJoonNeural"
    assert speech.duration == pytest.approx(fake.requests[1].audio_seconds, abs=0.12)
    assert_sane(speech.cues, speech.duration)
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize(
    ("mode", "per_attempt", "cause"),
    [
        # edge-tts answers a 403 by correcting its clock from the Date header and trying once more
        ("forbidden", 2, "WSServerHandshakeError: HTTP 403"),
        ("drop", 1, "StreamCut: the stream stopped before turn.end"),
        ("silent", 1, "NoAudioReceived: No audio was received"),
        ("stall", 1, "TimeoutError: no answer within 1 s"),
    ],
)
def test_gives_up_after_the_attempts_naming_each_cause(
    fake: EdgeTTSFake, tmp_path: Path, mode: str, per_attempt: int, cause: str
) -> None:
    fake.fail(mode)  # type: ignore[arg-type]
    out = tmp_path / "media" / "speech.wav"
    out.parent.mkdir()
    attempts = 3
    with pytest.raises(TTSError) as caught:
        edge_speech(SCRIPT, out, attempts=attempts, timeout=1, backoff=BACKOFF)
    message = str(caught.value)
    assert message.startswith(f"edge-tts failed after {attempts} attempts: 1) {cause}")
    assert f"{attempts}) {cause}" in message
    assert f"{attempts + 1})" not in message
    assert "Sec-MS-GEC=" not in message  # the URL's token stays out of logs
    assert fake.connections == attempts * per_attempt
    assert list(out.parent.iterdir()) == []


def test_a_reply_it_cannot_read_fails_at_once(fake: EdgeTTSFake, tmp_path: Path) -> None:
    fake.fail("garbled")
    with pytest.raises(TTSError, match="failed on attempt 1: JSONDecodeError"):
        edge_speech(SCRIPT, tmp_path / "speech.wav", backoff=BACKOFF)
    assert fake.connections == 1
    assert list(tmp_path.iterdir()) == []


def test_a_closed_port_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", f"ws://127.0.0.1:{port}/edge/v1?x=1")
    out = tmp_path / "speech.wav"
    with pytest.raises(TTSError) as caught:
        edge_speech(SCRIPT, out, attempts=3, backoff=BACKOFF)
    message = str(caught.value)
    assert message.startswith("edge-tts failed after 3 attempts: 1) ClientConnectorError: ")
    assert "3) ClientConnectorError: " in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["", "  \n ", "😂🔥 https://x.kr ㅠㅠ"])
def test_nothing_to_say_never_reaches_the_service(
    fake: EdgeTTSFake, tmp_path: Path, script: str
) -> None:
    with pytest.raises(NothingToSay, match="nothing to say"):
        edge_speech(script, tmp_path / "speech.wav", backoff=BACKOFF)
    assert fake.connections == 0
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_voice_fails_at_once(fake: EdgeTTSFake, tmp_path: Path) -> None:
    with pytest.raises(TTSError, match="invalid edge-tts settings"):
        edge_speech(SCRIPT, tmp_path / "speech.wav", voice="Korean please", backoff=BACKOFF)
    assert fake.connections == 0


def test_a_script_too_long_for_one_request_stays_in_order(
    fake: EdgeTTSFake, tmp_path: Path
) -> None:
    # edge-tts splits text over 4096 bytes into turns of their own and shifts the later
    # turns' offsets by the audio already received (48 kbit/s CBR bytes to time)
    line = "오늘은 회사에서 있었던 아주 긴 이야기를 천천히 들려드리겠습니다"
    script = " ".join(f"{line} {n}번째." for n in range(1, 41))
    speech = edge_speech(script, tmp_path / "speech.wav", backoff=BACKOFF)
    assert fake.connections == 2
    first_turn, second_turn = fake.requests
    # the 4096-byte cut falls inside sentence 39: its words come from both turns
    assert (first_turn.text.count("번째"), second_turn.text.count("번째")) == (38, 2)
    assert len(speech.cues) == 40
    assert speech.cues[-1].text == f"{line} 40번째."
    for cue in speech.cues:
        assert 0 <= cue.start < cue.end <= speech.duration
    for before, after in itertools.pairwise(speech.cues):
        assert before.end <= after.start
    straddling = speech.cues[38]
    assert straddling.start < first_turn.audio_seconds < straddling.end
    assert speech.cues[39].start > first_turn.audio_seconds + LEAD
    audio = sum(r.audio_seconds for r in fake.requests)
    assert speech.duration == pytest.approx(audio, abs=0.25)
