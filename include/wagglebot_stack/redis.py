"""A private Redis server from Debian's packages: the Celery broker in celery mode.

Loopback only, a generated password (in a 0600 config file, never on the command
line where ``ps`` shows it), and an append-only file so queued task messages
survive a restart of the broker.
"""

from __future__ import annotations

from wagglebot_stack.procs import Service, StackPaths, debian_binary

NAME = "redis"


class Redis(Service):
    name = NAME
    priority = 100

    def __init__(self, paths: StackPaths, port: int, password: str) -> None:
        super().__init__(paths, port)
        self.password = password
        self.datadir = paths.home / "redis"
        self.config = paths.run_dir / "redis.conf"
        self.url = f"redis://:{password}@127.0.0.1:{port}/0"

    def before_start(self) -> None:
        """The config file, written anew each start (the password may have changed)."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.paths.run_dir.mkdir(parents=True, exist_ok=True)
        text = "\n".join(
            [
                "bind 127.0.0.1",
                f"port {self.port}",
                f"dir {self.datadir}",
                "appendonly yes",
                'save ""',
                "protected-mode yes",
                "daemonize no",  # supervisord watches the process it started
                f"requirepass {self.password}",
                "",
            ]
        )
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(self.config)

    def argv(self) -> list[str]:
        return [debian_binary("redis-server", "redis-server"), str(self.config)]

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=2).ping())
        except redis.RedisError:
            return False
