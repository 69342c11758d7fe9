"""The HTTP plumbing the loopback fakes share (fake_youtube, fake_tiktok, fake_instagram).

Each fake is a threaded HTTP server on 127.0.0.1 whose handler keeps everything in one
state object: a lock, the faults tests set, and a log of what was asked and answered.
This module holds that much and no platform's protocol:

  Fault          a fault on the ``nth`` request of a kind (``every`` one from then on);
                 a fake subclasses it for its own fields and names its ``kinds``
  LoopbackState  the lock, the faults (``fault_for``) and the log, for a fake's state
  FakeServer     the ThreadingHTTPServer that carries the state
  FakeHandler    the request handler's helpers (_body, _send, _json, _record, dropping a
                 connection) and the shared steering endpoints: POST /_fake/faults,
                 /_fake/faults/clear, GET /_fake/log
  LoopbackFake   the object tests hold: start, stop, url, add_fault, clear_faults, log
  cli, serve     a fake's command line (sample mode runs each fake as its own process)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

JSON = "application/json; charset=UTF-8"
HTML = "text/html; charset=utf-8"


@dataclass
class Fault:
    """What to do to the ``nth`` request of a kind from now (and with ``every``, to each
    one after it). What ``status``, ``reason`` and ``drop`` mean is each fake's to say."""

    kinds: ClassVar[frozenset[str]] = frozenset()  # the kinds ``on`` may name; empty: any

    on: str
    nth: int = 1
    status: int | None = None  # answer with this HTTP status
    reason: str | None = None  # a reason from the fake's table
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0  # seconds before answering
    every: bool = False
    seen: int = 0  # requests of this kind since it was set

    def __post_init__(self) -> None:
        if self.kinds and self.on not in self.kinds:
            raise ValueError(f"no such kind of request: {self.on!r} (one of {sorted(self.kinds)})")


F = TypeVar("F", bound=Fault)


@dataclass(kw_only=True)  # keyword-only: a fake's own fields, defaults or not, come first
class LoopbackState(Generic[F]):
    """What a fake's handlers share; ``lock`` guards it all (a fake's own fields too)."""

    fault_type: ClassVar[type[Fault]] = Fault  # what add_fault builds: the fake's F

    faults: list[F] = field(default_factory=list)
    log: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_fault(self, **spec: Any) -> int:
        """A fault from its fields (ValueError or TypeError for a wrong one); how many now."""
        fault = cast(F, self.fault_type(**spec))
        with self.lock:
            self.faults.append(fault)
            return len(self.faults)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def fault_for(self, kind: str) -> F | None:
        """Count this request of ``kind`` against its faults, up to the first that is due,
        and return that one (a one-off fault is used up then), or None."""
        with self.lock:
            for fault in self.faults:
                if fault.on != kind:
                    continue
                fault.seen += 1
                if fault.seen == fault.nth or (fault.every and fault.seen > fault.nth):
                    if not fault.every:
                        self.faults.remove(fault)
                    return fault
        return None

    def entries(self, kind: str | None = None) -> list[dict]:
        """Copies of the log's entries (of one kind, if given), oldest first."""
        with self.lock:
            return [dict(e) for e in self.log if kind is None or e["kind"] == kind]


S = TypeVar("S", bound="LoopbackState[Any]")


class FakeServer(ThreadingHTTPServer, Generic[S]):
    daemon_threads = True  # a client that never hangs up must not keep the process alive
    state: S


class FakeHandler(BaseHTTPRequestHandler, Generic[S]):
    """A fake's request handler: a subclass adds do_GET/do_POST/do_PUT and its answers."""

    server: FakeServer[S]
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients under test expect
    # http.server writes an answer's headers and body apart: with Nagle's algorithm on,
    # each answer with a body waits for the client's delayed ACK (40 ms on Linux), a
    # stall of the fake's that a platform's front end does not have.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # the log is kept in state
        pass

    @property
    def state(self) -> S:
        return self.server.state

    @property
    def root(self) -> str:
        """The fake's root as the client addressed it, for URLs handed back."""
        host = self.headers.get("Host", f"127.0.0.1:{self.server.server_address[1]}")
        return f"http://{host}/"

    def _length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def _body(self) -> bytes:
        """The request's body: read it (once) before answering, or the connection, which
        is kept alive, would take its bytes for the next request."""
        return self.rfile.read(self._length())

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              kind: str = JSON) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), headers)

    def _html(self, status: int, page: str) -> None:
        self._send(status, page.encode(), kind=HTML)

    def _log_context(self) -> dict[str, object]:
        """What every log entry of this fake holds besides kind and status (never a secret)."""
        return {}

    def _record(self, kind: str, status: int, **extra: object) -> None:
        """A log entry; logged before the answer is sent, so a test may read it at once."""
        entry = {"kind": kind, "status": status, **self._log_context(), **extra}
        with self.state.lock:
            self.state.log.append(entry)

    def _hang_up(self, kind: str, **extra: object) -> None:
        """Close the connection unanswered (logged with status 0)."""
        self._record(kind, 0, dropped=True, **extra)
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def _drop_half(self, kind: str, **extra: object) -> None:
        """Read half of what the client sends, then hang up: a connection lost mid-body."""
        wire = self._length()
        self.rfile.read(wire // 2)
        self._hang_up(kind, wire=wire, **extra)

    # --- steering -------------------------------------------------------------------------

    def _steering(self, path: str, body: bytes = b"") -> bool:
        """Answer a /_fake/ request, if it is one: POST /_fake/faults (a Fault as JSON),
        /_fake/faults/clear, GET /_fake/log (?kind= for one kind), then the fake's own
        (``_steer``, ``_view``). A body the fake refuses gets 400 {"error"}. False when
        the path is none of these (the fake answers its own 404)."""
        if not path.startswith("/_fake/"):
            return False
        answer: object
        if self.command == "GET":
            if path == "/_fake/log":
                kinds = parse_qs(urlsplit(self.path).query).get("kind")
                answer = self.state.entries(kinds[-1] if kinds else None)
            else:
                answer = self._view(path)
        else:
            try:
                data = json.loads(body or b"{}")
                if path == "/_fake/faults/clear":
                    self.state.clear_faults()
                    answer = {"faults": 0}
                elif path == "/_fake/faults":
                    answer = {"faults": self.state.add_fault(**data)}
                else:
                    answer = self._steer(path, data)
            except (KeyError, TypeError, ValueError) as refused:
                self._json(400, {"error": str(refused)})
                return True
        if answer is None:
            return False
        self._json(200, answer)
        return True

    def _view(self, path: str) -> object | None:
        """A fake's own GET /_fake/ answer (JSON), or None when it has none for ``path``."""
        return None

    def _steer(self, path: str, data: Any) -> object | None:
        """A fake's own POST /_fake/ setting: its JSON answer, or None when ``path`` is
        not one. KeyError, TypeError or ValueError: the body is refused (400)."""
        return None


class LoopbackFake(Generic[S]):
    """A fake on its own thread; ``url`` is its root, e.g. http://127.0.0.1:8799/.

    What it receives goes to ``folder``; without one, to a temporary folder that stop()
    removes."""

    def __init__(self, handler: type[FakeHandler[S]], make_state: Callable[[Path], S], *,
                 port: int = 0, folder: Path | None = None, prefix: str) -> None:  # fmt: skip
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
            folder = Path(self._tmp.name)
        folder.mkdir(parents=True, exist_ok=True)
        self.state: S = make_state(folder)
        self.server: FakeServer[S] = FakeServer(("127.0.0.1", port), handler)
        self.server.state = self.state
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self) -> Self:
        # Polls for shutdown every 0.1 s, so stop() is quick.
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._tmp:
            self._tmp.cleanup()

    def add_fault(self, on: str, **spec: Any) -> None:
        """A fault on the ``nth`` request of kind ``on``: see the fake's Fault."""
        self.state.add_fault(on=on, **spec)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def log(self, kind: str | None = None) -> list[dict]:
        """What was asked and answered (of one kind, if given), oldest first."""
        return self.state.entries(kind)


def cli(platform: str, port: int, token_help: str) -> argparse.ArgumentParser:
    """A fake's command line: --port, --folder and --token-file (a fake adds its own)."""
    parser = argparse.ArgumentParser(description=f"WaggleBot's loopback stand-in for {platform}.")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--folder", type=Path, required=True, help="where received videos go")
    parser.add_argument("--token-file", type=Path, required=True, help=token_help)
    return parser


def serve(fake: LoopbackFake[Any], platform: str) -> None:
    """Start the fake, say where it is, and serve until the process is ended."""
    fake.start()
    print(f"fake {platform} (loopback, sample mode) at {fake.url}", flush=True)
    threading.Event().wait()
