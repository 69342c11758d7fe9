"""Celery mode's PostgreSQL (Airflow's metadata DB), started on its own by the stack's code."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest
from wagglebot_stack import Stack
from wagglebot_stack.postgres import OUTSIDE_HOME

from conftest import free_ports, make_settings


@pytest.mark.parametrize("home_mode", [0o711, 0o700], ids=["reachable", "closed"])
def test_it_starts_where_its_os_user_can_reach_and_only_the_role_gets_in(home_mode: int) -> None:
    outer = Path(tempfile.mkdtemp(prefix="wagglebot-pg-"))
    outer.chmod(home_mode)
    settings = make_settings(outer / "home").model_copy(
        update={"executor": "celery", "postgres_port": free_ports()}
    )
    stack = Stack(settings)
    pg = stack.airflow.postgres
    try:
        if os.geteuid() == 0 and home_mode == 0o700:
            # Debian's postgres user cannot enter a 0700 folder of root's (a checkout
            # under /root): the data goes where it can, named after the stack home.
            assert pg.datadir.parent == OUTSIDE_HOME
        else:
            assert pg.datadir == outer / "home" / "postgres"
        stack.up(only=["postgres"])  # under its own supervisord, as the stack runs it
        pg.provision()
        [report] = [r for r in stack.report() if r.name == "postgres"]
        assert report.program is not None
        assert (report.program.state, report.answering) == ("RUNNING", True)
        if os.geteuid() == 0:  # it refuses root: the launcher hands it to its own user
            assert _owner(report.program.pid) == "postgres"
        conn = psycopg2.connect(pg.url.replace("+psycopg2", ""))
        with conn, conn.cursor() as cur:
            cur.execute("SELECT current_database(), current_user")
            assert cur.fetchone() == ("airflow", "airflow")
        conn.close()
        wrong = pg.url.replace("+psycopg2", "").replace(pg.password, "wrong")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(wrong)
        assert not list(pg.datadir.parent.glob("*initdb-password"))  # not left behind
    finally:
        stack.down()
        if pg.datadir.parent == OUTSIDE_HOME:
            shutil.rmtree(pg.datadir, ignore_errors=True)
        shutil.rmtree(outer, ignore_errors=True)
    assert not pg.answers()


def _owner(pid: int) -> str:
    import psutil

    return psutil.Process(pid).username()
