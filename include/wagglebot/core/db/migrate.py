"""Apply the Alembic migrations: the only way the app schema comes to be."""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an ini option, so '%' in a password needs no escaping.
    cfg.attributes["db_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def main() -> None:
    from wagglebot.core.config import get_settings

    parser = argparse.ArgumentParser(description="Migrate the WaggleBot app database.")
    parser.add_argument("revision", nargs="?", default="head")
    parser.add_argument("--down", action="store_true", help="downgrade to REVISION instead")
    args = parser.parse_args()
    url = get_settings().db_url.get_secret_value()
    (downgrade if args.down else upgrade)(url, args.revision)


if __name__ == "__main__":
    main()
