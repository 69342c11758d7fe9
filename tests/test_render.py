"""The render stage through real ffmpeg, checked with ffprobe and decoded frames."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from wagglebot.produce.stages.cards import (
    CommentCard,
    TitleCard,
    comment_spans,
    draw_comment_card,
    draw_title_card,
    hook_end,
)
from wagglebot.produce.stages.clips import LOOP_SECONDS, VIDEO_SECONDS, make_clip
from wagglebot.produce.stages.encoder import h264_encoder
from wagglebot.produce.stages.layout import (
    CAPTIONS_TOP,
    DISSOLVE_S,
    LOOP_S,
    MOVES,
    PICTURE_AREA,
    SAFE,
    Box,
    picture_spans,
)
from wagglebot.produce.stages.music import music_file
from wagglebot.produce.stages.render import (
    RenderError,
    boxed_spans,
    image_spans,
    render_short,
    sits_above_captions,
)
from wagglebot.produce.stages.subtitles import ass_text, write_ass
from wagglebot.produce.stages.tts import Cue, Speech, Word, espeak_speech

from conftest import REPO
from frames import caption_box, gray_frame, mean_difference, rgb_frame, share, where


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", *args], check=True, timeout=120
    )


def _probe(path: Path) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    out = tmp_path_factory.mktemp("voice") / "voice.wav"
    return espeak_speech("안녕하세요. 오늘의 이야기는 탕비실 커피입니다!", out)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1440x2560", "-frames:v", "1", str(folder / "a.jpg"))
    _ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=1200x900", "-frames:v", "1", str(folder / "b.png"))
    return [folder / "a.jpg", folder / "b.png"]


def test_the_probe_picks_an_encoder_that_really_works() -> None:
    choice = h264_encoder()
    listed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=True
    ).stdout
    if choice.name == "h264_nvenc":  # a GPU with NVENC engines
        assert "succeeded" in choice.reason
        return
    assert choice.name == "libx264"
    if "h264_nvenc" in listed:  # Debian's ffmpeg lists it even with no GPU
        assert choice.reason.startswith("h264_nvenc test encode failed: ")
        assert "Error initializing output stream" not in choice.reason  # the cause, not noise
        with pytest.raises(RuntimeError, match="WAGGLE_VIDEO_ENCODER=h264_nvenc but the test"):
            h264_encoder("h264_nvenc")
    assert h264_encoder("libx264").name == "libx264"


def test_a_short_with_pictures(speech: Speech, images: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "media" / "short.mp4"
    rendered = render_short(speech.audio_path, speech.duration, speech.cues, images, out)
    info = _probe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1080, 1920)
    assert video["r_frame_rate"] == "30/1"
    assert video["pix_fmt"] == "yuv420p"
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("aac", 2, "48000")
    assert float(info["format"]["duration"]) == pytest.approx(speech.duration, abs=0.1)
    head = out.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # faststart
    thumb = _probe(rendered.thumbnail_path)["streams"][0]
    assert (thumb["width"], thumb["height"]) == (540, 960)
    assert sorted(p.name for p in out.parent.iterdir()) == ["short.jpg", "short.mp4"]
    assert rendered.encoder.name in ("libx264", "h264_nvenc")

    # The pictures move (a slow zoom), and the subtitle is drawn in its band while it is due.
    first, later = gray_frame(out, 0.1), gray_frame(out, speech.cues[0].end - 0.1)
    assert len(first) == 1080 * 1920
    assert first != later


CORNERS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


def test_a_picture_is_shown_whole_over_a_blurred_copy(speech: Speech, tmp_path: Path) -> None:
    picture = tmp_path / "marked.png"  # wide, with a coloured square in each corner
    boxes = ",".join(
        f"drawbox=x={x}:y={y}:w=120:h=120:color=0x{r:02X}{g:02X}{b:02X}:t=fill"
        for (r, g, b), (x, y) in zip(
            CORNERS.values(), [(0, 0), (1480, 0), (0, 780), (1480, 780)], strict=True
        )
    )
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=1600x900", "-vf", boxes, "-frames:v", "1",
            str(picture))  # fmt: skip
    out = tmp_path / "whole.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [picture], out)
    for at in (0.1, speech.duration - 0.1):  # least and most zoomed
        frame = rgb_frame(out, at)
        found = {name: where(frame, rgb) for name, rgb in CORNERS.items()}
        for name, (count, *_box) in found.items():
            assert count > 150, (at, name, found)  # every corner of the picture is there
        # ...where it belongs: the left squares left, the right ones right, a full width.
        assert found["red"][3] < found["green"][1]
        assert found["blue"][3] < found["yellow"][1]
        assert found["green"][3] - found["red"][1] > 900  # ~1018 px: the whole width
        assert found["red"][4] < found["blue"][2]  # top above bottom
    # Between the picture and the captions: its blurred, darkened copy, not black, not sharp.
    frame = gray_frame(out, 0.1)
    band = frame[1080 * 1010 : 1080 * 1230]
    assert 15 < sum(band) / len(band) < 140
    assert max(band) - min(band) < 120  # blurred: no hard edges left


def test_a_landscape_picture_sits_above_its_captions_which_never_cover_it(
    speech: Speech, tmp_path: Path
) -> None:
    picture = tmp_path / "landscape.png"  # gray, a coloured square in each corner
    boxes = ",".join(
        f"drawbox=x={x}:y={y}:w=120:h=120:color=0x{r:02X}{g:02X}{b:02X}:t=fill"
        for (r, g, b), (x, y) in zip(
            CORNERS.values(), [(0, 0), (1480, 0), (0, 1080), (1480, 1080)], strict=True
        )
    )
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=1600x1200", "-vf", boxes, "-frames:v", "1",
            str(picture))  # fmt: skip
    out = tmp_path / "landscape.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [picture], out)
    for n, cue in enumerate(speech.cues):
        at = cue.end - 0.1 if n else (cue.start + cue.end) / 2  # the most zoomed too
        frame = rgb_frame(out, at)
        picture_bottom = max(where(frame, CORNERS[c])[4] for c in ("blue", "yellow"))
        picture_top = min(where(frame, CORNERS[c])[2] for c in ("red", "green"))
        left, top, right, bottom = caption_box(frame, picture_top)
        assert top > picture_bottom + 20, (at, top, picture_bottom)  # no caption pixel on it
        assert SAFE.x <= left
        assert right <= SAFE.right
        assert bottom < SAFE.bottom
        assert picture_top >= SAFE.y - 60  # the picture is in the upper part
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    at = (speech.cues[1].start + speech.cues[1].end) / 2
    _ffmpeg("-ss", f"{at:.2f}", "-i", str(out), "-frames:v", "1",
            str(ARTIFACTS / "short-landscape-caption.png"))  # fmt: skip


def test_a_portrait_picture_fills_the_frame_and_its_captions_are_boxed(
    speech: Speech, tmp_path: Path
) -> None:
    picture = tmp_path / "portrait.png"  # light gray: white glyphs alone would not read
    _ffmpeg("-f", "lavfi", "-i", "color=c=0xD0D0D0:s=900x1600", "-frames:v", "1", str(picture))
    out = tmp_path / "portrait.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [picture], out)
    cue = speech.cues[1]
    frame = gray_frame(out, (cue.start + cue.end) / 2)
    rgb = rgb_frame(out, (cue.start + cue.end) / 2)
    left, top, right, bottom = caption_box(rgb)
    assert top > 0, "no caption drawn"
    # Around the glyphs, a dark translucent box; just above it, the light picture itself.
    inside = Box(left, top, right - left, bottom - top)
    assert share(frame, inside, lambda px: px < 110) > 0.3
    above = Box(left, top - 90, right - left, 30)
    assert share(frame, above, lambda px: px > 180) > 0.9
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-ss", f"{(cue.start + cue.end) / 2:.2f}", "-i", str(out), "-frames:v", "1",
            str(ARTIFACTS / "short-portrait-boxed-caption.png"))  # fmt: skip


def test_only_the_spans_of_frame_filling_pictures_get_boxed_captions(tmp_path: Path) -> None:
    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=1200x900", "-frames:v", "1", str(wide))
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=900x1600", "-frames:v", "1", str(tall))
    spans = [(0.0, 4.0), (4.0, 9.0)]
    rooms = [sits_above_captions(wide), sits_above_captions(tall)]
    assert boxed_spans(spans, rooms) == [(4.0, 9.0)]
    cues = [Cue(0.0, 3.9, "첫 문장입니다."), Cue(4.1, 8.9, "둘째 문장입니다.")]
    ass = write_ass(cues, tmp_path / "s.ass", boxed=boxed_spans(spans, rooms))
    styles = [line.split(",")[3] for line in ass.read_text().splitlines() if line.startswith("Dia")]
    assert styles == ["Default", "Boxed"]


def test_pictures_change_at_sentence_boundaries() -> None:
    cues = [Cue(0, 2.0, "a"), Cue(2.15, 5.0, "b"), Cue(5.15, 6.0, "c"), Cue(6.15, 9.0, "d")]
    assert picture_spans(9.0, cues, 2) == [(0.0, 5.15), (5.15, 9.0)]  # 4.5 is mid-sentence
    assert picture_spans(9.0, cues, 3) == [(0.0, 2.15), (2.15, 6.15), (6.15, 9.0)]
    assert picture_spans(9.0, [Cue(0, 9.0, "one long sentence")], 2) == [(0.0, 4.5), (4.5, 9.0)]
    assert picture_spans(9.0, cues, 0) == []


def test_subtitles_are_burned_in_where_and_when_due(speech: Speech, tmp_path: Path) -> None:
    out = tmp_path / "plain.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [], out)
    cue = speech.cues[1]
    frame = gray_frame(out, (cue.start + cue.end) / 2)
    band = frame[1080 * 1250 : 1080 * 1500]  # above MarginV=480 from the bottom
    sky = frame[1080 * 100 : 1080 * 350]
    white = sum(1 for px in band[::7] if px > 235)
    assert white > 200  # white glyphs on the gradient
    assert sum(1 for px in sky[::7] if px > 235) == 0
    assert sum(1 for px in band[::7] if px < 20) > 100  # their black outline


def test_music_is_ducked_under_the_voice(speech: Speech, tmp_path: Path) -> None:
    music = tmp_path / "music.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=1.5", str(music))  # loops
    out = tmp_path / "music.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [], out, music=music)
    info = _probe(out)
    assert float(info["format"]["duration"]) == pytest.approx(speech.duration, abs=0.1)
    assert any(s["codec_type"] == "audio" for s in info["streams"])


def test_the_builtin_bed_is_made_here_loops_and_plays_under_the_voice(
    speech: Speech, tmp_path: Path
) -> None:
    bed = music_file(Path("builtin:calm"), tmp_path / "media" / "music")
    assert bed == tmp_path / "media" / "music" / "bed-calm.flac"
    assert float(_probe(bed)["format"]["duration"]) == pytest.approx(32.0, abs=0.05)
    levels = subprocess.run(
        ["ffmpeg", "-hide_banner", "-i", str(bed), "-af", "astats", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stderr  # fmt: skip
    rms = float(re.findall(r"RMS level dB: (-?[\d.]+)", levels)[-1])
    assert -30 < rms < -10  # audible, and quiet enough to sit under a voice
    assert (
        music_file(Path("builtin:calm"), tmp_path / "media" / "music").stat().st_mtime
        == bed.stat().st_mtime
    )
    assert music_file(None, tmp_path) is None
    with pytest.raises(ValueError, match="builtin:calm"):
        music_file(Path("builtin:rock"), tmp_path)
    out = tmp_path / "bed.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [], out, music=bed)
    assert float(_probe(out)["format"]["duration"]) == pytest.approx(speech.duration, abs=0.1)


def test_failures_say_why_and_leave_nothing(speech: Speech, tmp_path: Path) -> None:
    out = tmp_path / "bad" / "short.mp4"
    with pytest.raises(RenderError, match=r"ffmpeg failed .*missing\.jpg"):
        render_short(
            speech.audio_path, speech.duration, speech.cues, [tmp_path / "missing.jpg"], out
        )
    with pytest.raises(RenderError, match="timeout"):
        render_short(speech.audio_path, speech.duration, speech.cues, [], out, timeout=0.5)
    with pytest.raises(RenderError, match="no length"):
        render_short(speech.audio_path, 0, speech.cues, [], out)
    assert list(out.parent.iterdir()) == []


def test_crawled_text_cannot_inject_subtitle_markup(tmp_path: Path) -> None:
    assert ass_text(r"{\pos(0,0)}안녕 \N 하세요") == "｛＼pos(0,0)｝안녕 ＼N 하세요"
    assert ass_text("눈을 봤어요 😂🔥. 귀여움 😍") == "눈을 봤어요. 귀여움"  # no font has them
    ass = write_ass([Cue(0, 1.5, "{\\b1}굵게"), Cue(61.25, 3725.5, "끝")], tmp_path / "s.ass")
    dialogue = [ln for ln in ass.read_text(encoding="utf-8").splitlines() if ln.startswith("Dia")]
    assert dialogue == [
        "Dialogue: 0,0:00:00.00,0:00:01.50,Default,,0,0,0,,｛＼b1｝굵게",
        "Dialogue: 0,0:01:01.25,1:02:05.50,Default,,0,0,0,,끝",
    ]


def test_a_silently_hung_ffmpeg_is_killed_at_the_timeout() -> None:
    import time

    from wagglebot.produce.stages.render import _run

    started = time.monotonic()
    with pytest.raises(RenderError, match="timeout"):
        _run(["sleep", "30"], duration=1.0, timeout=1.0)  # prints no progress at all
    assert time.monotonic() - started < 5


def test_ffmpeg_dies_with_a_task_process_killed_outright() -> None:
    import signal
    import sys

    import psutil

    # A stand-in task process: it runs a long encode through _run, then is SIGKILLed.
    task = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from wagglebot.produce.stages.render import _run\n"
            "_run(['ffmpeg', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=d=60',"
            " '-f', 'null', '-'], duration=60, timeout=120)",
        ]
    )
    deadline = time.monotonic() + 20
    encoder = None
    while encoder is None and time.monotonic() < deadline:
        children = psutil.Process(task.pid).children()
        encoder = next((c for c in children if c.name() == "ffmpeg"), None)
        time.sleep(0.1)
    assert encoder is not None
    task.send_signal(signal.SIGKILL)
    task.wait(10)
    encoder.wait(5)  # the kernel ended it with its parent: no orphan left encoding
    assert not encoder.is_running()


# --- cards ---------------------------------------------------------------------------------

HOOK_SCRIPT = (
    "탕비실 커피가 매일 사라지는 이유. 범인은 옆 부서 과장님이었습니다. "
    "베스트 댓글은 이렇습니다. 저희 회사도 똑같아요 커피는 생명입니다."
)
TITLE = TitleCard(
    "네이트판 톡톡 베스트", "nate_pann", "탕비실 커피가 매일 사라지는 이유 😱", 74428, 1024, 31
)
COMMENT = CommentCard("베스트 댓글 1", "저희 회사도 똑같아요 커피는 생명입니다.", 512)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Speech]:
    folder = tmp_path_factory.mktemp("hook")
    voice = espeak_speech(HOOK_SCRIPT, folder / "voice.wav")
    picture = folder / "dim.jpg"  # a dim photo: nothing in it is as bright as a card
    _ffmpeg("-f", "lavfi", "-i", "color=c=0x303840:s=1200x900", "-frames:v", "1", str(picture))
    out = folder / "short.mp4"
    render_short(voice.audio_path, voice.duration, voice.cues, [picture], out, title=TITLE,
                 comments=[COMMENT])  # fmt: skip
    return out, voice


def test_the_title_card_opens_the_short_and_leaves_after_the_first_line(
    hooked: tuple[Path, Speech], tmp_path: Path
) -> None:
    out, voice = hooked
    box = draw_title_card(TITLE, tmp_path / "t.png")
    first = gray_frame(out, 0.5)
    assert share(first, box, lambda px: px > 240) > 0.6  # the white card
    assert share(first, box, lambda px: px < 80) > 0.02  # with dark text on it
    gone = gray_frame(out, hook_end(voice.cues, voice.duration) + 0.4)
    assert share(gone, box, lambda px: px > 240) < 0.05
    assert 2.0 <= hook_end(voice.cues, voice.duration) <= 3.0


def test_a_comment_card_shows_while_the_comment_is_read(
    hooked: tuple[Path, Speech], tmp_path: Path
) -> None:
    out, voice = hooked
    box = draw_comment_card(COMMENT, tmp_path / "c.png")
    intro, read = voice.cues[2], voice.cues[3]  # "베스트 댓글은 이렇습니다." then the comment
    during = gray_frame(out, (read.start + read.end) / 2)
    before = gray_frame(out, (intro.start + intro.end) / 2)
    assert share(during, box, lambda px: px > 240) > 0.6
    assert share(before, box, lambda px: px > 240) < 0.05


def test_a_card_up_at_the_end_fades_out_with_the_loop(
    hooked: tuple[Path, Speech], tmp_path: Path
) -> None:
    out, voice = hooked  # the comment is read last: its card is up when the loop begins
    box = draw_comment_card(COMMENT, tmp_path / "c.png")
    up = gray_frame(out, voice.duration - LOOP_S - 0.2)
    assert share(up, box, lambda px: px > 240) > 0.6
    first, last = gray_frame(out, 0), gray_frame(out, voice.duration - 0.06)
    # The title card is back, the comment card gone: the opening frame again.
    assert mean_difference(first, last, (0, CAPTIONS_TOP)) < 2.0


def test_captions_stay_in_the_safe_area_and_off_the_cards(hooked: tuple[Path, Speech]) -> None:
    out, voice = hooked
    cards_bottom = max(
        draw_title_card(TITLE, out.parent / "t.png").bottom,
        draw_comment_card(COMMENT, out.parent / "c.png").bottom,
    )
    for cue in voice.cues:
        frame = gray_frame(out, (cue.start + cue.end) / 2)
        glyphs = [i // 1080 for i in range(0, len(frame), 5) if frame[i] > 235]
        caption = [y for y in glyphs if y > cards_bottom]
        assert caption, cue  # the caption is drawn...
        assert max(caption) < SAFE.bottom  # ...above the player's bottom fifth
        right = [i % 1080 for i in range(1080 * cards_bottom, len(frame), 5) if frame[i] > 235]
        assert max(right) < SAFE.right  # ...and clear of its buttons on the right


def test_which_sentences_read_which_comment() -> None:
    cues = [
        Cue(0, 2.5, "제목입니다."),
        Cue(2.6, 4.0, "베스트 댓글은 이렇습니다."),
        Cue(4.1, 6.0, "저희 회사도 똑같아요."),
        Cue(6.1, 8.0, "커피는 생명입니다."),
        Cue(8.1, 9.0, "여러분은 어떻게 생각하시나요?"),
    ]
    comments = [CommentCard("베스트 댓글 1", "저희 회사도 똑같아요 ㅋㅋ 커피는 생명입니다.", 3)]
    assert comment_spans(cues, comments, after=2.5) == [(0, 4.1, 8.0)]  # one card, both lines
    assert hook_end(cues, 9.0) == 2.5
    assert hook_end([Cue(0, 6.0, "긴 제목")], 9.0) == 3.0
    assert hook_end([Cue(0, 0.8, "짧게")], 9.0) == 2.0


def test_a_long_title_is_wrapped_to_four_lines(tmp_path: Path) -> None:
    long = TitleCard("사이트", "x", "{\\b1}<b>아주 긴 제목</b> " * 12, None, None, None)
    box = draw_title_card(long, tmp_path / "long.png")
    short = draw_title_card(TitleCard("사이트", "x", "짧은 제목"), tmp_path / "short.png")
    assert box.h - short.h == 3 * 86  # three more lines of title (neither has counts)
    assert box.bottom < 1250  # above the captions' band


def _yellow_x(frame: bytes) -> float:
    """Where the lit word is: the mean x of the frame's yellow caption pixels."""
    xs = [
        (i // 3) % 1080
        for i in range(3 * 1080 * 1000, len(frame), 3 * 2)
        if frame[i] > 200 and frame[i + 1] > 170 and frame[i + 2] < 90
    ]
    assert len(xs) > 100, len(xs)
    return sum(xs) / len(xs)


def test_the_word_being_spoken_is_lit_and_moves_with_the_voice(
    speech: Speech, tmp_path: Path
) -> None:
    words = ["고양이가", "집에", "따라", "왔어요"]
    step = speech.duration / len(words)
    cue = Cue(0.0, speech.duration, " ".join(words),
              tuple(Word(i * step, (i + 1) * step, w) for i, w in enumerate(words)))  # fmt: skip
    out = tmp_path / "lit.mp4"
    render_short(speech.audio_path, speech.duration, [cue], [], out)
    first = _yellow_x(rgb_frame(out, step * 0.5))
    third = _yellow_x(rgb_frame(out, step * 2.5))
    assert third - first > 150  # the lit word moved right, word by word


def test_a_long_sentence_is_shown_two_lines_at_a_time(speech: Speech, tmp_path: Path) -> None:
    long = "퇴근길에 작은 고양이가 집 앞까지 따라왔어요 배가 고파 보여서 참치를 조금 나눠줬습니다"
    out = tmp_path / "pages.mp4"
    render_short(speech.audio_path, speech.duration, [Cue(0.0, speech.duration, long)], [], out)
    shown = []
    for at in (speech.duration * 0.2, speech.duration * 0.8):
        frame = gray_frame(out, at)
        rows = [i // 1080 for i in range(0, len(frame), 3) if frame[i] > 235]
        assert rows
        assert max(rows) - min(rows) < 2 * 95  # two lines of the 72 px font at most
        shown.append(frame)
    assert shown[0] != shown[1]  # a page at a time


def test_without_pictures_the_title_card_stays_and_moves(speech: Speech, tmp_path: Path) -> None:
    out = tmp_path / "held.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [], out, title=TITLE)
    card = draw_title_card(TITLE, tmp_path / "t.png")
    held = Box(card.x + 40, 900, card.w - 80, 200)  # inside the held card, mid-frame
    early, late = gray_frame(out, 0.3), gray_frame(out, speech.duration - 0.3)
    for frame in (early, late):
        assert share(frame, held, lambda px: px > 235) > 0.5  # the card, all along
        assert share(frame, Box(0, 1600, 1080, 300), lambda px: px < 60) > 0.9  # dark below
    assert early != late  # it moves


ARTIFACTS = Path(os.environ.get("WAGGLE_TEST_ARTIFACTS", REPO / "test-artifacts"))


def test_a_sample_short_frame_by_frame(hooked: tuple[Path, Speech], tmp_path: Path) -> None:
    """The three moments of a Short, kept as PNGs under test-artifacts/: the title card,
    a picture with a comment card, a caption with its spoken word lit."""
    _, voice = hooked
    cues = [  # the same sentences, with word timings spread over each, as edge-tts gives
        Cue(c.start, c.end, c.text, tuple(
            Word(c.start + (c.end - c.start) * i / len(c.text.split()),
                 c.start + (c.end - c.start) * (i + 1) / len(c.text.split()), w)
            for i, w in enumerate(c.text.split())))
        for c in voice.cues
    ]  # fmt: skip
    picture = REPO / "sample_site" / "nate_pann" / "images" / "file_111.jpg"
    out = tmp_path / "sample.mp4"
    render_short(voice.audio_path, voice.duration, cues, [picture], out, title=TITLE,
                 comments=[COMMENT])  # fmt: skip
    title_box = draw_title_card(TITLE, tmp_path / "t.png")
    comment_box = draw_comment_card(COMMENT, tmp_path / "c.png")
    second, comment = cues[1], cues[3]
    moments = {
        "title-card": (0.8, title_box),
        "comment-card": ((comment.start + comment.end) / 2, comment_box),
        "caption": (second.start + (second.end - second.start) * 0.6, None),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, (at, box) in moments.items():
        shot = ARTIFACTS / f"short-{name}.png"
        _ffmpeg("-ss", f"{at:.2f}", "-i", str(out), "-frames:v", "1", str(shot))
        frame = gray_frame(out, at)
        if box:
            assert share(frame, box, lambda px: px > 240) > 0.6, name
        else:  # no card: a caption, its spoken word in yellow, inside the safe area
            x = _yellow_x(rgb_frame(out, at))
            assert SAFE.x < x < SAFE.right
        assert shot.stat().st_size > 10_000


def test_a_tall_screenshot_scrolls_at_a_readable_size(speech: Speech, tmp_path: Path) -> None:
    tall = tmp_path / "thread.png"  # 1000x3600: a red band at its top, a blue one at its foot
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=1000x3600", "-vf",
            "drawbox=x=0:y=0:w=1000:h=300:color=0xFF0000:t=fill,"
            "drawbox=x=0:y=3300:w=1000:h=300:color=0x0000FF:t=fill",
            "-frames:v", "1", str(tall))  # fmt: skip
    out = tmp_path / "scroll.mp4"
    render_short(speech.audio_path, speech.duration, speech.cues, [tall], out)
    # (the last LOOP_S lead back to the top: the foot is seen just before)
    top, foot = rgb_frame(out, 0.2), rgb_frame(out, speech.duration - LOOP_S - 0.1)
    red, blue = CORNERS["red"], CORNERS["blue"]
    count, x0, y0, x1, _ = where(top, red)
    assert count > 1000
    assert y0 < 10
    assert x1 - x0 > 950  # ...at the frame's width (fitted whole it would be 530 wide)
    assert where(top, blue)[0] == 0
    count, *_, y1 = where(foot, blue)
    assert count > 1000
    assert y1 > 1900
    assert where(foot, red)[0] == 0


def _centre(frame: bytes, at_y: int = 960) -> tuple[int, int, int]:
    """The mean colour of a 40x40 patch centred on (540, ``at_y``), the frame's centre."""
    top = at_y - 20
    rows = [frame[((top + y) * 1080 + 520) * 3 : ((top + y) * 1080 + 560) * 3] for y in range(40)]
    return tuple(sum(row[c::3][i] for row in rows for i in range(40)) // 1600 for c in range(3))


def _near(found: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(f - c) < 50 for f, c in zip(found, colour, strict=True))


def _max_volume(path: Path) -> float:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(re.search(r"max_volume: (-?[\d.]+|-inf) dB", done.stderr)[1])


def test_a_clip_plays_muted_and_a_gif_loops(tmp_path: Path) -> None:
    video = tmp_path / "video.mp4"  # red for a second, then blue, with a loud tone
    _ffmpeg("-f", "lavfi", "-i", "color=c=0xFF0000:s=640x360:r=25:d=2,"
            "drawbox=x=0:y=0:w=iw:h=ih:color=0x0000FF:t=fill:enable='gte(t,1)'",
            "-f", "lavfi", "-i", "sine=f=1000:d=2", str(video))  # fmt: skip
    gif = tmp_path / "roll.gif"  # green and yellow frames in turn, a quarter second each
    _ffmpeg("-f", "lavfi", "-i", "color=c=0x00FF00:s=320x240:r=4:d=1,"
            "drawbox=x=0:y=0:w=iw:h=ih:color=0xFFFF00:t=fill:enable='eq(mod(n,2),1)'",
            "-loop", "0", str(gif))  # fmt: skip
    clips = [tmp_path / "picture_00.clip.mp4", tmp_path / "picture_01.clip.mp4"]
    assert make_clip(video, clips[0], VIDEO_SECONDS) == pytest.approx(2.0, abs=0.05)
    assert make_clip(gif, clips[1], LOOP_SECONDS) == pytest.approx(1.0, abs=0.05)
    silence = tmp_path / "voice.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=24000:cl=mono", "-t", "6", str(silence))
    cues = [Cue(0, 2.9, "하나."), Cue(3.0, 6.0, "둘.")]
    out = tmp_path / "moving.mp4"
    render_short(silence, 6.0, cues, clips, out)
    red, blue = (255, 0, 0), (0, 0, 255)
    green, yellow = (0, 255, 0), (255, 255, 0)
    # The video plays (red, then blue) and, its two seconds done, starts again; the GIF's
    # frames (a quarter second each) turn from its start, half a dissolve before its turn...
    # Both are landscape: they play in the upper part, above the captions.
    assert all(sits_above_captions(clip) for clip in clips)
    middle = PICTURE_AREA.y + PICTURE_AREA.h // 2
    gif_start = image_spans(clips, 6.0, cues)[1][0] - DISSOLVE_S / 2
    for at, colour in [(0.5, red), (1.5, blue), (2.5, red), (gif_start + 0.6, green),
                       (gif_start + 0.85, yellow), (gif_start + 1.1, green)]:  # fmt: skip
        found = _centre(rgb_frame(out, at), middle)
        assert _near(found, colour), (at, found)
    frame = rgb_frame(out, 0.5)
    clip_bottom = where(frame, red)[4]
    _, top, _, _ = caption_box(frame, clip_bottom)
    assert top > clip_bottom + 20  # the caption is below the clip, not on it
    # ...and its tone is not heard: the voice (silence here) is the Short's only sound.
    assert _max_volume(out) < -50
    assert _max_volume(video) > -30  # (the tone is there to be heard)


def test_a_clip_plays_about_its_own_length_beside_pictures() -> None:
    cues = [Cue(0, 1.9, "a"), Cue(2.0, 3.9, "b"), Cue(4.0, 9.0, "c")]
    # A 2 s clip and two pictures in 9 s: the clip plays once, the pictures share the rest.
    assert picture_spans(9.0, cues, 3, [2.0, None, None]) == [(0.0, 2.0), (2.0, 4.0), (4.0, 9.0)]
    assert picture_spans(9.0, [], 3, [2.0, None, None]) == [(0.0, 2.0), (2.0, 5.5), (5.5, 9.0)]
    # Only clips: none can take the others' time, so they share it evenly (and loop).
    assert picture_spans(9.0, [], 2, [2.0, 1.0]) == [(0.0, 4.5), (4.5, 9.0)]


# --- motion, dissolves, the loop -------------------------------------------------------


def _marked(path: Path, size: str, base: str) -> Path:
    """A ``base``-coloured picture of ``size`` with a red square near its top left."""
    mark = "drawbox=x=40:y=40:w=160:h=160:color=0xFF0000:t=fill"
    _ffmpeg("-f", "lavfi", "-i", f"color=c={base}:s={size}", "-vf", mark, "-frames:v", "1",
            str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def moving(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Speech, list]:
    """Two landscape pictures, blue then green, each with a red mark, and their spans."""
    folder = tmp_path_factory.mktemp("moving")
    voice = espeak_speech(HOOK_SCRIPT, folder / "voice.wav")
    pictures = [_marked(folder / "blue.png", "1600x1200", "0x2040C0"),
                _marked(folder / "green.png", "1600x1200", "0x20A040")]  # fmt: skip
    out = folder / "moving.mp4"
    render_short(voice.audio_path, voice.duration, voice.cues, pictures, out)
    return out, voice, image_spans(pictures, voice.duration, voice.cues)


def test_each_picture_moves_and_in_its_own_direction(moving: tuple[Path, Speech, list]) -> None:
    out, _, spans = moving
    travel = []
    for start, end in spans:  # the red mark's top-left corner, early and late in its span
        early, late = start + DISSOLVE_S, end - DISSOLVE_S - LOOP_S
        (_, x0, y0, *_), (_, x1, y1, *_) = (
            where(rgb_frame(out, at), (255, 0, 0)) for at in (early, late)
        )
        assert (x0, y0) != (x1, y1)  # the Ken Burns moves it
        travel.append((x1 - x0, y1 - y0))
    assert travel[0] != travel[1]  # ...and not the same way twice
    assert len({m for m in MOVES}) == len(MOVES)
    # The first goes straight in, about the frame's centre: its top-left mark moves out,
    # up and to the left (anchored at the corner it would move down and right).
    assert MOVES[0] == ((0.5, 0.5), (0.5, 0.5))
    assert travel[0][0] < 0
    assert travel[0][1] < 0


def test_consecutive_pictures_dissolve_at_their_turn(moving: tuple[Path, Speech, list]) -> None:
    out, _, spans = moving
    turn = spans[1][0]
    blue, green = (0x20, 0x40, 0xC0), (0x20, 0xA0, 0x40)
    assert _near(_centre(rgb_frame(out, turn - DISSOLVE_S)), blue)
    assert _near(_centre(rgb_frame(out, turn + DISSOLVE_S)), green)
    _, g, b = _centre(rgb_frame(out, turn))  # both at once, half each
    assert 0x40 + 30 < b < 0xC0 - 30
    assert 0x40 + 30 < g < 0xA0 - 30
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-ss", f"{turn:.3f}", "-i", str(out), "-frames:v", "1",
            str(ARTIFACTS / "short-dissolve.png"))  # fmt: skip


def test_the_end_leads_back_into_the_opening_frame(
    moving: tuple[Path, Speech, list], tmp_path: Path
) -> None:
    out, voice, _ = moving
    last_at = voice.duration - 0.06  # its last frame
    first, last = gray_frame(out, 0), gray_frame(out, last_at)
    # The picture and its framing are the opening's; only the caption's words differ.
    assert mean_difference(first, last, (0, CAPTIONS_TOP)) < 2.0
    assert mean_difference(first, last) < 6.0
    before = gray_frame(out, voice.duration - LOOP_S - 0.1)  # the second picture, green
    assert mean_difference(first, before, (0, CAPTIONS_TOP)) > 10
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pair = ARTIFACTS / "short-first-and-last.png"
    _ffmpeg("-i", str(out), "-ss", f"{last_at:.3f}", "-i", str(out), "-filter_complex",
            "[0:v]trim=end_frame=1,scale=540:960[a];[1:v]trim=end_frame=1,scale=540:960[b];"
            "[a][b]hstack", "-frames:v", "1", str(pair))  # fmt: skip
    # Turned off, the Short ends on its last picture.
    plain = tmp_path / "plain.mp4"
    render_short(voice.audio_path, voice.duration, voice.cues,
                 [p for p in sorted(out.parent.glob("*.png"))], plain, loop=False)  # fmt: skip
    ended = gray_frame(plain, last_at)
    assert mean_difference(gray_frame(plain, 0), ended, (0, CAPTIONS_TOP)) > 10
