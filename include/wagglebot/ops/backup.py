"""Backups that restore: the app database, the media folder and the secrets, in one dated
folder under WAGGLE_BACKUP_DIR; a backup counts only once its manifest is written last.

- The database: ``mariadb-dump --single-transaction`` (one consistent snapshot, safe
  while a sweep writes), gzipped. The manifest records each table's row count and each
  post's status as read from the dump itself: what the backup holds, not what the
  database held a moment later.
- The media folder: ``rsync --link-dest`` to the previous backup, so unchanged files are
  hard links and a night costs only what changed; every file's SHA-256 is recorded.
- The secrets (.env, the YouTube token, Airflow's keys) in a 0700 folder, files 0600.

``restore`` brings one back into a stopped stack (MariaDB alone running) and checks the
result against the manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from wagglebot.core.config import ENV_FILE, Settings
from wagglebot.core.db.models import utcnow
from wagglebot.core.post_files import previews_folder

MANIFEST = "manifest.json"
DUMP = "database.sql.gz"
MEDIA = "media"
SECRETS = "secrets"
# What a running stage is still writing is staged under a dot-name, renamed when whole:
# no one's work yet, like the dashboard's picture cache (``_left_out``).
STAGING = ".*"
RSYNC_VANISHED = 24  # a file went away mid-copy (a stage renamed it): the rest is whole

Say = Callable[[str], None]


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    finished_at: datetime  # UTC
    manifest: dict


def finished_backups(folder: Path | None) -> list[BackupInfo]:
    """The complete backups in ``folder``, oldest first (a half-made one has no manifest)."""
    found = []
    for candidate in sorted(folder.iterdir()) if folder and folder.is_dir() else []:
        try:
            manifest = json.loads((candidate / MANIFEST).read_text(encoding="utf-8"))
            finished = datetime.fromisoformat(manifest["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(BackupInfo(candidate, finished, manifest))
    return sorted(found, key=lambda b: b.finished_at)


# -- the database -------------------------------------------------------------------------


@contextmanager
def _client_options(settings: Settings) -> Iterator[list[str]]:
    """Connection options for the MariaDB command-line tools; the password goes in a 0600
    option file, never on a command line (where ``ps`` shows it)."""
    url = make_url(settings.db_url.get_secret_value())
    with tempfile.NamedTemporaryFile("w", prefix="wb-client-", suffix=".cnf") as cnf:
        os.chmod(cnf.name, 0o600)
        cnf.write(f"[client]\npassword={url.password or ''}\n")
        cnf.flush()
        yield [
            f"--defaults-extra-file={cnf.name}",  # must come first
            f"--host={url.host or '127.0.0.1'}",
            f"--port={url.port or 3306}",
            f"--user={url.username}",
            "--default-character-set=utf8mb4",
        ]


def _database(settings: Settings) -> str:
    name = make_url(settings.db_url.get_secret_value()).database
    if not name:
        raise BackupError("WAGGLE_DB_URL names no database")
    return name


def dump_database(settings: Settings, target: Path) -> None:
    """One consistent snapshot of the app database, gzipped, written atomically."""
    staging = target.with_name(f".{target.name}.part")
    with _client_options(settings) as options, gzip.open(staging, "wb") as out:
        argv = [
            "mariadb-dump",
            *options,
            *("--single-transaction", "--quick", "--routines", "--events", "--triggers"),
            *("--add-drop-database", "--databases", _database(settings)),
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            out.write(chunk)
        error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            staging.unlink(missing_ok=True)
            raise BackupError(f"mariadb-dump failed ({proc.returncode}): {error.strip()[-500:]}")
    os.replace(staging, target)


_INSERT = re.compile(r"^INSERT INTO `(\w+)` VALUES\s?")


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "Z": "\x1a"}


def _rows(values: str) -> Iterator[list[str | None]]:
    """The rows of one extended INSERT's ``VALUES (..),(..);`` as lists of field texts
    (strings unescaped as mariadb-dump escapes them, NULL as None)."""
    i, n = 0, len(values)
    while i < n:
        if values[i] != "(":
            i += 1
            continue
        i += 1
        row: list[str | None] = []
        while i < n:
            if values[i] == "'":
                i, text = _string(values, i + 1)
                row.append(text)
            else:
                end = i
                while values[end] not in ",)":
                    end += 1
                bare = values[i:end]  # a number, or NULL
                row.append(None if bare == "NULL" else bare)
                i = end
            i += 1  # past "," or ")"
            if values[i - 1] == ")":
                yield row
                break


def _string(values: str, i: int) -> tuple[int, str]:
    """The quoted string starting at ``i`` (past its quote): (index past its end, text)."""
    out = []
    while values[i] != "'":
        if values[i] == "\\":
            out.append(_ESCAPES.get(values[i + 1], values[i + 1]))
            i += 2
        else:
            out.append(values[i])
            i += 1
    return i + 1, "".join(out)


def dump_contents(dump: Path) -> tuple[dict[str, int], dict[str, str]]:
    """(rows per table, each post's status by id) as the dump holds them. An INSERT runs
    from its ``INSERT INTO `t` VALUES`` to the line ending in ";" (newlines inside values
    are escaped, so a line break is never inside one)."""
    counts: dict[str, int] = {}
    statuses: dict[str, str] = {}
    columns: dict[str, list[str]] = {}
    table = inserting = None
    with gzip.open(dump, "rt", encoding="utf-8", errors="replace") as sql:
        for line in sql:
            if not inserting:
                if line.startswith("CREATE TABLE `"):
                    table = line.split("`")[1]
                    columns[table] = []
                    counts.setdefault(table, 0)
                elif table and line.startswith("  `"):
                    columns[table].append(line.split("`")[1])
                if not (match := _INSERT.match(line)):
                    continue
                inserting, line = match.group(1), line[match.end() :]
            _count(inserting, line, columns, counts, statuses)
            if line.rstrip().endswith(";"):
                inserting = None
    return counts, statuses


def _count(
    table: str, values: str, columns: dict, counts: dict[str, int], statuses: dict[str, str]
) -> None:
    for row in _rows(values):
        counts[table] = counts.get(table, 0) + 1
        if table == "posts":
            record = dict(zip(columns[table], row, strict=False))
            statuses[str(record["id"])] = str(record["status"])


def database_contents(settings: Settings) -> tuple[dict[str, int], dict[str, str]]:
    """(rows per table, each post's status by id) as the database holds them now."""
    from sqlalchemy import func, inspect, select, table

    from wagglebot.core.db import settings_session
    from wagglebot.core.db.models import Post

    with settings_session(settings) as session:
        names = inspect(session.get_bind()).get_table_names()
        counts = {n: session.scalar(select(func.count()).select_from(table(n))) for n in names}
        statuses = {str(i): s.value for i, s in session.execute(select(Post.id, Post.status))}
    return counts, statuses


# -- files --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _left_out(settings: Settings) -> tuple[str, ...]:
    """The media folder's sub-folders that are no one's work: the dashboard's picture
    cache, where it lives inside the media folder."""
    try:
        return (previews_folder(settings).relative_to(settings.media_root).as_posix(),)
    except ValueError:
        return ()


def file_digests(folder: Path, left_out: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> SHA-256), those in ``left_out``
    folders and those still being staged (dot-names) excepted."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
        parts = path.relative_to(folder).parts
        if parts[0] not in left_out and not any(part.startswith(".") for part in parts):
            found["/".join(parts)] = _sha256(path)
    return found


def _rsync(
    source: Path, target: Path, left_out: tuple[str, ...], link_dest: Path | None = None
) -> None:
    excluded = [STAGING, *(f"/{folder}/" for folder in left_out)]
    argv = ["rsync", "-a", "--delete", *(f"--exclude={e}" for e in excluded)]
    if link_dest is not None and link_dest.is_dir():  # rsync says nothing of a wrong path
        argv.append(f"--link-dest={link_dest.resolve()}")
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [*argv, f"{source}/", f"{target}/"], capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, RSYNC_VANISHED):
        raise BackupError(f"rsync failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def secret_files(settings: Settings) -> dict[str, Path]:
    """The files that are the installation's secrets, by the name kept in a backup."""
    airflow = settings.stack_home / "airflow"
    token = settings.youtube_token_file or settings.stack_home / "youtube" / "token.json"
    return {
        "env": ENV_FILE,
        "youtube-token.json": token,
        "airflow-fernet_key": airflow / "fernet_key",
        "airflow-jwt_secret": airflow / "jwt_secret",
        "airflow-passwords.json": airflow / "simple_auth_manager_passwords.json",
    }


def _copy_secret(source: Path, target: Path) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


# -- backup and restore -------------------------------------------------------------------


def backup(settings: Settings, say: Say = print, now: datetime | None = None) -> BackupInfo:
    """Take a backup into WAGGLE_BACKUP_DIR, then prune those older than the days kept."""
    started = utcnow()
    now = now or started
    root = settings.backup_dir
    assert root is not None
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    previous = finished_backups(root)
    staging = root / f".{now:%Y%m%d-%H%M%S}.part"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        dump_database(settings, staging / DUMP)
        counts, statuses = dump_contents(staging / DUMP)
        say(f"backup: database dumped ({sum(counts.values())} rows in {len(counts)} tables)")
        link = previous[-1].path / MEDIA if previous else None
        if settings.media_root.is_dir():
            _rsync(settings.media_root, staging / MEDIA, _left_out(settings), link)
        else:
            (staging / MEDIA).mkdir()
        files = file_digests(staging / MEDIA, _left_out(settings))
        say(
            f"backup: media copied ({len(files)} files"
            + (", unchanged ones linked)" if link else ")")
        )
        secrets = staging / SECRETS
        secrets.mkdir(mode=0o700)
        kept = []
        for name, source in secret_files(settings).items():
            if source.is_file():
                _copy_secret(source, secrets / name)
                kept.append(name)
        manifest = {
            "finished_at": (now + (utcnow() - started)).isoformat(),
            "database": _database(settings),
            "rows": counts,
            "post_statuses": statuses,
            "media_root": str(settings.media_root),
            "files": files,
            "secrets": kept,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        final = root / f"{now:%Y%m%d-%H%M%S}"
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pruned = prune(settings, now)
    if pruned:
        say(f"backup: removed {len(pruned)} backup(s) older than {settings.backup_keep_days} days")
    done = finished_backups(root)[-1]
    say(f"backup: {done.path} ({_size(done.path)} on disk)")
    return done


def prune(settings: Settings, now: datetime) -> list[Path]:
    """Remove backups older than WAGGLE_BACKUP_KEEP_DAYS, never the newest."""
    done = finished_backups(settings.backup_dir)
    cutoff = now - timedelta(days=settings.backup_keep_days)
    old = [b.path for b in done[:-1] if b.finished_at < cutoff]
    for path in old:
        shutil.rmtree(path)
    return old


def _size(path: Path) -> str:
    done = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=False)
    return done.stdout.split()[0] if done.returncode == 0 and done.stdout else "?"


def restore(settings: Settings, source: Path, say: Say = print) -> dict:
    """Bring a backup back: the database (dropped and loaded), the media folder (made equal
    to the backup's) and the secrets; then check rows, statuses and files against the
    manifest. Returns what was compared."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{source} is no finished backup (no readable {MANIFEST}): {exc}"
        ) from None
    if manifest["database"] != _database(settings):
        raise BackupError(
            f"the backup holds database {manifest['database']!r}, WAGGLE_DB_URL names "
            f"{_database(settings)!r}"
        )
    with _client_options(settings) as options, gzip.open(source / DUMP, "rb") as dump:
        proc = subprocess.Popen(
            ["mariadb", *options], stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None
        shutil.copyfileobj(dump, proc.stdin)
        proc.stdin.close()
        error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise BackupError(
                f"loading the dump failed ({proc.returncode}): {error.strip()[-500:]}"
            )
    from wagglebot.core.db import engine_for

    # Pooled connections still point at the database the dump dropped and made anew.
    engine_for(settings.db_url.get_secret_value()).dispose()
    say(f"restore: database {manifest['database']} loaded")
    _rsync(source / MEDIA, settings.media_root, _left_out(settings))
    say(f"restore: media folder {settings.media_root} made equal to the backup's")
    targets = secret_files(settings)
    for name in manifest.get("secrets", []):
        target = targets.get(name)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _copy_secret(source / SECRETS / name, target)
    counts, statuses = database_contents(settings)
    files = file_digests(settings.media_root, _left_out(settings))
    compared = {
        "rows": counts == manifest["rows"],
        "post_statuses": statuses == manifest["post_statuses"],
        "files": files == manifest["files"],
    }
    if not all(compared.values()):
        wrong = ", ".join(k for k, ok in compared.items() if not ok)
        raise BackupError(f"restored, but {wrong} differ from what the backup captured")
    say(
        f"restore: checked {sum(counts.values())} rows in {len(counts)} tables, "
        f"{len(statuses)} posts' statuses and {len(files)} files against the manifest: equal"
    )
    return compared
