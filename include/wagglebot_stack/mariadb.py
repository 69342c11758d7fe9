"""A private MariaDB server from Debian's packages: its own data directory, loopback only.

Before its first start the data directory is created (``before_start``); once it
answers, ``provision`` makes the app database and user (from WAGGLE_DB_URL) and
applies the migrations. mariadbd runs directly, not through mysqld_safe, which
would be a second supervisor restarting it behind supervisord's back.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess

import MySQLdb
from sqlalchemy.engine import URL, make_url

from wagglebot.core.db.migrate import upgrade
from wagglebot_stack.procs import Service, ServiceError, StackPaths, debian_binary

NAME = "mariadb"
_IDENT = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _binary(name: str) -> str:
    return debian_binary(name, "mariadb-server")


class MariaDB(Service):
    name = NAME
    priority = 100
    stop_wait = 60  # a clean InnoDB shutdown; SIGKILL only past this

    def __init__(self, paths: StackPaths, db_url: str) -> None:
        self.db_url = db_url
        self.url: URL = make_url(db_url)
        if self.url.host not in ("127.0.0.1", "localhost"):
            raise ServiceError(
                f"WAGGLE_DB_URL points at {self.url.host}; the local stack only runs a "
                "MariaDB on 127.0.0.1 (use your own server's URL and skip the local one)"
            )
        for part in (self.url.database, self.url.username):
            if not part or not _IDENT.match(part):
                raise ServiceError(
                    "WAGGLE_DB_URL needs a plain database and user name ([A-Za-z0-9_])"
                )
        super().__init__(paths, self.url.port or 3306)
        self.datadir = paths.home / "mariadb"
        self.socket = paths.run_dir / "mariadb.sock"
        self.os_user = getpass.getuser()

    def argv(self) -> list[str]:
        argv = [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--pid-file={self.paths.run_dir / 'mariadbd.pid'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00",
            "--innodb-buffer-pool-size=256M",
            "--performance-schema=OFF",
            "--max-connections=300",
        ]
        if os.geteuid() == 0:
            argv.append("--user=root")  # mariadbd refuses to run as root without saying so
        return argv

    def _initialise(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        argv = [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            f"--user={self.os_user}",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)  # let the next start retry cleanly
            raise ServiceError(
                f"mariadb-install-db failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def admin_connection(self) -> MySQLdb.Connection:
        # unix_socket authentication as the OS user that initialised the data directory.
        return MySQLdb.connect(unix_socket=str(self.socket), user=self.os_user, charset="utf8mb4")

    def answers(self) -> bool:
        try:
            self.admin_connection().close()
        except MySQLdb.Error:
            return False
        return True

    def provision(self) -> None:
        """Make the app database and user, then apply the migrations (all idempotent)."""
        db, user = self.url.database, self.url.username
        password = self.url.password or ""
        conn = self.admin_connection()
        try:
            cur = conn.cursor()
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{db}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            for host in ("127.0.0.1", "localhost"):
                cur.execute(
                    "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password)
                )
                # Keep the password in step with WAGGLE_DB_URL if it was changed.
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
                cur.execute(f"GRANT ALL PRIVILEGES ON `{db}`.* TO %s@%s", (user, host))
            conn.commit()
        finally:
            conn.close()
        upgrade(self.db_url)

    def before_start(self) -> None:
        if not (self.datadir / "mysql").is_dir():
            self._initialise()
