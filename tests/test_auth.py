"""Dashboard accounts: scrypt hashes only, a throttle on guessing, .env written 0600."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values
from wagglebot_stack import ensure_dashboard_user, set_dashboard_user

from wagglebot.core.config import ConfigError, load_settings
from wagglebot.review.auth import LoginThrottle, check_login, hash_password, verify_password

from conftest import REPO


def test_a_hash_verifies_its_password_only_and_is_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt:14:8:1:")
    assert "$" not in first
    assert verify_password("correct horse", first)
    assert verify_password("correct horse", second)
    assert not verify_password("correct hors", first)
    assert not verify_password("correct horse", "plain-text-password")
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_guessing_is_throttled_and_says_nothing_about_which_part_was_wrong() -> None:
    users = {"alice": hash_password("s3cret-pass")}
    throttle = LoginThrottle(limit=3, window=60, lockout=30)
    assert check_login(users, throttle, "nobody", "x") == "Wrong user name or password."
    assert check_login(users, throttle, "alice", "x") == "Wrong user name or password."
    assert check_login(users, throttle, "alice", "s3cret-pass") is None  # a success resets
    for _ in range(3):
        check_login(users, throttle, "alice", "guess")
    locked = check_login(users, throttle, "alice", "s3cret-pass")
    assert locked is not None
    assert locked.startswith("Too many failed logins")
    assert check_login(users, throttle, "bob", "x") == "Wrong user name or password."


def test_accounts_are_written_to_env_as_hashes_and_read_back(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("WAGGLE_DB_URL=mysql+mysqldb://u:p@127.0.0.1:1/d\n")
    env.chmod(0o644)
    password = ensure_dashboard_user(env)
    assert password
    assert len(password) >= 12
    assert ensure_dashboard_user(env) is None  # only the first time
    set_dashboard_user("bob", "bobs-password", env)
    set_dashboard_user("bob", "bobs-new-password", env)  # a new password replaces the old
    text = env.read_text()
    assert password not in text
    assert "bobs-new-password" not in text
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert text.startswith("WAGGLE_DB_URL=")  # what was there stays
    users = json.loads(dotenv_values(env)["WAGGLE_DASHBOARD_USERS"])
    assert sorted(users) == ["bob", "reviewer"]
    settings = load_settings(_env_file=env)
    assert verify_password(password, settings.dashboard_users["reviewer"])
    assert verify_password("bobs-new-password", settings.dashboard_users["bob"])
    assert not verify_password("bobs-password", settings.dashboard_users["bob"])


def test_a_plain_password_in_the_setting_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("WAGGLE_DB_URL", "mysql+mysqldb://u:p@127.0.0.1:1/d")
    monkeypatch.setenv("WAGGLE_DASHBOARD_USERS", '{"alice": "hunter2"}')
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert "WAGGLE_DASHBOARD_USERS" in str(info.value)
    assert "not a password hash" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_the_cli_sets_an_account_from_stdin(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    done = subprocess.run(
        [sys.executable, "-m", "wagglebot_stack", "dashboard-user", "carol", "--password-stdin"],
        input="carols-password\n",
        env={
            "WAGGLE_ENV_FILE": str(env),
            "WAGGLE_DB_URL": "mysql+mysqldb://u:p@127.0.0.1:1/d",
            "WAGGLE_STACK_HOME": str(tmp_path / "var"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "carols-password" not in done.stdout + done.stderr + env.read_text()
    users = json.loads(dotenv_values(env)["WAGGLE_DASHBOARD_USERS"])
    assert verify_password("carols-password", users["carol"])
    short = subprocess.run(
        [sys.executable, "-m", "wagglebot_stack", "dashboard-user", "dave", "--password-stdin"],
        input="short\n",
        env={"WAGGLE_ENV_FILE": str(env), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr
