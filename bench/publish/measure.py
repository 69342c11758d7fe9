"""The TikTok and Instagram measurements, the same for both: throughput side by side, and
the bytes each failure sends again, for the publisher and for the baseline."""

from __future__ import annotations

import contextlib
import functools
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from shared import META, MIB, FakeProcess, FileJournal, MemoryJournal, Meter, Platform, metered

from wagglebot.publish import ShortUpload, UploadJournal

WORKER = Path(__file__).with_name("worker.py")


@dataclass
class Upload:
    """What one upload cost: its time, and the upload bytes it handed to the connection."""

    seconds: float
    meter: Meter
    uploaded: str  # the id the fake knows the upload by


def publish(platform: Platform, video: Path, journal: UploadJournal | None = None,
            fast_retry: bool = False) -> Upload:  # fmt: skip
    publisher = platform.publisher(fast_retry)
    meter = Meter(platform)
    metered(publisher.http, meter)
    start = time.perf_counter()
    published = publisher.upload(ShortUpload(1, video, META), journal or MemoryJournal())
    return Upload(time.perf_counter() - start, meter, published.video_id)


def baseline(platform: Platform, video: Path, tries: int = 1) -> Upload:
    """The plain request; after a failure it starts over (a new session, the whole file),
    as a client with nothing to resume from does."""
    meter = Meter(platform)
    http = metered(requests.Session(), meter)
    start = time.perf_counter()
    uploaded = _until_done(platform, video, http, tries)
    return Upload(time.perf_counter() - start, meter, uploaded)


def _until_done(platform: Platform, video: Path, http: requests.Session, tries: int) -> str:
    for _ in range(tries - 1):
        with contextlib.suppress(requests.RequestException):  # nothing to resume: start over
            return platform.baseline(video, http)
    return platform.baseline(video, http)


def check(platform: Platform, fake: FakeProcess, upload: Upload, digest: str) -> None:
    sha = platform.arrived(fake, upload.uploaded)
    assert sha == digest, f"{platform.name}: upload {upload.uploaded} arrived damaged"


def mib_s(size: int, seconds: list[float]) -> float:
    return round(size / MIB / statistics.median(seconds), 1)


def throughput(platform: Platform, fake: FakeProcess, video: Path, digest: str,
               rounds: int) -> dict:  # fmt: skip
    size = video.stat().st_size
    whole: list[float] = []
    transfer: list[float] = []
    ceiling: list[float] = []
    for _ in range(rounds):  # alternating, so drift in the machine hits both alike
        ours = publish(platform, video)
        check(platform, fake, ours, digest)
        whole.append(ours.seconds)
        transfer.append(ours.meter.transfer_s())
        plain = baseline(platform, video)
        check(platform, fake, plain, digest)
        ceiling.append(plain.meter.transfer_s())
    rates = {"publisher": mib_s(size, whole), "publisher_transfer_only": mib_s(size, transfer),
             "baseline": mib_s(size, ceiling)}  # fmt: skip
    return {
        # Each request waits a round trip: what loopback leaves out (see the docstring of run.py).
        "requests": {"publisher": ours.meter.requests, "baseline": plain.meter.requests},
        "upload_requests": {"publisher": len(ours.meter.sent), "baseline": len(plain.meter.sent)},
        "median_seconds": {"publisher": round(statistics.median(whole), 3),
                           "publisher_transfer_only": round(statistics.median(transfer), 3),
                           "baseline": round(statistics.median(ceiling), 3)},
        "seconds_each_round": {"publisher": _rounded(whole), "baseline": _rounded(ceiling)},
        "mib_per_s": rates,
        "ratio_publisher_to_baseline": round(rates["publisher"] / rates["baseline"], 2),
        "ratio_transfer_only_to_baseline": round(
            rates["publisher_transfer_only"] / rates["baseline"], 2),
    }  # fmt: skip


def _rounded(seconds: list[float]) -> list[float]:
    return [round(s, 3) for s in seconds]


def cost(what: str, sent: list[int], size: int, seconds: float) -> dict:
    resent = sum(sent) - size
    return {"failure": what, "upload_requests": len(sent), "bytes_sent": sum(sent),
            "bytes_resent": resent, "resent_of_file": round(resent / size, 4),
            "seconds": round(seconds, 3)}  # fmt: skip


def side_by_side(ours: dict, plain: dict) -> dict:
    ratio = ours["bytes_resent"] / plain["bytes_resent"] if plain["bytes_resent"] else None
    return {"publisher": ours, "baseline": plain,
            "ratio_publisher_to_baseline": None if ratio is None else round(ratio, 3)}  # fmt: skip


def injected(platform: Platform, fake: FakeProcess, video: Path, digest: str,
             faults: tuple[dict, dict]) -> dict:  # fmt: skip
    """A fault the fake injects, once for the publisher, once for the baseline."""
    size = video.stat().st_size
    costs = []
    runs = (functools.partial(publish, fast_retry=True), functools.partial(baseline, tries=2))
    for fault, run in zip(faults, runs, strict=True):
        spec = {k: v for k, v in fault.items() if k != "what"}
        fake.fault(spec)
        upload = run(platform, video)
        check(platform, fake, upload, digest)
        costs.append(cost(fault["what"], upload.meter.sent, size, upload.seconds))
    fake.fault({})
    return side_by_side(*costs)


def killed(platform: Platform, fake: FakeProcess, folder: Path, video: Path,
           digest: str) -> dict:  # fmt: skip
    """A worker process SIGKILLed halfway through the file, then a new one: the publisher
    resumes from the journal the dead one left; the baseline has none and starts over."""
    size = video.stat().st_size
    costs = []
    for mode in ("publisher", "baseline"):
        journal, record = folder / f"{mode}.journal", folder / f"{mode}.sent"
        mark = len(fake.log(platform.upload_kind))
        proc = subprocess.run(
            [sys.executable, str(WORKER), platform.name, mode, "--url", platform.url,
             "--token-file", str(platform.token_file), "--video", str(video),
             "--journal", str(journal), "--record", str(record), "--kill-at", str(size // 2)],
            timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == -signal.SIGKILL, f"the {mode} worker did not die halfway"
        died = [int(n) for n in record.read_text().split()]
        _settled(fake, platform.upload_kind, mark + len(died))
        start = time.perf_counter()
        if mode == "publisher":
            upload = publish(platform, video, FileJournal(journal), fast_retry=True)
        else:
            upload = baseline(platform, video)
        check(platform, fake, upload, digest)
        what = f"worker killed after {size // 2:,} bytes; a new one {_how(mode)}"
        costs.append({
            **cost(what, died + upload.meter.sent, size, time.perf_counter() - start),
            "resumed_at_byte": upload.meter.firsts[0],
            # The dead worker put exactly its first size // 2 bytes on the wire: the
            # figure with only those counted, not its last request whole.
            "bytes_resent_exact": size // 2 + sum(upload.meter.sent) - size,
        })  # fmt: skip
    return side_by_side(*costs)


def _how(mode: str) -> str:
    return "resumes from its journal" if mode == "publisher" else "starts over"


def _settled(fake: FakeProcess, kind: str, requests_seen: int) -> None:
    """Wait until the fake has ended each request of the dead worker (its cut-off body
    read to the end), as it will have before a real retry comes minutes later."""
    deadline = time.monotonic() + 30
    while len(fake.log(kind)) < requests_seen:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake never saw the dead worker's requests end")
        time.sleep(0.05)


def bench(cls: type[Platform], folder: Path, video: Path, digest: str, rounds: int) -> dict:
    folder.mkdir()
    token_file = folder / "token.json"
    cls.write_token(token_file)
    fake = FakeProcess(cls.fake_module, folder, token_file)
    try:
        platform = cls(fake.url, token_file)
        platform.prepare(fake)
        size = video.stat().st_size
        result = {"file_mib": round(size / MIB, 2), "rounds": rounds,
                  **throughput(platform, fake, video, digest, rounds)}  # fmt: skip
        failures = {name: injected(platform, fake, video, digest, faults)
                    for name, faults in platform.faults(size).items()}  # fmt: skip
        failures["kill"] = killed(platform, fake, folder, video, digest)
        result["failures"] = failures
        return result
    finally:
        fake.stop()
