"""The bundled sample site: saved-structure pages of every community, served on loopback.

Each site under sample_site/<site_code>/ gets its own port (port_base + its
index in sorted order), so pages keep the real sites' root-relative links and
each site has its own robots.txt. routes.yaml maps a request's path and query
to a response::

    "/talk/ranking?page=1": {file: list_1.html}
    "/talk/900004": {status: 404}
    "/talk/900009": {sequence: [{status: 429, headers: {Retry-After: "1"}}, {file: p.html}]}
    "/new/download.jsp?FileID=111": {file: images/file_111.jpg, content_type: image/jpeg}

content_type defaults to "text/html; charset=utf-8"; the posts' pictures live under
<site>/images/ and their routes name their type. Files are read on every request,
so a test can change a page between crawls.

A POST route (the XHR endpoints that serve comments) is keyed "POST <path>" and
answers by what the request carries: the first entry of ``match`` whose ``when``
fields (form or JSON body) and ``when_headers`` all hold, else its ``else``::

    "POST /board/comment/":
      match:
        - when: {id: dcbest, no: "101", e_s_n_o: "3eab"}
          when_headers: {X-Requested-With: XMLHttpRequest}
          file: comments/101.json
          content_type: application/json
      else: {status: 403}
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import yaml

from wagglebot.crawl.sites import SAMPLE_ROOT, sample_base_urls

DEFAULT_ROBOTS = b"User-agent: *\nAllow: /\n"


def route_for(
    routes: dict[str, dict], method: str, path: str, headers: Mapping[str, str], body: bytes
) -> dict | None:
    """The route that answers a request, or None (404)."""
    route = routes.get(path if method == "GET" else f"{method} {path}")
    if route is None or "match" not in route:
        return route
    have = {k.lower(): v for k, v in headers.items()}
    sent = _fields(have.get("content-type", ""), body)
    for answer in route["match"]:
        wanted = answer.get("when_headers", {})
        if all(str(sent.get(k)) == str(v) for k, v in answer.get("when", {}).items()) and all(
            have.get(k.lower()) == str(v) for k, v in wanted.items()
        ):
            return answer
    return route.get("else", {"status": 404})


def _fields(content_type: str, body: bytes) -> dict[str, object]:
    if "json" in content_type:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace")))


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, site_dir: Path, quiet: bool = False, latency: float = 0) -> None:
        self.site_dir = site_dir
        self.quiet = quiet
        self.latency = latency  # seconds before each answer: a real site's round trip
        self.routes: dict[str, dict] = yaml.safe_load((site_dir / "routes.yaml").read_text())
        self.hits: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    server_version = "WaggleBotSampleSite/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites do (every reply has a length)
    # Headers and body leave in one write with Nagle off: otherwise a client that waits
    # for each reply (one request at a time) stalls ~40 ms on delayed ACKs per request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            robots = self.server.site_dir / "robots.txt"
            body = robots.read_bytes() if robots.exists() else DEFAULT_ROBOTS
            return self._send(200, body, "text/plain")
        self._answer("GET", b"")

    def do_POST(self) -> None:
        self._answer("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _answer(self, method: str, sent: bytes) -> None:
        time.sleep(self.server.latency)
        self.server.user_agents.add(self.headers.get("User-Agent", ""))
        route = route_for(self.server.routes, method, self.path, dict(self.headers.items()), sent)
        if route is None:
            return self._send(404, b"<html><body>Not found</body></html>", "text/html")
        key = self.path if method == "GET" else f"{method} {self.path}"  # as routes are keyed
        with self.server.lock:
            hit = self.server.hits[key]
            self.server.hits[key] += 1
        if "sequence" in route:
            steps = route["sequence"]
            route = steps[min(hit, len(steps) - 1)]
        body = (self.server.site_dir / route["file"]).read_bytes() if "file" in route else b""
        content_type = route.get("content_type", "text/html; charset=utf-8")
        self._send(route.get("status", 200), body, content_type, route.get("headers", {}))

    def log_message(self, format: str, *args: object) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(body)


class SampleSite:
    """All sample sites, each on its own thread and port."""

    def __init__(
        self, port_base: int, root: Path = SAMPLE_ROOT, quiet: bool = False, latency: float = 0
    ) -> None:
        self.urls = sample_base_urls(port_base, root)
        self.servers = {
            code: _SiteServer(int(url.rsplit(":", 1)[1]), root / code, quiet, latency)
            for code, url in self.urls.items()
        }

    def start(self) -> SampleSite:
        for server in self.servers.values():
            threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def hits(self, site_code: str) -> Counter[str]:
        return self.servers[site_code].hits

    def user_agents(self, site_code: str) -> set[str]:
        return self.servers[site_code].user_agents


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bundled sample community sites.")
    parser.add_argument("--port-base", type=int, default=8700)
    parser.add_argument("--root", type=Path, default=SAMPLE_ROOT)
    args = parser.parse_args()
    site = SampleSite(args.port_base, args.root).start()
    for code, url in site.urls.items():
        print(f"{code:12} {url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
