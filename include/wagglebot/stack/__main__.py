"""Command line for the local stack: up, down, status, logs, approve, dashboard-user."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

from wagglebot.airflow_api import AirflowError
from wagglebot.config import ENV_FILE, ConfigError, load_settings
from wagglebot.stack import (
    FIRST_REVIEWER,
    ServiceError,
    Stack,
    ensure_dashboard_user,
    ensure_env_file,
    set_dashboard_user,
)
from wagglebot.stack.airflow import recorded_mode
from wagglebot.stack.main_job import produce, run_main_job
from wagglebot.stack.procs import log_tail


def _say(msg: str) -> None:
    print(msg, flush=True)


def _up(stack: Stack, run_job: bool, approve: int, new_reviewer: str | None) -> int:
    t0 = time.monotonic()
    stack.up(say=_say)
    s = stack.settings
    login = (
        f"login: {FIRST_REVIEWER} / {new_reviewer}   (generated now and shown only this once;\n"
        f"               only its hash is kept: ./wagglebot dashboard-user NAME sets another)"
        if new_reviewer
        else f"accounts: {', '.join(sorted(s.dashboard_users)) or 'none'} "
        "(./wagglebot dashboard-user NAME adds one or sets a new password)"
    )
    print(
        f"\nWaggleBot is up ({time.monotonic() - t0:.0f}s).\n"
        f"  Airflow UI   {stack.airflow.url}   login: admin / {stack.airflow.admin_password()}\n"
        f"               (generated, kept in {stack.airflow.passwords_file})\n"
        f"  Dashboard    {stack.dashboard.url}   {login}\n"
        f"  MariaDB      127.0.0.1:{stack.mariadb.port}, database {stack.mariadb.url.database}"
        f" (URL in {ENV_FILE})\n"
        f"  Media        {s.media_root}\n"
        f"  Logs         {stack.procs.log_dir}\n"
        f"  Stop with    ./wagglebot down",
        flush=True,
    )
    if not run_job:
        return 0
    print("\nRunning the main job ...", flush=True)
    return 0 if run_main_job(s, _say, approve_count=approve) else 1


def _dashboard_user(name: str | None, from_stdin: bool) -> int:
    if not name:
        print("wagglebot: dashboard-user needs a user name", file=sys.stderr)
        return 2
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"New dashboard password for {name}: ")
        if getpass.getpass("Again: ") != password:
            print("wagglebot: the passwords differ; nothing changed", file=sys.stderr)
            return 1
    if len(password) < 8:
        print("wagglebot: use at least 8 characters; nothing changed", file=sys.stderr)
        return 1
    set_dashboard_user(name, password)
    print(f"dashboard account {name} set in {ENV_FILE} (its password is kept only as a hash)")
    stack = Stack(load_settings())
    if stack.dashboard.running():  # it reads its accounts when it starts
        stack.dashboard.stop()
        stack.dashboard.start()
        print(f"restarted the dashboard at {stack.dashboard.url}")
    return 0


def _status(stack: Stack) -> int:
    print(f"mariadb             {stack.mariadb.status()}")
    if stack.airflow.celery:
        print(f"postgres            {stack.airflow.postgres.status()} (Airflow's metadata DB)")
        print(f"redis               {stack.airflow.redis.status()} (the Celery broker)")
    for component, state in stack.airflow.status().items():
        print(f"airflow-{component:<14}{state}")
    healthy = stack.airflow.healthy()
    print(f"airflow API         {'healthy at ' + stack.airflow.url if healthy else 'not healthy'}")
    print(f"dashboard           {stack.dashboard.status()}")
    print(f"sample-site         {stack.sample_site.status()}")
    print(f"fake-youtube        {stack.fake_youtube.status()}")
    return 0 if healthy and stack.dashboard.answers() and stack.mariadb.answers() else 1


def _settings(args: argparse.Namespace):
    """``up`` takes the executor from its flags (or the settings); every other command acts
    on the stack as its last ``up`` started it."""
    settings = load_settings()
    if args.command == "up":
        chosen = {"executor": args.executor, "gpu_workers": args.gpu_workers}
    else:
        chosen = recorded_mode(settings.stack_home)
    chosen = {k: v for k, v in chosen.items() if v is not None}
    settings = load_settings(**chosen) if chosen else settings
    if args.command == "up" and args.gpu_workers and settings.executor != "celery":
        raise ConfigError("--gpu-workers needs --executor celery (or WAGGLE_EXECUTOR=celery)")
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wagglebot", description=__doc__)
    parser.add_argument(
        "command", choices=["up", "down", "status", "logs", "approve", "dashboard-user"]
    )
    parser.add_argument(
        "what",
        nargs="?",
        help="logs: a service, e.g. mariadb, airflow-scheduler; approve: how many posts; "
        "dashboard-user: the user name",
    )
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="dashboard-user: read the password from standard input instead of asking",
    )
    parser.add_argument("--no-job", action="store_true", help="up: only start the services")
    parser.add_argument(
        "--executor",
        choices=["local", "celery"],
        help="up: LocalExecutor on this machine (default), or CeleryExecutor with Redis, "
        "PostgreSQL and Celery workers (WAGGLE_EXECUTOR)",
    )
    parser.add_argument(
        "--gpu-workers",
        type=int,
        metavar="N",
        help="up --executor celery: gpu-queue workers, one task each; pool gpu gets N slots "
        "(WAGGLE_GPU_WORKERS, default 1)",
    )
    parser.add_argument(
        "--approve",
        type=int,
        default=3,
        metavar="N",
        help="up: collected posts the main job approves and makes into Shorts (default 3)",
    )
    args = parser.parse_args(argv)
    try:
        new_reviewer = None
        if args.command == "up":
            for name in ensure_env_file():
                print(f"generated {name} into {ENV_FILE}")
            new_reviewer = ensure_dashboard_user()
        elif args.command == "dashboard-user":
            return _dashboard_user(args.what, args.password_stdin)
        stack = Stack(_settings(args))
        if args.command == "up":
            return _up(stack, not args.no_job, args.approve, new_reviewer)
        elif args.command == "approve":
            count = int(args.what or 3)
            return 0 if produce(stack.settings, _say, count) else 1
        elif args.command == "down":
            swept = stack.down()
            print("stopped" + (f" (and ended {swept} stray processes)" if swept else ""))
        elif args.command == "status":
            return _status(stack)
        else:
            names = (
                [args.what]
                if args.what
                else sorted(p.stem for p in stack.procs.log_dir.glob("*.log"))
            )
            for name in names:
                print(
                    f"==> {stack.procs.logfile(name)} <==\n{log_tail(stack.procs.logfile(name))}\n"
                )
    except (ConfigError, ServiceError, AirflowError, ValueError) as exc:
        print(f"wagglebot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
