"""The way back from a platform's consent page: a one-shot HTTP server on loopback that
takes the authorization code from the redirect, answers the browser with a short page,
and keeps the code out of every log. tiktok-auth and instagram-auth use it."""

from __future__ import annotations

import html
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

PATH = "/callback/"


class RedirectCatcher(HTTPServer):
    """Listen on 127.0.0.1:``port`` (0: any free port) for the redirect to ``PATH``."""

    def __init__(self, port: int, platform: str, allowed: str) -> None:
        super().__init__(("127.0.0.1", port), _Callback)
        self.platform, self.allowed = platform, allowed
        self.answer: dict[str, str] | None = None  # what the redirect back brought

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def wait(self, wait_s: float) -> dict[str, str]:
        """The redirect's query, handling one request at a time until it comes; closes."""
        self.timeout = 2.0
        ends = time.monotonic() + wait_s
        try:
            while self.answer is None:
                if time.monotonic() > ends:
                    raise SystemExit(f"{self.platform}'s consent did not come back; run again.")
                self.handle_request()
        finally:
            self.server_close()
        return self.answer


def refusal(query: dict[str, str]) -> str:
    return query.get("error_description") or query.get("error") or "no code came back"


class _Callback(BaseHTTPRequestHandler):
    server: RedirectCatcher

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != PATH:  # a favicon, a stray tab: not the way back
            return self._page(404, "This is not the consent's way back.")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.server.answer = query
        if "code" in query:
            self._page(200, f"{self.server.allowed} You can close this tab.")
        else:
            self._page(400, f"{self.server.platform} did not allow it: {refusal(query)}")

    def _page(self, status: int, text: str) -> None:
        body = f"<!doctype html><meta charset=utf-8><p>{html.escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the code is not logged
        pass
