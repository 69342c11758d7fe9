"""Text to speech with timings for the subtitles.

espeak-ng is the offline engine: it needs no network and no model. It speaks
one sentence at a time (long unpunctuated Korean gets truncated otherwise), and
the measured length of each sentence's audio gives that subtitle's cue.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from wagglebot.produce.stages.speech_text import sentences

GAP_SECONDS = 0.15  # silence between sentences


class TTSError(RuntimeError):
    pass


class NothingToSay(TTSError):
    """The script has nothing speakable: no retry can fix that."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Cue:
    """A sentence as written, and when it is spoken; ``words``: when each of its written
    words is spoken, where the engine says (edge-tts word boundaries; espeak gives none)."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> Cue:
        """A cue as voice.json keeps it (dataclasses.asdict)."""
        words = tuple(Word(**w) for w in data.get("words") or ())
        return cls(data["start"], data["end"], data["text"], words)


@dataclass(frozen=True)
class Speech:
    audio_path: Path
    duration: float
    cues: list[Cue]
    engine: str


def espeak_speech(
    script: str,
    out_path: Path,
    *,
    voice: str = "ko",
    words_per_minute: int = 175,
    timeout: float = 60,
) -> Speech:
    """Speak ``script`` into a WAV at ``out_path`` (written atomically) with sentence cues."""
    binary = shutil.which("espeak-ng")
    if not binary:
        raise TTSError("espeak-ng is not installed (Debian package espeak-ng)")
    parts = sentences(script)
    if not parts:
        raise NothingToSay("the script has nothing to say (empty, or only emoji and links)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    params, chunks = None, []
    with tempfile.TemporaryDirectory(prefix=f".{out_path.stem}-speak-", dir=out_path.parent) as tmp:
        for i, sentence in enumerate(parts):
            part = Path(tmp) / f"{i:03d}.wav"
            done = subprocess.run(
                [binary, "-v", voice, "-s", str(words_per_minute), "-w", str(part), "--stdin"],
                input=sentence.spoken,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if done.returncode != 0 or not part.exists():
                raise TTSError(f"espeak-ng failed on sentence {i + 1}: {done.stderr.strip()}")
            with wave.open(str(part)) as w:
                if params is None:
                    params = w.getparams()
                elif w.getparams()[:3] != params[:3]:
                    raise TTSError("espeak-ng changed its audio format between sentences")
                chunks.append(w.readframes(w.getnframes()))
        assert params is not None
        rate, width = params.framerate, params.sampwidth * params.nchannels
        silence = b"\0" * (round(GAP_SECONDS * rate) * width)
        cues, at = [], 0.0
        staging = Path(tmp) / "speech.wav"
        with wave.open(str(staging), "wb") as out:
            out.setnchannels(params.nchannels)
            out.setsampwidth(params.sampwidth)
            out.setframerate(rate)
            for i, (sentence, frames) in enumerate(zip(parts, chunks, strict=True)):
                if i:
                    out.writeframes(silence)
                    at += GAP_SECONDS
                length = len(frames) / width / rate
                cues.append(Cue(round(at, 3), round(at + length, 3), sentence.display))
                out.writeframes(frames)
                at += length
        os.replace(staging, out_path)
    return Speech(out_path, round(at, 3), cues, engine="espeak-ng")
