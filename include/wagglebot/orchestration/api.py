"""A small client for Airflow's REST API v2: how WaggleBot asks Airflow to do work.

It logs in with a username and password (the dashboard's user-role account by
default), keeps the JWT, and logs in again once when the API refuses the token:
401 when it expired, 403 "Invalid JWT token" when its signature no longer checks
(the API's JWT secret changed).
"""

from __future__ import annotations

import time
from typing import Any

import requests

from wagglebot.core.config import Settings


class AirflowError(RuntimeError):
    pass


def _log_line(entry: object) -> str:
    """A structured log entry as text; a failure's exception with its last frames."""
    if not isinstance(entry, dict):
        return str(entry)
    line = str(entry.get("event", ""))
    for error in entry.get("error_detail") or []:
        frames = error.get("frames") or []
        where = "; ".join(f"{f.get('filename')}:{f.get('lineno')} {f.get('name')}"
                          for f in frames[-3:])  # fmt: skip
        line += f"\n  {error.get('exc_type')}: {error.get('exc_value')}  [{where}]"
    return line


def _token_refused(resp: requests.Response) -> bool:
    if resp.status_code == 401:
        return True
    if resp.status_code != 403:
        return False
    try:
        return resp.json().get("detail") == "Invalid JWT token"
    except ValueError:
        return False


def health(base_url: str, timeout: float = 3) -> dict[str, Any]:
    """Airflow's health JSON (no login needed): each part's status and, for the
    scheduler, dag processor and triggerer, their latest heartbeat; {} when the API
    server does not answer. Its HTTP status is 200 even when a part is unhealthy."""
    try:
        body = requests.get(f"{base_url.rstrip('/')}/api/v2/monitor/health", timeout=timeout)
        return body.json() if body.ok else {}
    except (requests.RequestException, ValueError):
        return {}


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self._password = username, password
        self.timeout = timeout
        self._token: str | None = None
        self.http = requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings) -> AirflowClient:
        if settings.airflow_password is None:
            raise AirflowError("WAGGLE_AIRFLOW_PASSWORD is not set: no way to log in to Airflow")
        return cls(
            settings.airflow_api_url,
            settings.airflow_username,
            settings.airflow_password.get_secret_value(),
        )

    def _login(self) -> str:
        resp = self.http.post(
            f"{self.base_url}/auth/token",
            timeout=self.timeout,
            json={"username": self.username, "password": self._password},
        )
        if resp.status_code not in (200, 201):
            raise AirflowError(
                f"Airflow login as {self.username!r} failed: HTTP {resp.status_code}"
            )
        return resp.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            resp = self.http.request(
                method,
                f"{self.base_url}/api/v2{path}",
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self._token}"},
                **kwargs,
            )
            if _token_refused(resp) and attempt == 1:  # expired or re-keyed: log in again
                self._token = None
                continue
            if resp.status_code >= 400:
                raise AirflowError(f"{method} {path}: HTTP {resp.status_code}: {resp.text[:500]}")
            return resp.json() if resp.content else None
        raise AirflowError(f"{method} {path}: still unauthorised after logging in again")

    def trigger(
        self, dag_id: str, conf: dict[str, Any] | None = None, note: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def active_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Runs of the DAG that are queued or running, newest first."""
        params = {"state": ["queued", "running"], "order_by": "-run_after"}
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait(
        self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 2
    ) -> dict[str, Any]:
        """The run once it has finished (success or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise AirflowError(f"{dag_id} run {run_id} still {run['state']} after {timeout}s")
            time.sleep(poll)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.request("GET", path, params={"limit": 1000})["task_instances"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> str:
        """One try's log as text, one line per event."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self.request("GET", path, params={"map_index": map_index})["content"]
        return "\n".join(_log_line(e) for e in content or [])

    def why_failed(self, dag_id: str, run_id: str, tail: int = 40) -> str:
        """The last lines of each failed task's last try: what a person opens first."""
        parts = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] not in ("failed", "upstream_failed") or not ti.get("try_number"):
                continue
            task, n, index = ti["task_id"], ti["try_number"], ti["map_index"]
            label = f"{task}[{index}] try {n} ({ti['state']})"
            try:
                log = self.task_log(dag_id, run_id, task, n, index)
            except AirflowError as exc:
                log = f"(no log: {exc})"
            parts.append(f"--- {label}\n" + "\n".join(log.splitlines()[-tail:]))
        return "\n".join(parts) or f"{dag_id} run {run_id}: no failed task"

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.request("GET", path, params={"map_index": map_index})["value"]

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed it (new files take a few seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.request("GET", f"/dags/{dag_id}")
            except AirflowError as exc:
                if "HTTP 404" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(2)
