"""How supervisord starts each service: ``python -m wagglebot_stack.launch NAME``.

In order: end what hard deaths left behind (a killed scheduler's log server and
workers, servers whose supervisord was killed; wagglebot_stack.leftovers), note
this start, make the service ready (data folder, config file, the databases it needs),
refuse a port something else holds, then exec the server itself, so the pid
supervisord watches is the server's. Whatever stops it is written to the
service's log, where ``status`` and the dashboard show it, and the non-zero exit
makes supervisord try again.
"""

from __future__ import annotations

import os
import pwd
import sys
import time

from wagglebot.core.config import ConfigError
from wagglebot_stack import Stack, stack_settings
from wagglebot_stack.leftovers import end_leftovers, record_launch
from wagglebot_stack.procs import ServiceError, refuse_busy_ports


def _become(user: str) -> None:
    """Drop root for ``user`` (a server that refuses to run as root)."""
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main(argv: list[str]) -> int:
    name = argv[0] if argv else ""
    try:
        stack = Stack(stack_settings())
        service = stack.service(name)
        ended = end_leftovers(stack.paths, os.getppid())  # the parent: supervisord
        record_launch(stack.paths, name)
        print(f"==== {time.strftime('%F %T')} starting {name} ====", flush=True)
        if ended:
            print(f"ended {ended} processes left over from a program or supervisord that died")
        stack.prepare(service.requires)
        service.before_start()
        refuse_busy_ports(service.ports())
        command, env = service.argv(), service.env()
        os.chdir(service.cwd)
        user = service.run_as()
        if user:
            _become(user)
    except (ServiceError, ConfigError, OSError) as exc:
        print(f"wagglebot: cannot start {name}: {exc}", file=sys.stderr, flush=True)
        return 1
    os.execvpe(command[0], command, env)  # noqa: S606 - the service's own argv, no shell


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
