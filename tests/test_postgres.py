"""Celery mode's PostgreSQL (Airflow's metadata DB), started on its own by the stack's code."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest

from wagglebot.stack.postgres import OUTSIDE_HOME, PostgreSQL
from wagglebot.stack.procs import ProcessManager

from conftest import free_ports


@pytest.mark.parametrize("home_mode", [0o711, 0o700], ids=["reachable", "closed"])
def test_it_starts_where_its_os_user_can_reach_and_only_the_role_gets_in(home_mode: int) -> None:
    outer = Path(tempfile.mkdtemp(prefix="wagglebot-pg-"))
    outer.chmod(home_mode)
    pg = PostgreSQL(ProcessManager(outer / "home"), free_ports(), "s3cret-pw")
    try:
        if os.geteuid() == 0 and home_mode == 0o700:
            # Debian's postgres user cannot enter a 0700 folder of root's (a checkout
            # under /root): the data goes where it can, named after the stack home.
            assert pg.datadir.parent == OUTSIDE_HOME
        else:
            assert pg.datadir == outer / "home" / "postgres"
        assert pg.start() is True
        assert pg.start() is False  # a second start finds it running
        assert pg.status() == f"running on 127.0.0.1:{pg.port}"
        conn = psycopg2.connect(pg.url.replace("+psycopg2", ""))
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_database(), current_user")
            assert cur.fetchone() == ("airflow", "airflow")
        conn.close()
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(pg.url.replace("+psycopg2", "").replace("s3cret-pw", "wrong"))
        assert not list(pg.datadir.parent.glob("*initdb-password"))  # not left behind
    finally:
        pg.stop()
        if pg.datadir.parent == OUTSIDE_HOME:
            shutil.rmtree(pg.datadir, ignore_errors=True)
        shutil.rmtree(outer, ignore_errors=True)
    assert pg.status() == "stopped"
