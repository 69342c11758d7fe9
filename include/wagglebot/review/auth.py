"""Dashboard accounts: passwords are kept only as salted scrypt hashes.

WAGGLE_DASHBOARD_USERS holds a JSON object of user name -> hash (written by
``./wagglebot dashboard-user NAME``). A hash reads
``scrypt:<log2 n>:<r>:<p>:<salt, base64>:<key, base64>``, so its cost can be
raised later without breaking the hashes already written. (No ``$``: .env and
Compose files would try to expand it.)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque

LOG2_N, R, P = 14, 8, 1  # about 50 ms and 16 MiB a check on this machine class
_HASH = re.compile(r"^scrypt:(\d{1,2}):(\d{1,2}):(\d{1,2}):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
USER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _key(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=2**log2_n, r=r, p=p, maxmem=2**26, dklen=32
    )


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    return f"scrypt:{LOG2_N}:{R}:{P}:{_b64(salt)}:{_b64(_key(password, salt, LOG2_N, R, P))}"


def is_password_hash(value: str) -> bool:
    return _HASH.match(value) is not None


def verify_password(password: str, stored: str) -> bool:
    match = _HASH.match(stored)
    if match is None:
        return False
    log2_n, r, p = (int(g) for g in match.groups()[:3])
    salt, want = base64.b64decode(match[4]), base64.b64decode(match[5])
    return hmac.compare_digest(_key(password, salt, log2_n, r, p), want)


class LoginThrottle:
    """Refuses a user name for ``lockout`` seconds after ``limit`` failures in ``window``."""

    def __init__(self, limit: int = 5, window: float = 300, lockout: float = 60) -> None:
        self.limit, self.window, self.lockout = limit, window, lockout
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, user: str) -> float:
        """0 when ``user`` may try now, else how long until they may."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(user, deque())
            while failures and failures[0] < now - self.window:
                failures.popleft()
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, failures[-1] + self.lockout - now)

    def failed(self, user: str) -> None:
        with self._lock:
            self._failures.setdefault(user, deque(maxlen=self.limit)).append(time.monotonic())

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(user, None)


def check_login(
    users: dict[str, str], throttle: LoginThrottle, user: str, password: str
) -> str | None:
    """None when the login is good, else what to tell the person (never which part was wrong)."""
    wait = throttle.wait_seconds(user)
    if wait > 0:
        return f"Too many failed logins for this name: try again in {wait:.0f} s."
    stored = users.get(user)
    # An unknown name costs the same scrypt work as a wrong password.
    ok = verify_password(password, stored or _dummy_hash()) and stored is not None
    if ok:
        throttle.succeeded(user)
        return None
    throttle.failed(user)
    return "Wrong user name or password."


@functools.cache
def _dummy_hash() -> str:
    # Made on first need: every process that reads the settings imports this module.
    return hash_password(secrets.token_urlsafe(8))


def main() -> None:
    """Print a WAGGLE_DASHBOARD_USERS line for one account (for Compose's .env)."""
    import getpass
    import json
    import sys

    name = sys.argv[1] if len(sys.argv) > 1 else "reviewer"
    if not USER_NAME.match(name):
        sys.exit(f"user name {name!r}: letters, digits, '.', '_', '-' only")
    password = getpass.getpass(f"Password for {name}: ")
    if len(password) < 8 or getpass.getpass("Again: ") != password:
        sys.exit("the passwords differ or are shorter than 8 characters")
    print(f"WAGGLE_DASHBOARD_USERS={json.dumps({name: hash_password(password)})}")


if __name__ == "__main__":
    main()
