"""Command line for the local stack: up, down, status, logs, approve, dashboard-user,
install-service, uninstall-service, backup and restore."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from wagglebot.core.config import ENV_FILE, ConfigError
from wagglebot.ops.backup import BackupError, backup, restore
from wagglebot.ops.health import evaluate, summary_line
from wagglebot.ops.supervision import ALERT_LISTENER, log_tail
from wagglebot.orchestration.api import AirflowError
from wagglebot_stack import (
    FIRST_REVIEWER,
    ServiceError,
    Stack,
    ensure_dashboard_user,
    ensure_env_file,
    set_dashboard_user,
    stack_settings,
    systemd,
)
from wagglebot_stack.main_job import produce, run_main_job

RESTORE_MAY_RUN = ("mariadb", ALERT_LISTENER)


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
        f"  Logs         {stack.paths.log_dir}   (./wagglebot logs [SERVICE])\n"
        f"  Supervised   each service restarts by itself; ./wagglebot status shows them\n"
        f"  Stop with    ./wagglebot down",
        flush=True,
    )
    ok = True
    if run_job:
        print("\nRunning the main job ...", flush=True)
        ok = run_main_job(s, _say, approve_count=approve)
    print(f"\n{summary_line(evaluate(s))}   (the dashboard's Health page says more)", flush=True)
    return 0 if ok else 1


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
    stack = Stack(stack_settings())
    state = (stack.supervisor.states() or {}).get(stack.dashboard.name)
    if state and state.running:  # it reads its accounts when it starts
        stack.supervisor.ctl("restart", stack.dashboard.name)
        stack.wait_answering(stack.dashboard, 60)
        print(f"restarted the dashboard at {stack.dashboard.url}")
    return 0


def _status(stack: Stack) -> int:
    """Each service: its state, uptime and restarts, whether it answers; the last lines of
    the log of one that is down. Exit 0 only when everything runs and answers."""
    if stack.supervisor.pid() is None:
        print(f"{'supervisord':<22}NOT RUNNING: nothing is watched (./wagglebot up starts it)")
    reports = stack.report()
    for report in reports:
        print(f"{report.name:<22}{report.line()}")
        if report.program and not report.program.running:
            for line in log_tail(report.program.logfile, 5).splitlines():
                print(f"{'':<22}| {line[:200]}")
    healthy = stack.airflow.healthy()
    print(f"{'airflow API':<22}{'healthy at ' + stack.airflow.url if healthy else 'NOT HEALTHY'}")
    sample = stack.settings.crawl_target == "sample"
    for fake, account in ((stack.fake_youtube, "a YouTube channel"),
                          (stack.fake_tiktok, "a TikTok account"),
                          (stack.fake_instagram, "an Instagram account")):  # fmt: skip
        if not fake.wanted:  # sample mode's stand-in, not started
            print(f"{fake.name:<22}off ({account + ' is connected' if sample else 'live mode'})")
    return 0 if healthy and all(r.answering for r in reports) else 1


def _restore(stack: Stack, folder: str | None) -> int:
    """Restore into a stopped stack: only MariaDB may run (it is started if it does not)."""
    if not folder:
        raise ValueError("restore needs the backup's folder, e.g. var/backups/20261206-030000")
    states = stack.supervisor.states() or {}
    busy = sorted(n for n, s in states.items() if s.running and n not in RESTORE_MAY_RUN)
    if busy:
        raise ServiceError(f"stop the stack first (./wagglebot down): {', '.join(busy)} running")
    if not (states.get("mariadb") and states["mariadb"].running):
        stack.up(say=_say, only=["mariadb"])
    restore(stack.settings, Path(folder), _say)
    print("restored; ./wagglebot up starts the rest of the stack")
    return 0


def _service_unit(stack: Stack, install: bool, root: Path) -> int:
    if not install:
        removed = systemd.uninstall(root)
        state = "disabled and removed" if removed else "was not installed"
        print(f"{systemd.UNIT} {state}; the stack runs on until ./wagglebot down")
        return 0
    stack.supervisor.write_config(stack.services())
    stack.supervisor_environment()
    path = systemd.install(stack.supervisor, stack.stop_seconds(), root)
    print(f"wrote and enabled {path}: the stack starts at boot and stops cleanly at shutdown")
    if not systemd.systemd_running():
        print("(systemd is not running on this machine: the unit takes effect once it is)")
    elif stack.supervisor.pid() is not None:
        print(
            f"the stack runs already: ./wagglebot down, then systemctl start {systemd.UNIT}, "
            "hands it to systemd now"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wagglebot", description=__doc__)
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "logs", "approve", "dashboard-user",
                 "install-service", "uninstall-service", "backup", "restore", "stories"],
    )  # fmt: skip
    parser.add_argument(
        "what",
        nargs="?",
        help="logs: a service, e.g. mariadb, airflow-scheduler; approve: how many posts; "
        "dashboard-user: the user name; restore: the backup's folder",
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
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="install-service, uninstall-service: the folder systemd's files are under "
        "(as systemctl --root; default /)",
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
        if args.command == "up":  # its flags (or the settings) choose the executor
            settings = stack_settings(
                for_up=True, executor=args.executor, gpu_workers=args.gpu_workers
            )
            if args.gpu_workers and settings.executor != "celery":
                raise ConfigError(
                    "--gpu-workers needs --executor celery (or WAGGLE_EXECUTOR=celery)"
                )
        else:  # the stack as its last up started it
            settings = stack_settings()
        stack = Stack(settings)
        if args.command in ("install-service", "uninstall-service"):
            return _service_unit(stack, args.command == "install-service", args.root)
        if args.command == "up":
            return _up(stack, not args.no_job, args.approve, new_reviewer)
        elif args.command == "approve":
            count = int(args.what or 3)
            return 0 if produce(stack.settings, _say, count) else 1
        elif args.command == "down":
            swept = stack.down()
            print("stopped" + (f" (and ended {swept} left-over processes)" if swept else ""))
        elif args.command == "status":
            return _status(stack)
        elif args.command == "backup":
            backup(stack.settings, _say)
        elif args.command == "restore":
            return _restore(stack, args.what)
        elif args.command == "stories":  # numpy, datasketch, imagehash: only for this one
            from wagglebot.crawl.story_table import StoriesBusy, group_stored_posts

            _say("grouping stored posts that have no story yet into stories ...")
            try:
                figures = group_stored_posts(stack.settings)
            except StoriesBusy as exc:
                print(f"wagglebot: {exc}", file=sys.stderr)
                return 1
            print(
                f"{figures['grouped']} post(s) grouped ({figures['joined']} joined another "
                f"post's story); {figures['stories']} stories, "
                f"{figures['stories_on_several_sites']} on several communities"
            )
        else:
            names = (
                [args.what]
                if args.what
                else sorted(p.stem for p in stack.paths.log_dir.glob("*.log"))
            )
            for name in names:
                print(
                    f"==> {stack.paths.logfile(name)} <==\n{log_tail(stack.paths.logfile(name))}\n"
                )
    except (ConfigError, ServiceError, AirflowError, BackupError, ValueError) as exc:
        print(f"wagglebot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
