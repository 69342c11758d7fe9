"""Airflow's ``[core] hostname_callable``: the name a task instance records as its host.

On a real cluster every worker has a host of its own and the machine's name is
right (the default). The local celery mode runs several workers on one machine,
so each gets its Celery node name (``gpu-1@host``) in WAGGLE_WORKER_NODE: the
task instance then says which worker ran it, and a URL built from it
(``http://gpu-1@host:8793/...``, the log server) still reaches the host.
Kept free of imports: every task process calls it.
"""

from __future__ import annotations

import os
import socket

NODE_VAR = "WAGGLE_WORKER_NODE"


def hostname() -> str:
    return os.environ.get(NODE_VAR) or socket.getfqdn()
