"""Retrying a platform call the way every publisher does: on what a retry can fix (a 5xx,
a rate limit, a dropped or stalled connection), with exponential backoff and full
jitter, so runs that failed together do not retry together."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

from wagglebot.publish import PublishError

log = logging.getLogger(__name__)
T = TypeVar("T")


class Retry(Exception):
    """A failure the same call may get past: try it again after a pause."""


def json_of(resp: requests.Response) -> dict:
    """The answer's JSON object, or {} (an HTML error page, an empty body)."""
    try:
        found = resp.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class Backoff:
    retries: int = 6
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def run(self, what: str, call: Callable[[], T]) -> T:
        """``call``'s answer; PublishError with the last problem once the tries run out."""
        for attempt in range(self.retries + 1):
            try:
                return call()
            except (Retry, requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}: {exc}" if not isinstance(exc, Retry) else str(exc)
            if attempt == self.retries:
                raise PublishError(f"{what}: gave up after {attempt + 1} tries; last: {problem}")
            self.pause(what, attempt, problem)
        raise AssertionError("unreachable")

    def pause(self, what: str, attempt: int, problem: Any) -> None:
        delay = random.uniform(0, self.backoff_s * 2**attempt)  # noqa: S311 - jitter
        log.warning("%s: %s; try %d of %d in %.1f s", what, problem, attempt + 2,
                    self.retries + 1, delay)  # fmt: skip
        self.sleep(delay)
