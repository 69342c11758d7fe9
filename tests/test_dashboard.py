"""The dashboard page against the real app database (streamlit.testing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from wagglebot.config import get_settings
from wagglebot.db import default_engine, engine_for
from wagglebot.stack.mariadb import MariaDB
from wagglebot.states import PostStatus

from conftest import REPO
from factories import add_posts


@pytest.fixture
def app_env(mariadb: MariaDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WAGGLE_DB_URL", mariadb.db_url)
    get_settings.cache_clear()
    yield
    default_engine().dispose()
    get_settings.cache_clear()
    engine_for.cache_clear()


def test_status_counts(app_env: None, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        add_posts(session, 3)
        add_posts(session, 2, status=PostStatus.APPROVED)
        add_posts(session, 1, status=PostStatus.FAILED, last_error="boom")
    app = AppTest.from_file(str(REPO / "dashboard" / "app.py")).run(timeout=30)
    assert not app.exception
    shown = {m.label: m.value for m in app.metric}
    assert shown == {
        "Collected": "3",
        "Approved": "2",
        "Declined": "0",
        "Processing": "0",
        "Rendered": "0",
        "Uploaded": "0",
        "Failed": "1",
    }
