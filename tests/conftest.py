"""Shared fixtures: a private MariaDB for the session, started by the stack's own code.

Airflow's settings are read at import time, so its home points at a temporary
directory before anything imports airflow; WaggleBot's .env likewise.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="wagglebot-airflow-home-"))
# A developer's own .env (from ./wagglebot up) must not leak into the tests' settings.
os.environ["WAGGLE_ENV_FILE"] = os.path.join(tempfile.mkdtemp(prefix="wagglebot-env-"), ".env")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker
from wagglebot_stack import Stack
from wagglebot_stack.fake_youtube import FakeYouTube
from wagglebot_stack.mariadb import MariaDB

from wagglebot.core.config import Settings
from wagglebot.core.db import make_engine
from wagglebot.core.db.models import (
    CrawlRun,
    HealthState,
    Post,
    PublishQuota,
    StatsRun,
    Story,
    ViewModel,
)

REPO = Path(__file__).resolve().parents[1]


_HANDED_OUT: set[int] = set()


def free_ports(count: int = 1) -> int:
    """The first of ``count`` consecutive free loopback ports, none handed out before: a
    port chosen for a server that has not started yet looks free but is taken."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randint(20000, 40000)
        wanted = set(range(first, first + count))
        if wanted & _HANDED_OUT:
            continue
        socks = []
        try:
            for port in sorted(wanted):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            _HANDED_OUT.update(wanted)
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports")


def make_settings(home: Path, *, db_name: str = "wagglebot_test") -> Settings:
    return Settings(
        db_url=f"mysql+mysqldb://wb_test:t3st-pw@127.0.0.1:{free_ports()}/{db_name}?charset=utf8mb4",
        stack_home=home,
        media_root=home / "media",
        airflow_port=free_ports(3),
        dashboard_port=free_ports(),
        fake_youtube_port=free_ports(),
        fake_tiktok_port=free_ports(),
        fake_instagram_port=free_ports(),
        metrics_port=free_ports(),
        airflow_password="dash-pw",
        _env_file=None,
    )


@pytest.fixture(scope="session")
def db_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def mariadb(db_settings: Settings) -> Iterator[MariaDB]:
    """The session's MariaDB, started as the stack starts it: under its own supervisord."""
    stack = Stack(db_settings)
    stack.up(only=["mariadb"])
    yield stack.mariadb
    stack.down()


@pytest.fixture(scope="session")
def engine(mariadb: MariaDB) -> Iterator[Engine]:
    eng = make_engine(mariadb.db_url, pool_size=20)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on an empty app database (every test starts clean)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        session.execute(delete(Post))  # comments, contents, stage runs, story rows cascade
        session.execute(delete(Story))
        session.execute(delete(PublishQuota))  # today's count, from an earlier test
        session.execute(delete(CrawlRun))
        session.execute(delete(HealthState))
        session.execute(delete(StatsRun))
        session.execute(delete(ViewModel))
    return factory


@pytest.fixture
def fake_youtube() -> Iterator[FakeYouTube]:
    """The loopback fake YouTube, on its own thread and port."""
    from youtube_support import REFRESH_TOKEN

    running = FakeYouTube(refresh_token=REFRESH_TOKEN).start()
    yield running
    running.stop()
