"""The app database: engine, sessions and migrations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from wagglebot.core.config import Settings


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for MariaDB with the settings every WaggleBot process needs.

    READ COMMITTED keeps the guarded status UPDATEs free of MariaDB's
    "record has changed since last read" (1020) under snapshot isolation, and
    every session speaks utf8mb4 in UTC.
    """
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args={"charset": "utf8mb4", "init_command": "SET time_zone = '+00:00'"},
        **kwargs,
    )
    event.listen(engine, "connect", _strict_mode)
    return engine


def _strict_mode(dbapi_conn, _record) -> None:
    # Refuse truncation and bad values loudly instead of storing a mangled row.
    with dbapi_conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")


@functools.cache
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL for the whole process."""
    return make_engine(url)


def settings_session(settings: Settings) -> AbstractContextManager[Session]:
    """A short transaction on the database the settings name."""
    return session_scope(engine_for(settings.db_url.get_secret_value()))


def default_engine() -> Engine:
    from wagglebot.core.config import get_settings

    return engine_for(get_settings().db_url.get_secret_value())


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine or default_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A short transaction: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
