"""supervisord's event listener for alerts: Airflow cannot report its own scheduler's death,
so the supervisor side tells the owner when a service is left FATAL or keeps crashing.

It speaks supervisord's listener protocol on stdin/stdout (READY, then one event at a
time, answered OK) and sends through apprise to WAGGLE_ALERT_URLS directly; its own
log goes to stderr. A message carries the service's last log lines, secrets hidden.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable

from wagglebot.ops.supervision import ALERT_LISTENER as NAME

CRASHES = 3  # unexpected exits of one service within CRASH_WINDOW_S make an alert
CRASH_WINDOW_S = 600.0

Send = Callable[[str, str], bool]  # (title, body) -> delivered


def _say(text: str) -> None:
    print(f"{NAME}: {text}", file=sys.stderr, flush=True)


class Listener:
    """What to tell for each event; ``send`` delivers, ``tail`` reads a service's log."""

    def __init__(self, send: Send, tail: Callable[[str], str]) -> None:
        self.send, self.tail = send, tail
        self.exits: dict[str, deque[float]] = defaultdict(deque)

    def handle(self, event: str, payload: str, now: float | None = None) -> str | None:
        """The alert title sent for this event, or None."""
        fields = dict(item.split(":", 1) for item in payload.split() if ":" in item)
        name = fields.get("processname", "?")
        if name == NAME:
            return None
        if event == "PROCESS_STATE_FATAL":
            title = f"WaggleBot: service {name} is FATAL"
            body = (
                f"supervisord gave up starting {name}: it exited too quickly, again and again, "
                f"and is left stopped. Fix the cause, then run ./wagglebot up.\n"
                f"Last lines of its log:\n{self.tail(name)}"
            )
        elif event == "PROCESS_STATE_EXITED" and fields.get("expected") == "0":
            now = time.monotonic() if now is None else now
            recent = self.exits[name]
            recent.append(now)
            while recent and now - recent[0] > CRASH_WINDOW_S:
                recent.popleft()
            if len(recent) < CRASHES:
                return None
            recent.clear()
            title = f"WaggleBot: service {name} keeps crashing"
            body = (
                f"{name} exited unexpectedly {CRASHES} times within {CRASH_WINDOW_S / 60:.0f} "
                f"min; supervisord starts it again each time.\n"
                f"Last lines of its log:\n{self.tail(name)}"
            )
        else:
            return None
        if not self.send(title, body):
            _say(f"could not deliver: {title}")
        return title


def _apprise_send(title: str, body: str) -> bool:
    import apprise

    from wagglebot.core.config import get_settings
    from wagglebot.ops.alerts import alert_urls, redact

    get_settings.cache_clear()  # .env may have changed since the last event
    settings = get_settings()
    urls = alert_urls(settings)
    if not urls:
        _say(f"no WAGGLE_ALERT_URLS; not sent: {title}")
        return True
    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    return bool(sender.notify(title=title, body=redact(body, settings), notify_type="failure"))


def _log_tail(name: str) -> str:
    from wagglebot.core.config import get_settings
    from wagglebot.ops.supervision import log_tail
    from wagglebot_stack.procs import StackPaths

    return log_tail(StackPaths(get_settings().stack_home).logfile(name), 10)


def main() -> None:
    from supervisor import childutils

    listener = Listener(_apprise_send, _log_tail)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            if sent := listener.handle(headers.get("eventname", ""), payload.split("\n", 1)[0]):
                _say(f"sent: {sent}")
        except Exception as exc:  # never die mid-protocol: the next event still comes
            _say(f"failed on {headers.get('eventname')}: {type(exc).__name__}: {exc}")
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
