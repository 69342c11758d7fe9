"""Benchmark: upload throughput to the loopback fake YouTube, and what resuming costs.

    .venv/bin/python bench/publish/run.py [--mib 64] [--rounds 3]

The fake runs in its own process (as YouTube is another machine), on loopback, and
writes what it receives to disk. Side by side, rounds alternating, the same file:

- wagglebot: the publisher as production runs it (resumable, 8 MiB chunks, the
  session kept in a journal, progress per chunk);
- wagglebot-1mib: the same with 1 MiB chunks (what smaller chunks cost);
- one-shot: google-api-python-client's default, ``MediaFileUpload(path)`` without
  resumable=True: one multipart request with the metadata and the whole video
  (nothing to resume: a failure means sending it all again).

Then the overhead of a failure: a 503 on the fourth chunk, a connection dropped in
the middle of the fourth chunk, and a worker that dies after half the file and a
new publisher that resumes from the journal: bytes put on the wire beyond the file's
size, against the one-shot upload's cost of the same failure (the whole file again).
Results go to bench/results/publish.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from googleapiclient.http import MediaFileUpload

from wagglebot.publish import PublishError, ShortUpload
from wagglebot.publish.credentials import credentials_from, save_token
from wagglebot.publish.metadata import ShortMetadata
from wagglebot.publish.youtube import YouTubePublisher, youtube_service

REPO = Path(__file__).resolve().parents[2]
META = ShortMetadata(title="벤치마크 업로드", description="bench/publish #Shorts")
MIB = 2**20


class Journal:
    def __init__(self, session_uri: str | None = None) -> None:
        self.session_uri = session_uri

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.session_uri = session_uri

    def progressed(self, bytes_sent: int) -> None:
        pass

    def gone(self) -> None:
        self.session_uri = None


class Fake:
    """The fake YouTube as its own process."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        token = folder / "token.json"
        self.info = {
            "refresh_token": "bench-refresh",
            "client_id": "bench",
            "client_secret": "bench",
        }
        save_token(self.info, token)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wagglebot_stack.fake_youtube", "--port", str(self.port),
             "--folder", str(folder / "received"), "--token-file", str(token)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}_fake/videos", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the fake did not start")

    def credentials(self):  # google.oauth2.credentials.Credentials
        return credentials_from(self.info, f"{self.url}token")

    def log(self) -> list[dict]:
        return requests.get(f"{self.url}_fake/log", timeout=10).json()

    def videos(self) -> list[dict]:
        return requests.get(f"{self.url}_fake/videos", timeout=10).json()

    def fault(self, **spec: object) -> None:
        requests.post(f"{self.url}_fake/faults", json=spec, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wire(fake: Fake, since: int) -> int:
    """Bytes the client put on the wire for uploads since log entry ``since``."""
    return sum(e.get("wire", 0) for e in fake.log()[since:])


def ours(fake: Fake, video: Path, chunk_mib: int) -> float:
    publisher = YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk_mib * MIB)
    t0 = time.perf_counter()
    publisher.upload(ShortUpload(1, video, META), Journal())
    return time.perf_counter() - t0


def one_shot(fake: Fake, video: Path) -> float:
    service = youtube_service(fake.credentials(), fake.url)
    t0 = time.perf_counter()
    service.videos().insert(
        part="snippet,status",
        body=META.youtube_body(),
        media_body=MediaFileUpload(str(video), mimetype="video/mp4"),
    ).execute()
    return time.perf_counter() - t0


def failure_costs(fake: Fake, video: Path, size: int) -> dict[str, dict]:
    out = {}
    chunk = 8 * MIB
    for name, spec in (
        ("503 on chunk 4", {"on": "chunk", "nth": 4, "status": 503}),
        ("connection dropped in chunk 4", {"on": "chunk", "nth": 4, "drop": True}),
    ):
        _clear_faults(fake)
        mark = len(fake.log())
        fake.fault(**spec)
        seconds = ours(fake, video, 8)
        resent = _wire(fake, mark) - size
        out[name] = {"seconds": round(seconds, 3), "bytes_resent": resent,
                     "resent_of_file": round(resent / size, 4)}  # fmt: skip
    # A worker that dies mid-upload: every chunk after the half fails (as if the process
    # were gone), then a new publisher resumes from the journal.
    _clear_faults(fake)
    mark = len(fake.log())
    fake.fault(on="chunk", nth=size // chunk // 2 + 1, status=503, every=True)
    journal = Journal()
    dying = YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk, retries=0)
    with contextlib.suppress(PublishError):  # it gives up: the worker is "dead"
        dying.upload(ShortUpload(1, video, META), journal)
    _clear_faults(fake)
    t0 = time.perf_counter()
    YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk).upload(
        ShortUpload(1, video, META), Journal(journal.session_uri)
    )
    resent = _wire(fake, mark) - size
    out["worker died halfway, resumed by a new one"] = {
        "seconds": round(time.perf_counter() - t0, 3),
        "bytes_resent": resent,
        "resent_of_file": round(resent / size, 4),
    }
    # The one-shot upload has no session: any failure sends the whole file again.
    out["one-shot, any failure"] = {"bytes_resent": size, "resent_of_file": 1.0}
    return out


def _clear_faults(fake: Fake) -> None:
    requests.post(f"{fake.url}_fake/faults/clear", timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the test video")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        folder = Path(tmp)
        video = folder / "short.mp4"
        data = os.urandom(args.mib * MIB + 12_345)  # not a multiple of a chunk, as in life
        video.write_bytes(data)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
        fake = Fake(folder)
        try:
            modes = {
                "wagglebot": lambda: ours(fake, video, 8),
                "wagglebot-1mib": lambda: ours(fake, video, 1),
                "one-shot": lambda: one_shot(fake, video),
            }
            times: dict[str, list[float]] = {m: [] for m in modes}
            for _ in range(args.rounds):
                for mode, run in modes.items():
                    times[mode].append(run())
            videos = fake.videos()
            assert all(v["sha256"] == digest for v in videos), "a video arrived damaged"
            failures = failure_costs(fake, video, size)
        finally:
            fake.stop()
    mibs = {m: round(size / MIB / statistics.median(t), 1) for m, t in times.items()}
    result = {
        "file_mib": round(size / MIB, 2),
        "rounds": args.rounds,
        "median_seconds": {m: round(statistics.median(t), 3) for m, t in times.items()},
        "mib_per_s": mibs,
        "ratio_wagglebot_to_one_shot": round(mibs["wagglebot"] / mibs["one-shot"], 2),
        "ratio_1mib_to_one_shot": round(mibs["wagglebot-1mib"] / mibs["one-shot"], 2),
        "failure_overhead": failures,
    }
    out = REPO / "bench" / "results" / "publish.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
