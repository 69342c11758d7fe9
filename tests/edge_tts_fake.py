"""A loopback stand-in for Microsoft's Edge read-aloud TTS service, for the real edge-tts client.

It speaks the service's websocket protocol as edge-tts 7.x expects it:

* handshake at ``/consumer/speech/synthesize/readaloud/edge/v1`` with ``TrustedClientToken``,
  ``Sec-MS-GEC`` and ``ConnectionId`` in the query;
* the client sends two text messages, ``Path:speech.config`` (JSON: which boundaries it wants,
  the output format) and ``Path:ssml`` (``<voice name=...><prosody ...>text</prosody>``);
* the service answers ``Path:turn.start`` and ``Path:response`` text messages, then per word an
  ``Path:audio.metadata`` text message (``WordBoundary`` with Offset/Duration in 100 ns ticks)
  and binary audio frames (2-byte big-endian header length, headers ending in ``Path:audio``,
  then MP3 bytes), an empty binary frame without Content-Type, and ``Path:turn.end``.

The audio is real MP3 in the service's format (24 kHz mono 48 kbit/s CBR, raw frames with no
Xing header, as a stream has): one tone per word whose length follows the word's syllables, so
offsets, durations and the decoded audio agree.

Failure modes (``fail``), for the next N connections or for all of them: ``forbidden`` (HTTP 403
at the handshake), ``drop`` (close the websocket cleanly halfway through the audio), ``reset``
(abort the TCP connection halfway through), ``stall`` (stop sending halfway through and wait
for the client to give up), ``silent`` (turn.start, response, turn.end and no audio),
``garbled`` (a metadata message that is not JSON).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import threading
import uuid
from array import array
from dataclasses import dataclass, field
from html import unescape
from typing import Literal

from aiohttp import web

PATH = "/consumer/speech/synthesize/readaloud/edge/v1"
RATE = 24_000
BYTES_PER_SECOND = 48_000 // 8
TICKS = 10_000_000
LEAD, WORD_GAP, SENTENCE_GAP, TAIL = 0.10, 0.06, 0.30, 0.15
SYLLABLE_SECONDS = 0.07

Mode = Literal["forbidden", "drop", "reset", "stall", "silent", "garbled"]

_VOICE = re.compile(r"<voice name='([^']*)'>")
_PROSODY = re.compile(
    r"<prosody pitch='([^']*)' rate='([^']*)' volume='([^']*)'>(.*)</prosody>", re.S
)
_LONG_VOICE = re.compile(r"^Microsoft Server Speech Text to Speech Voice \((\w+-[\w-]+), (\w+)\)$")
_GEC = re.compile(r"^[0-9A-F]{16}-[0-9A-F]{64}$")
_PUNCTUATION = ".,!?…:;\"'"


@dataclass
class Request:
    """What one websocket connection asked for."""

    query: dict[str, str]
    boundary: str = ""  # "WordBoundary" or "SentenceBoundary", from speech.config
    output_format: str = ""
    voice: str = ""  # short name, e.g. ko-KR-SunHiNeural
    rate: str = ""
    text: str = ""  # the SSML's text, unescaped
    audio_seconds: float = 0.0  # length of the audio it was given (before MP3 framing)
    words: list[str] = field(default_factory=list)  # the boundaries it was sent


@dataclass(frozen=True)
class _Word:
    text: str
    start: float
    end: float
    sentence_end: bool


def _short_voice(name: str) -> str:
    match = _LONG_VOICE.match(name)
    return f"{match.group(1)}-{match.group(2)}" if match else name


def _headers_and_body(message: str) -> tuple[dict[str, str], str]:
    head, _, body = message.partition("\r\n\r\n")
    headers = dict(line.split(":", 1) for line in head.split("\r\n") if ":" in line)
    return headers, body


def _layout(text: str) -> list[_Word]:
    """Word timings: a lead-in, one tone per word, short gaps, longer pauses after sentences."""
    words, at = [], LEAD
    for token in text.split():
        spoken = token.strip(_PUNCTUATION)
        if not spoken:
            continue
        length = 0.08 + SYLLABLE_SECONDS * len(spoken)
        ends_sentence = token.rstrip("\"'")[-1:] in ".!?…"
        words.append(_Word(spoken, at, at + length, ends_sentence))
        at += length + (SENTENCE_GAP if ends_sentence else WORD_GAP)
    return words


def _mp3(words: list[_Word]) -> tuple[bytes, float]:
    """The words as tones, encoded like the service's audio-24khz-48kbitrate-mono-mp3."""
    seconds = (words[-1].end if words else 0.5) + TAIL
    pcm = array("h", bytes(2 * round(seconds * RATE)))
    for i, word in enumerate(words):
        pitch = 220 + 40 * (i % 5)
        first, last = round(word.start * RATE), round(word.end * RATE)
        for n in range(first, last):
            pcm[n] = int(8000 * math.sin(2 * math.pi * pitch * n / RATE))
    done = subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0"),
            *("-c:a", "libmp3lame", "-b:a", "48k", "-write_xing", "0", "-id3v2_version", "0"),
            *("-f", "mp3", "pipe:1"),
        ],
        input=pcm.tobytes(),
        capture_output=True,
        check=True,
    )
    return done.stdout, seconds


class EdgeTTSFake:
    """The fake service on 127.0.0.1 (a free port), served from a background thread."""

    def __init__(self) -> None:
        self.requests: list[Request] = []  # every handshake, refused ones included
        self.errors: list[str] = []  # protocol violations by the client, or the fake's own bugs
        self.skip_words: set[str] = set()  # words whose boundaries are not reported
        self._failures: list[Mode] = []
        self._always: Mode | None = None
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """What edge-tts's ``WSS_URL`` should be (it appends the rest of the query itself)."""
        return (
            f"ws://127.0.0.1:{self.port}{PATH}?TrustedClientToken=6A5AA1D4EAFF4E9FB37E23D68491D6F4"
        )

    @property
    def connections(self) -> int:
        return len(self.requests)

    def fail(self, mode: Mode, times: int | None = None) -> None:
        """Fail the next ``times`` connections this way (all of them when ``times`` is None)."""
        if times is None:
            self._always = mode
        else:
            self._failures.extend([mode] * times)

    def start(self) -> EdgeTTSFake:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake edge-tts service did not start")
        return self

    def stop(self) -> None:
        if self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> EdgeTTSFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def _next_mode(self) -> Mode | None:
        return self._failures.pop(0) if self._failures else self._always

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        record = Request(query=dict(request.query))
        self.requests.append(record)
        mode = self._next_mode()
        missing = [
            k
            for k in ("TrustedClientToken", "Sec-MS-GEC", "ConnectionId")
            if k not in request.query
        ]
        if missing or not _GEC.match(request.query.get("Sec-MS-GEC", "")):
            self.errors.append(f"bad query: missing {missing}, {dict(request.query)}")
            return web.Response(status=400, text="bad query")
        if mode == "forbidden":
            return web.Response(status=403, text="Forbidden")  # aiohttp adds the Date header
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            await self._converse(ws, request, record, mode)
        except Exception as error:  # reported to the test through .errors, not swallowed
            self.errors.append(f"{type(error).__name__}: {error}")
        await ws.close()  # a no-op when already closed
        return ws

    async def _converse(
        self, ws: web.WebSocketResponse, request: web.Request, record: Request, mode: Mode | None
    ) -> None:
        headers, body = _headers_and_body(await ws.receive_str())
        if headers.get("Path") != "speech.config":
            raise ValueError(f"expected speech.config first, got {headers}")
        options = json.loads(body)["context"]["synthesis"]["audio"]
        flags = options["metadataoptions"]
        record.output_format = options["outputFormat"]
        record.boundary = (
            "WordBoundary" if flags["wordBoundaryEnabled"] == "true" else "SentenceBoundary"
        )
        headers, ssml = _headers_and_body(await ws.receive_str())
        if headers.get("Path") != "ssml":
            raise ValueError(f"expected ssml second, got {headers}")
        voice, prosody = _VOICE.search(ssml), _PROSODY.search(ssml)
        if not voice or not prosody:
            raise ValueError(f"unreadable SSML: {ssml}")
        record.voice, record.rate = _short_voice(voice.group(1)), prosody.group(2)
        record.text = unescape(prosody.group(4))
        rid, stream = headers["X-RequestId"], uuid.uuid4().hex.upper()

        async def text(path: str, payload: object) -> None:
            await ws.send_str(
                f"X-RequestId:{rid}\r\nContent-Type:application/json; charset=utf-8\r\n"
                f"Path:{path}\r\n\r\n{json.dumps(payload, ensure_ascii=False)}"
            )

        async def audio(data: bytes) -> None:
            kind = "Content-Type:audio/mpeg\r\n" if data else ""
            head = f"X-RequestId:{rid}\r\n{kind}X-StreamId:{stream}\r\nPath:audio\r\n".encode()
            await ws.send_bytes(len(head).to_bytes(2, "big") + head + data)

        await text("turn.start", {"context": {"serviceTag": stream}})
        await text(
            "response",
            {"context": {"serviceTag": stream}, "audio": {"type": "inline", "streamId": stream}},
        )
        if mode == "silent":
            await text("turn.end", {})
            return
        if mode == "garbled":
            await ws.send_str(f"X-RequestId:{rid}\r\nPath:audio.metadata\r\n\r\n{{not json")
            await ws.receive()  # the client hangs up
            return
        words = _layout(record.text)
        mp3, record.audio_seconds = await asyncio.get_running_loop().run_in_executor(
            None, _mp3, words
        )
        sent = 0
        for i, (word, boundary) in enumerate(
            zip(words, _boundaries(words, record.boundary), strict=True)
        ):
            if mode in ("drop", "reset", "stall") and i >= len(words) // 2 and sent:
                if mode == "reset" and request.transport:
                    request.transport.abort()
                elif mode == "stall":
                    await ws.receive()  # returns when the client hangs up
                await ws.close()
                return
            if boundary and word.text not in self.skip_words:
                record.words.append(boundary["Data"]["text"]["Text"])
                await text("audio.metadata", {"Metadata": [boundary]})
            upto = min(len(mp3), round(word.end * BYTES_PER_SECOND))
            for at in range(sent, upto, 2048):  # frames of at most 2 KiB
                await audio(mp3[at : min(at + 2048, upto)])
            sent = max(sent, upto)
        for at in range(sent, len(mp3), 2048):
            await audio(mp3[at : at + 2048])
        await audio(b"")  # the service ends its audio with an empty frame without Content-Type
        await text("turn.end", {})


def _boundaries(words: list[_Word], kind: str) -> list[dict[str, object] | None]:
    """A WordBoundary per word, or a SentenceBoundary at each sentence's last word."""

    def entry(text: str, start: float, end: float) -> dict[str, object]:
        return {
            "Type": kind,
            "Data": {
                "Offset": round(start * TICKS),
                "Duration": round((end - start) * TICKS),
                "text": {"Text": text, "Length": len(text), "BoundaryType": kind},
            },
        }

    if kind == "WordBoundary":
        return [entry(w.text, w.start, w.end) for w in words]
    result: list[dict[str, object] | None] = []
    first = 0
    for i, word in enumerate(words):
        if word.sentence_end or i == len(words) - 1:
            said = words[first : i + 1]
            result.append(entry(" ".join(w.text for w in said), said[0].start, word.end))
            first = i + 1
        else:
            result.append(None)
    return result
