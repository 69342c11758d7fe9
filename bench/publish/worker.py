"""A publish bench worker that dies halfway: it uploads as the publisher (or the baseline)
does, and once it has handed its socket the file's bytes up to --kill-at it SIGKILLs
itself, as a worker killed by the OOM killer or a lost machine would die: no cleanup, the
journal left as it was. Run by bench/publish/run.py, not by hand.

    worker.py tiktok|instagram publisher|baseline --url U --token-file T --video V
              --journal J --record R --kill-at BYTE
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from requests import PreparedRequest
from shared import META, FileJournal, Meter, metered, platform_named

from wagglebot.publish import ShortUpload


class Death:
    """Armed with the upload body that holds byte ``at``: the socket gets the bytes before
    it, then the process is killed. (urllib3 hands a bytes body to sendall as it is.)"""

    def __init__(self, at: int, first_byte: Callable[[PreparedRequest], int]) -> None:
        self.at, self.first_byte = at, first_byte
        self.body: bytes | None = None
        self.keep = 0
        original = socket.socket.sendall

        def sendall(sock: socket.socket, data: Any, *flags: int) -> None:
            if self.body is not None and data is self.body:
                original(sock, memoryview(data)[: self.keep], *flags)
                os.kill(os.getpid(), signal.SIGKILL)
            return original(sock, data, *flags)

        socket.socket.sendall = sendall  # type: ignore[method-assign]

    def arm(self, request: PreparedRequest) -> None:
        first, body = self.first_byte(request), request.body
        if isinstance(body, bytes) and first <= self.at < first + len(body):
            self.body, self.keep = body, self.at - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("platform", choices=("tiktok", "instagram"))
    parser.add_argument("mode", choices=("publisher", "baseline"))
    parser.add_argument("--url", required=True)
    for name in ("token-file", "video", "journal", "record"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--kill-at", type=int, required=True)
    args = parser.parse_args()
    platform = platform_named(args.platform)(args.url, args.token_file)
    death = Death(args.kill_at, platform.first_byte)
    meter = Meter(platform, record=args.record, before=death.arm)
    if args.mode == "publisher":
        publisher = platform.publisher(fast_retry=True)
        metered(publisher.http, meter)
        publisher.upload(ShortUpload(1, args.video, META), FileJournal(args.journal))
    else:
        platform.baseline(args.video, metered(requests.Session(), meter))
    sys.exit("the upload ended: the worker was to die before that")


if __name__ == "__main__":
    main()
