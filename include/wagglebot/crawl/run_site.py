"""Run one site's crawl in its own process and return its figures.

Scrapy's reactor cannot restart and its signal handlers expect a main thread,
so every crawl is a fresh `python -m wagglebot_scrapy.run` process. Its log
streams into ours line by line (the Airflow task log); its last stdout line is
the JSON report.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from typing import Any

EXIT_NOTHING_STORED = 3  # keep in step with wagglebot_scrapy.run

log = logging.getLogger(__name__)


class CrawlFailed(RuntimeError):
    """The crawl stored nothing or crashed; the message names the site and the cause."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report


def _pump(stream, sink: list[str]) -> None:
    for line in stream:
        line = line.rstrip("\n")
        sink.append(line)
        log.info("%s", line)


def run_crawl(site_code: str, *, pages: int | None = None, timeout: float = 1800) -> dict[str, Any]:
    argv = [sys.executable, "-m", "wagglebot_scrapy.run", site_code]
    if pages:
        argv += ["--pages", str(pages)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    pump = threading.Thread(target=_pump, args=(proc.stderr, stderr), daemon=True)
    pump.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except BaseException:  # a timeout, or the task being killed: take the crawl down too
        proc.kill()
        proc.wait()
        raise
    finally:
        pump.join(timeout=5)
    lines = stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        report = None
    if proc.returncode == EXIT_NOTHING_STORED and report:
        raise CrawlFailed(
            f"{site_code}: the crawl stored no post. Likely cause: {report['likely_cause']}. "
            f"Figures: {json.dumps(_figures(report), ensure_ascii=False)}",
            report,
        )
    if proc.returncode != 0 or report is None:
        tail = "\n".join(stderr[-15:])
        raise CrawlFailed(f"{site_code}: the crawler exited with {proc.returncode}:\n{tail}")
    if report.get("likely_cause"):
        log.warning("%s: %s", site_code, report["likely_cause"])
    if unfetched := report.get("comments_unfetched"):
        reasons = ", ".join(f"{why} ×{n}" for why, n in sorted(unfetched.items()))
        log.warning(
            "%s: %d posts stored without their comments (the comment request failed: %s)",
            site_code,
            sum(unfetched.values()),
            reasons,
        )
    return _figures(report)


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "site",
        "new",
        "updated",
        "dropped",
        "dropped_reasons",
        "gone",
        "errors",
        "list_pages",
        "list_rows",
        "list_links",
        "post_pages",
        "detail_missing",
        "robots_forbidden",
        "blocked",
        "comments_unfetched",
        "http_statuses",
        "seconds",
        "base_url",
        "likely_cause",  # also when posts were stored but the run was cut short
    )
    return {k: report.get(k) for k in keys}
