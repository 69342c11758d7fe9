"""A private PostgreSQL server from Debian's packages: Airflow's metadata DB in celery mode.

Airflow supports PostgreSQL, not MariaDB, as its own database; with several
schedulerless workers writing task state, SQLite will not do either. The app
data stays in MariaDB. The server listens on 127.0.0.1 only (no Unix socket),
with one role ``airflow`` whose generated password is kept in the stack's
Airflow folder (mode 0600). PostgreSQL refuses to run as root: started by root,
it runs as Debian's ``postgres`` user. Its data folder is ``<stack home>/postgres``
where that user can reach it, else (a checkout under /root, mode 0700) a folder of
its own under /var/lib/postgresql/wagglebot named after the stack home, which it can.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from wagglebot_stack.procs import Service, ServiceError, StackPaths, as_user

NAME = "postgres"
OUTSIDE_HOME = Path("/var/lib/postgresql/wagglebot")
ROLE = DATABASE = "airflow"


def _bin_dir() -> Path:
    """The newest Debian PostgreSQL's binaries (they are not on PATH)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise ServiceError("PostgreSQL not found: install Debian's postgresql (./wagglebot install)")


class PostgreSQL(Service):
    name = NAME
    priority = 100
    stop_signal = "INT"  # a fast shutdown: TERM (smart) would wait for Airflow's pooled clients
    stop_wait = 60

    def __init__(self, paths: StackPaths, port: int, password: str) -> None:
        super().__init__(paths, port)
        self.password = password
        self.os_user = "postgres" if os.geteuid() == 0 else None  # None: as ourselves
        self.datadir = paths.home / "postgres"
        if self._blocked_at(self.datadir) is not None:
            digest = hashlib.sha256(str(paths.home.resolve()).encode()).hexdigest()[:16]
            self.datadir = OUTSIDE_HOME / digest
        self.url = f"postgresql+psycopg2://{ROLE}:{password}@127.0.0.1:{port}/{DATABASE}"

    def _blocked_at(self, datadir: Path) -> Path | None:
        """The first folder above ``datadir`` the server's OS user cannot enter, if any."""
        if self.os_user is None:
            return None
        uid = pwd.getpwnam(self.os_user).pw_uid
        for folder in [datadir.parent, *datadir.parent.parents]:
            try:
                st = folder.stat()
            except FileNotFoundError:
                continue  # made later, by us, traversable
            if st.st_uid != uid and not st.st_mode & 0o001:
                return folder
        return None

    def _initialise(self) -> None:
        self.datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
        pwfile = self.datadir.parent / f".{self.datadir.name}-initdb-password"  # it can read
        pwfile.write_text(self.password)
        pwfile.chmod(0o600)
        if self.os_user:
            shutil.chown(self.datadir, self.os_user, self.os_user)
            shutil.chown(pwfile, self.os_user, self.os_user)
        try:
            done = subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    f"--pgdata={self.datadir}",
                    f"--username={ROLE}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
                **as_user(self.os_user),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)  # the next start retries cleanly
            raise ServiceError(f"initdb failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def argv(self) -> list[str]:
        return [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",  # every worker slot and API server process holds a few
            "-c",
            "shared_buffers=128MB",
        ]

    def _connect(self, database: str):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=ROLE,
            password=self.password,
            dbname=database,
            connect_timeout=3,
        )

    def answers(self) -> bool:
        import psycopg2

        try:
            self._connect("postgres").close()
        except psycopg2.Error:
            return False
        return True

    def run_as(self) -> str | None:
        return self.os_user

    def provision(self) -> None:
        """Make Airflow's database and keep its role's password in step (idempotent)."""
        conn = self._connect("postgres")
        conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}" ENCODING \'UTF8\'')
            # Keep the role's password in step with the stack's secret if it was replaced.
            cur.execute(f'ALTER ROLE "{ROLE}" PASSWORD %s', (self.password,))
        finally:
            conn.close()

    def before_start(self) -> None:
        if not (self.datadir / "PG_VERSION").is_file():
            self._initialise()
