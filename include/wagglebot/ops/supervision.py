"""What supervisord says of the local stack's services, read over its XML-RPC socket: the
health checks, the dashboard's banner and the stack's own commands all read it here.
Nothing here starts or stops anything (that is wagglebot_stack.supervisor)."""

from __future__ import annotations

import socket
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport, UnixStreamHTTPConnection

RUNNING = "RUNNING"
# supervisord's own alerts (wagglebot_stack.alert_listener) and the events it hears.
ALERT_LISTENER = "alert-listener"
ALERT_EVENTS = "PROCESS_STATE_FATAL,PROCESS_STATE_EXITED"


@dataclass(frozen=True)
class ProgramState:
    """One program as supervisord sees it."""

    name: str
    state: str  # STARTING, RUNNING, BACKOFF, STOPPING, STOPPED, EXITED, FATAL, UNKNOWN
    pid: int
    uptime_s: float
    description: str  # supervisord's own words, e.g. "Exited too quickly ..."
    logfile: Path

    @property
    def running(self) -> bool:
        return self.state == RUNNING


class _TimedConnection(UnixStreamHTTPConnection):
    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.socketfile)


class _TimedTransport(SupervisorTransport):
    """supervisor's transport with a timeout: a hung supervisord must not hang a page."""

    def __init__(self, socket_file: Path) -> None:
        super().__init__(serverurl=f"unix://{socket_file}")

        def connect() -> _TimedConnection:
            conn = _TimedConnection("localhost")
            conn.socketfile = str(socket_file)
            return conn

        self._get_connection = connect


def rpc(socket_file: Path) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy("http://localhost", transport=_TimedTransport(socket_file))


def supervisor_socket(stack_home: Path) -> Path:
    """Where the local stack's supervisord listens (a 0700 Unix socket)."""
    return stack_home / "run" / "supervisor.sock"


def service_log(stack_home: Path, name: str) -> Path:
    """Where the local stack's service ``name`` logs."""
    return stack_home / "log" / f"{name}.log"


def read_states(socket_file: Path) -> dict[str, ProgramState] | None:
    """Every program by name, from the supervisord on ``socket_file``; None when none
    answers there."""
    if not socket_file.exists():
        return None
    try:
        infos = rpc(socket_file).supervisor.getAllProcessInfo()
    except (OSError, xmlrpc.client.Error):
        return None
    return {
        i["name"]: ProgramState(
            name=i["name"],
            state=i["statename"],
            pid=i["pid"],
            uptime_s=float(i["now"] - i["start"]) if i["statename"] == RUNNING else 0.0,
            description=i["spawnerr"] or i["description"],
            logfile=Path(i["stdout_logfile"]),
        )
        for i in infos
    }


@dataclass(frozen=True)
class Watch:
    """What a person must know about the stack's services: is anyone watching them, and
    which are down."""

    supervised: bool  # False: supervisord is gone, nothing restarts what stops
    down: list[ProgramState]


def watch(stack_home: Path) -> Watch | None:
    """The services' watch for the dashboard; None where no local stack runs (compose)."""
    sock = supervisor_socket(stack_home)
    if not sock.exists():
        return None
    states = read_states(sock)
    if states is None:
        return Watch(supervised=False, down=[])
    return Watch(supervised=True, down=[s for s in states.values() if not s.running])


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])
