"""Alembic environment: the URL comes from the caller (wagglebot.core.db.migrate) or settings."""

from __future__ import annotations

from alembic import context

from wagglebot.core.db import make_engine
from wagglebot.core.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("db_url")
    if url:
        return url
    from wagglebot.core.config import get_settings

    return get_settings().db_url.get_secret_value()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
