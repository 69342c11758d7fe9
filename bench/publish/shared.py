"""What the TikTok and Instagram benches share: the fake as its own process, the meter
that counts upload bytes on the client's side, a journal a killed worker leaves on disk,
and the platform interface each bench fills in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import requests
from requests import PreparedRequest
from requests.adapters import HTTPAdapter

from wagglebot.publish import Published, ShortUpload, UploadJournal
from wagglebot.publish.metadata import ShortMetadata

MIB = 2**20
META = ShortMetadata(title="벤치마크 업로드", description="bench/publish #Shorts")


def fake_command(module: str, *args: str) -> list[str]:
    """The command that runs a fake in its own process."""
    return [sys.executable, "-m", f"wagglebot_stack.{module}", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeProcess:
    """A loopback fake in its own process (the platform is another machine), steered
    through its /_fake/ endpoints."""

    def __init__(self, module: str, folder: Path, token_file: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        # Its stderr to a file: a client that dies mid-body leaves tracebacks there.
        self.errors = (folder / f"{module}.stderr").open("wb")
        self.proc = subprocess.Popen(
            fake_command(module, "--port", str(port), "--folder", str(folder / "received"),
                         "--token-file", str(token_file)),
            stdout=subprocess.DEVNULL, stderr=self.errors,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}_fake/log", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the fake {module} did not start")

    def get(self, path: str) -> Any:
        return requests.get(f"{self.url}_fake/{path}", timeout=30).json()

    def post(self, path: str, body: dict) -> Any:
        resp = requests.post(f"{self.url}_fake/{path}", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def fault(self, spec: dict) -> None:
        self.post("faults/clear", {})
        if spec:
            self.post("faults", spec)

    def log(self, kind: str) -> list[dict]:
        return self.get(f"log?kind={kind}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.errors.close()


class Meter(HTTPAdapter):
    """Counts the body bytes of the platform's upload requests as the client hands them
    to the connection, and times each request. A request cut off (a drop, a kill) counts
    whole: what of it left the machine depends on the network's buffers."""

    def __init__(self, platform: Platform, record: Path | None = None,
                 before: Callable[[PreparedRequest], None] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.platform, self.record, self.before = platform, record, before
        self.requests = 0  # every request through the session: each waits a round trip
        self.sent: list[int] = []
        self.firsts: list[int] = []  # the file's byte each upload request starts at
        self.spans: list[tuple[float, float]] = []

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests += 1
        if not self.platform.is_upload(request):
            return super().send(request, *args, **kwargs)
        size = len(request.body or b"")
        self.sent.append(size)
        self.firsts.append(self.platform.first_byte(request))
        if self.record:  # before the bytes go: a worker may die while sending them
            with self.record.open("a") as out:
                out.write(f"{size}\n")
        if self.before:
            self.before(request)
        start = time.perf_counter()
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self.spans.append((start, time.perf_counter()))

    def transfer_s(self) -> float:
        """From the first upload request's start to the last one's answer."""
        return self.spans[-1][1] - self.spans[0][0]


def metered(http: requests.Session, meter: Meter) -> requests.Session:
    http.mount("http://", meter)
    return http


class MemoryJournal:
    """An UploadJournal in memory, for a run that nothing resumes from disk."""

    def __init__(self, session_uri: str | None = None) -> None:
        self.session_uri = session_uri

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.session_uri = session_uri

    def progressed(self, bytes_sent: int) -> None:
        pass

    def gone(self) -> None:
        self.session_uri = None


class FileJournal:
    """An UploadJournal kept in a file, as the database keeps it: a worker killed mid-upload
    leaves its session there for the next one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def session_uri(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def started(self, session_uri: str, total_bytes: int) -> None:
        self.path.write_text(session_uri)

    def progressed(self, bytes_sent: int) -> None:
        pass

    def gone(self) -> None:
        self.path.unlink(missing_ok=True)


class Uploader(Protocol):
    http: requests.Session

    def upload(self, short: ShortUpload, journal: UploadJournal) -> Published: ...


class Platform(ABC):
    """One platform's bench: its fake, publisher, baseline and failures."""

    name: ClassVar[str]
    fake_module: ClassVar[str]
    upload_kind: ClassVar[str]  # the fake's log kind for an upload request

    def __init__(self, url: str, token_file: Path) -> None:
        self.url, self.token_file = url, token_file

    @staticmethod
    @abstractmethod
    def write_token(path: Path) -> None:
        """The grant the fake is started with (the sample mode's shape)."""

    @abstractmethod
    def prepare(self, fake: FakeProcess) -> None:
        """The fake told to finish processing at once and to lift its daily caps."""

    @abstractmethod
    def faults(self, size: int) -> dict[str, tuple[dict, dict]]:
        """Each failure the fake injects: (its fault for the publisher, for the baseline)."""

    @abstractmethod
    def publisher(self, fast_retry: bool) -> Uploader:
        """The publisher as production makes it (``fast_retry``: 0.01 s backoff)."""

    @abstractmethod
    def baseline(self, video: Path, http: requests.Session) -> str:
        """One plain request with the whole file (after the call that opens the session);
        its session's id. Raises on any failure: it has nothing to resume."""

    @staticmethod
    @abstractmethod
    def is_upload(request: PreparedRequest) -> bool: ...

    @staticmethod
    @abstractmethod
    def first_byte(request: PreparedRequest) -> int:
        """Which byte of the file an upload request's body starts at."""

    @abstractmethod
    def arrived(self, fake: FakeProcess, uploaded: str) -> str:
        """The sha256 of what the fake holds for an upload (a Published id or a baseline's
        session id)."""


def platform_named(name: str) -> type[Platform]:
    import instagram
    import tiktok

    return {"tiktok": tiktok.TikTok, "instagram": instagram.Instagram}[name]
