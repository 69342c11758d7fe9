"""Each platform's caption and file rules: checked before sending, refused with the reason,
and the file mended for a platform only when its rules need it (and said so)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from wagglebot.publish import PublishRejected
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.platform_rules import (
    AS_RENDERED,
    Adapted,
    adapt_video,
    check_caption,
    moov_first,
)

from youtube_support import short_file

CREDIT = "출처: 네이트판 https://pann.nate.com/talk/1"


def _streams(video: Path) -> list[dict]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(video)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"]


def test_a_rendered_short_goes_to_every_platform_as_it_is(tmp_path: Path) -> None:
    video, _ = short_file(tmp_path / "short.mp4", 4.0)
    assert moov_first(video)  # the render writes its index first (+faststart)
    for platform in ("youtube", "tiktok", "instagram"):
        assert adapt_video(video, platform, tmp_path / "copies") == Adapted(video, AS_RENDERED)
    assert not (tmp_path / "copies").exists()


def test_an_index_at_the_end_is_moved_for_instagram_without_a_re_encode(tmp_path: Path) -> None:
    video, _ = short_file(tmp_path / "short.mp4", 4.0, faststart=False)
    assert not moov_first(video)
    assert adapt_video(video, "tiktok", tmp_path).video == video  # TikTok takes it so
    sent = adapt_video(video, "instagram", tmp_path / "copies")
    assert sent.video != video
    assert moov_first(sent.video)
    assert "not re-encoded" in sent.how
    # The same streams, copied: codec, size and bit rate unchanged.
    keep = ("codec_name", "width", "height", "sample_rate", "nb_frames")
    before = [{k: s.get(k) for k in keep} for s in _streams(video)]
    assert [{k: s.get(k) for k in keep} for s in _streams(sent.video)] == before


def test_a_sound_over_48_khz_is_re_encoded_for_instagram_and_says_why(tmp_path: Path) -> None:
    video, _ = short_file(tmp_path / "short.mp4", 4.0, rate=96_000)
    sent = adapt_video(video, "instagram", tmp_path / "copies")
    assert sent.how == "re-encoded for instagram: sound at 96000 Hz, over 48000"
    [audio] = [s for s in _streams(sent.video) if s["codec_type"] == "audio"]
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "48000")
    assert moov_first(sent.video)
    assert adapt_video(video, "tiktok", tmp_path).video == video


def test_a_reel_too_short_is_refused_with_instagrams_range(tmp_path: Path) -> None:
    video, _ = short_file(tmp_path / "short.mp4", seconds=2.0)
    with pytest.raises(PublishRejected, match=r"instagram takes 3-900 s; the video lasts 2\.0 s"):
        adapt_video(video, "instagram", tmp_path)


def test_captions_over_a_platforms_limits_are_refused_before_sending() -> None:
    many = tuple(f"태그{i}" for i in range(31))  # with #Shorts: 32 hashtags
    metadata = ShortMetadata(title="고양이", description="", tags=many, credit=CREDIT)
    with pytest.raises(PublishRejected, match="instagram caption would be refused: 32 hashtags"):
        check_caption(metadata, "instagram")
    assert check_caption(metadata, "tiktok").count("#") == 32  # TikTok sets no such limit
    # The credit is never cut: a caption it cannot fit in is refused, with the count.
    long_credit = ShortMetadata(title="t", description="", credit="출처: " + "😀" * 1200)
    with pytest.raises(PublishRejected, match=r"tiktok caption would be refused: \d+ UTF-16"):
        check_caption(long_credit, "tiktok")
    # Within the limits the title gives way, the credit and the hashtags stay.
    fits = ShortMetadata(title="가" * 3000, description="", tags=("쇼츠",), credit=CREDIT)
    caption = check_caption(fits, "instagram")
    assert caption.endswith(f"{CREDIT}\n\n#쇼츠 #Shorts")
    assert len(caption) <= 2200
