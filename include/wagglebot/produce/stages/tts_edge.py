"""Text to speech with Microsoft Edge's online neural voices (the edge-tts client).

The whole script goes to the service in one request, so the voice keeps one
intonation across sentences; the word boundaries the service reports are mapped
back onto the script's sentences to time each subtitle. The service's MP3 is
decoded to a mono 16-bit WAV so that later stages get the same format whichever
engine spoke.

``edge_speech`` is synchronous: it runs its own event loop (``asyncio.run``), so
call it from plain code such as an Airflow task, not from inside a running loop.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from wagglebot.produce.stages.speech_text import Sentence, sentences
from wagglebot.produce.stages.tts import Cue, NothingToSay, Speech, TTSError, Word

if TYPE_CHECKING:
    import edge_tts

DEFAULT_VOICE = "ko-KR-SunHiNeural"
TICKS_PER_SECOND = 10_000_000  # the service's offsets and durations are in 100 ns ticks


class StreamCut(ConnectionError):
    """The service's stream ended before its turn.end: the audio is truncated."""


@dataclass(frozen=True)
class _Word:
    text: str
    start: float  # seconds
    end: float


def edge_speech(
    script: str,
    out_path: Path,
    *,
    voice: str = DEFAULT_VOICE,
    rate: str = "+0%",
    attempts: int = 3,
    timeout: float = 60,
    backoff: float = 1.0,
    proxy: str | None = None,
) -> Speech:
    """Speak ``script`` into a WAV at ``out_path`` (written atomically) with sentence cues.

    ``attempts`` bounds the tries against network trouble, waiting ``backoff`` seconds
    before the second, twice that before the third, and so on; ``timeout`` bounds each
    try. Raises ``TTSError`` (``NothingToSay`` for a script with nothing speakable).
    """
    import aiohttp
    import edge_tts
    from edge_tts.exceptions import EdgeTTSException

    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    parts = sentences(script)
    if not parts:
        raise NothingToSay("the script has nothing to say (empty, or only emoji and links)")
    if not shutil.which("ffmpeg"):
        raise TTSError("ffmpeg is not installed (needed to decode the service's MP3)")
    text = " ".join(s.spoken for s in parts)
    seconds = max(1, math.ceil(timeout))  # edge-tts wants whole seconds

    def communicate() -> edge_tts.Communicate:
        return edge_tts.Communicate(
            text,
            voice,
            rate=rate,
            boundary="WordBoundary",
            proxy=proxy,
            connect_timeout=min(seconds, 10),
            receive_timeout=seconds,
        )

    try:
        communicate()  # checks voice and rate now: no retry can fix a bad one
    except (TypeError, ValueError) as error:
        raise TTSError(f"invalid edge-tts settings: {error}") from error
    # What a retry can fix: the network, the service's hiccups, a stream cut short.
    # ClientError covers refused connections and handshake errors such as HTTP 403.
    retryable = (aiohttp.ClientError, TimeoutError, ConnectionError, EdgeTTSException)
    mp3, words = asyncio.run(_with_retries(communicate, attempts, timeout, backoff, retryable))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    duration = _mp3_to_wav(mp3, out_path, timeout)
    cues = _cues(parts, text, words, duration)
    return Speech(out_path, round(duration, 3), cues, engine=f"edge-tts:{voice}")


async def _with_retries(
    communicate: Callable[[], edge_tts.Communicate],
    attempts: int,
    timeout: float,
    backoff: float,
    retryable: tuple[type[BaseException], ...],
) -> tuple[bytes, list[_Word]]:
    causes: list[str] = []
    for attempt in range(1, attempts + 1):
        try:
            return await asyncio.wait_for(_speak_once(communicate()), timeout)
        except retryable as error:
            causes.append(f"{attempt}) {type(error).__name__}: {_describe(error, timeout)}")
            if attempt == attempts:
                raise TTSError(
                    f"edge-tts failed after {attempts} attempts: " + "; ".join(causes)
                ) from error
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
        except Exception as error:  # a reply this client cannot read: retrying won't help
            raise TTSError(
                f"edge-tts failed on attempt {attempt}: {type(error).__name__}: {error}"
            ) from error
    raise AssertionError("unreachable")


def _describe(error: BaseException, timeout: float) -> str:
    import aiohttp

    if isinstance(error, aiohttp.ClientResponseError):
        # Its str() ends with the URL, whose query carries the Sec-MS-GEC token: leave it out.
        return f"HTTP {error.status} {error.message}"
    if isinstance(error, TimeoutError) and not str(error):
        return f"no answer within {timeout:g} s"
    return str(error) or "(no message)"


async def _speak_once(communicate: edge_tts.Communicate) -> tuple[bytes, list[_Word]]:
    audio, words = bytearray(), []
    async for chunk in communicate.stream():
        if chunk["type"] == "audio":
            audio += chunk["data"]
        elif chunk["type"] == "WordBoundary":
            start = chunk["offset"] / TICKS_PER_SECOND
            words.append(_Word(chunk["text"], start, start + chunk["duration"] / TICKS_PER_SECOND))
    # edge-tts ends its stream quietly when the socket closes before turn.end. It adds a
    # turn's audio bytes to this count only at that turn's turn.end, so a shortfall means
    # a turn was cut off.
    finished = communicate.state.get("cumulative_audio_bytes", len(audio))
    if finished != len(audio):
        raise StreamCut(f"the stream stopped before turn.end, after {len(audio)} bytes of audio")
    return bytes(audio), words


def _mp3_to_wav(mp3: bytes, out_path: Path, timeout: float) -> float:
    """Decode to PCM s16le mono at the service's rate, atomically; the WAV's length."""
    with tempfile.TemporaryDirectory(prefix=f".{out_path.stem}-speak-", dir=out_path.parent) as tmp:
        staging = Path(tmp) / "speech.wav"
        done = subprocess.run(
            [
                *("ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0"),
                *("-ac", "1", "-c:a", "pcm_s16le", "-map_metadata", "-1", "-fflags", "+bitexact"),
                *("-f", "wav", str(staging)),
            ],
            input=mp3,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or not staging.exists():
            error = done.stderr.decode(errors="replace").strip()
            raise TTSError(f"ffmpeg could not decode the edge-tts audio: {error}")
        with wave.open(str(staging)) as w:
            frames, rate = w.getnframes(), w.getframerate()
        if not frames:
            raise TTSError("the edge-tts audio decoded to nothing")
        os.replace(staging, out_path)
    return frames / rate


def _written_words(
    sentence: Sentence, start_of: int, time_at: Callable[[int], float], start: float, end: float
) -> tuple[Word, ...]:
    """When each written word of a sentence is spoken. The service times the spoken form
    ("칠만 사천사백이십팔" for "74,428"), so a written word is placed at the same share of
    the sentence in the spoken text, and timed from the words around it there."""
    written = sentence.display.split()
    if not written:
        return ()
    spoken, shown = len(sentence.spoken), len(" ".join(written))
    out, at = [], 0
    for text in written:
        a = start_of + round(spoken * at / shown)
        b = start_of + round(spoken * (at + len(text)) / shown)
        w_start, w_end = min(max(time_at(a), start), end), min(max(time_at(b), start), end)
        out.append(Word(round(w_start, 3), round(max(w_end, w_start), 3), text))
        at += len(text) + 1
    return tuple(out)


def _cues(
    parts: Sequence[Sentence], text: str, words: Sequence[_Word], duration: float
) -> list[Cue]:
    """One cue per sentence, from the words the service reported inside it.

    Words are placed by searching for their text in the spoken text, in order; those
    not found (or only punctuation, which matches anywhere) are ignored. A sentence
    with no placed word is timed by interpolating linearly in character position
    between the nearest placed words (or the audio's start and end): the voice reads
    at a roughly even pace, and the subtitle still appears where it belongs.
    """
    placed: list[tuple[int, _Word]] = []
    cursor = 0
    for word in words:
        if not any(ch.isalnum() for ch in word.text):
            continue
        at = text.find(word.text, cursor)
        if at >= 0:
            placed.append((at, word))
            cursor = at + len(word.text)
    anchors = [(0, 0.0)]
    for at, word in placed:
        anchors += [(at, word.start), (at + len(word.text), word.end)]
    anchors.append((len(text), duration))
    positions = [p for p, _ in anchors]
    times = [min(t, duration) for _, t in anchors]
    for i in range(1, len(times)):  # boundaries can overlap a little: keep time non-decreasing
        times[i] = max(times[i], times[i - 1])

    def time_at(pos: int) -> float:
        i = min(max(bisect.bisect_right(positions, pos), 1), len(positions) - 1)
        (p0, t0), (p1, t1) = (positions[i - 1], times[i - 1]), (positions[i], times[i])
        return t0 if p1 == p0 else t0 + (t1 - t0) * (pos - p0) / (p1 - p0)

    cues, start_of, previous_end = [], 0, 0.0
    for sentence in parts:
        end_of = start_of + len(sentence.spoken)
        inside = [w for at, w in placed if start_of <= at < end_of]
        if inside:
            start, end = inside[0].start, max(w.end for w in inside)
        else:
            start, end = time_at(start_of), time_at(end_of)
        start = min(max(start, previous_end), duration)  # no overlap, never past the audio
        end = min(max(end, start), duration)
        timed = _written_words(sentence, start_of, time_at, start, end) if inside else ()
        cues.append(Cue(round(start, 3), round(end, 3), sentence.display, timed))
        previous_end = end
        start_of = end_of + 1  # the joining space
    return cues
