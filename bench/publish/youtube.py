"""YouTube's part of the publish bench (as it was first written): the publisher with
8 MiB and 1 MiB chunks against google-api-python-client's one-shot upload, and what a
503, a dropped connection and a worker that died halfway cost."""

from __future__ import annotations

import contextlib
import hashlib
import statistics
import subprocess
import time
from pathlib import Path

import requests
from googleapiclient.http import MediaFileUpload
from shared import META, MIB, MemoryJournal, fake_command, free_port

from wagglebot.publish import PublishError, ShortUpload
from wagglebot.publish.credentials import credentials_from, save_token
from wagglebot.publish.youtube import YouTubePublisher, youtube_service


class Fake:
    """The fake YouTube as its own process."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        token = folder / "token.json"
        self.info = {
            "refresh_token": "bench-refresh",
            "client_id": "bench",
            "client_secret": "bench",
        }
        save_token(self.info, token)
        self.proc = subprocess.Popen(
            fake_command("fake_youtube", "--port", str(self.port),
                         "--folder", str(folder / "received"), "--token-file", str(token)),
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


def _wire(fake: Fake, since: int) -> int:
    """Bytes the client put on the wire for uploads since log entry ``since``."""
    return sum(e.get("wire", 0) for e in fake.log()[since:])


def ours(fake: Fake, video: Path, chunk_mib: int) -> float:
    publisher = YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk_mib * MIB)
    t0 = time.perf_counter()
    publisher.upload(ShortUpload(1, video, META), MemoryJournal())
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
    journal = MemoryJournal()
    dying = YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk, retries=0)
    with contextlib.suppress(PublishError):  # it gives up: the worker is "dead"
        dying.upload(ShortUpload(1, video, META), journal)
    _clear_faults(fake)
    t0 = time.perf_counter()
    YouTubePublisher(fake.credentials(), api_url=fake.url, chunk_bytes=chunk).upload(
        ShortUpload(1, video, META), MemoryJournal(journal.session_uri)
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


def bench(folder: Path, video: Path, rounds: int) -> dict:
    data = video.read_bytes()
    size, digest = len(data), hashlib.sha256(data).hexdigest()
    fake = Fake(folder)
    try:
        modes = {
            "wagglebot": lambda: ours(fake, video, 8),
            "wagglebot-1mib": lambda: ours(fake, video, 1),
            "one-shot": lambda: one_shot(fake, video),
        }
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for mode, run in modes.items():
                times[mode].append(run())
        videos = fake.videos()
        assert all(v["sha256"] == digest for v in videos), "a video arrived damaged"
        failures = failure_costs(fake, video, size)
    finally:
        fake.stop()
    mibs = {m: round(size / MIB / statistics.median(t), 1) for m, t in times.items()}
    return {
        "file_mib": round(size / MIB, 2),
        "rounds": rounds,
        "median_seconds": {m: round(statistics.median(t), 3) for m, t in times.items()},
        "mib_per_s": mibs,
        "ratio_wagglebot_to_one_shot": round(mibs["wagglebot"] / mibs["one-shot"], 2),
        "ratio_1mib_to_one_shot": round(mibs["wagglebot-1mib"] / mibs["one-shot"], 2),
        "failure_overhead": failures,
    }
