"""Alerts from inside Airflow, through its apprise provider and the apprise_default
connection the stack defines from WAGGLE_ALERT_URLS (wagglebot.ops.alerts).

``TaskFailureNotifier`` is every DAG's on_failure_callback; ``deliver`` sends the
watch_health DAG's messages. Imported by DAG files: only airflow.sdk at import time.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)
CONN_ID = "apprise_default"
# The produce and publish DAGs' first task hands the run's posts to the rest.
POSTS_TASKS = ("claim",)


def deliver(title: str, body: str, kind: str) -> None:
    """Send through the apprise_default connection (the stack defines it from
    WAGGLE_ALERT_URLS; elsewhere, as under Docker Compose, those URLs are used as they
    are). Raise when no service took the message: the provider's own notify only logs a
    failed delivery, and a lost alert must fail its task."""
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    from wagglebot.core.config import get_settings
    from wagglebot.ops.alerts import ALERT_TAG, AlertNotDelivered, alert_urls

    hook, sender = AppriseHook(CONN_ID), apprise.Apprise()
    try:
        hook.set_config_from_conn(conn=hook.get_connection(CONN_ID), apprise_obj=sender)
    except Exception as exc:  # Airflow raises its own not-found types
        log.info("no %s connection (%s): using WAGGLE_ALERT_URLS", CONN_ID, type(exc).__name__)
        for url in alert_urls(get_settings()):
            sender.add(url, tag=ALERT_TAG)
    if not len(sender):
        raise AlertNotDelivered("no alert service is set up (WAGGLE_ALERT_URLS)")
    if not sender.notify(body=body, title=title, notify_type=kind, tag="all"):
        raise AlertNotDelivered(f"no alert service took the message {title!r}")


def log_link(ui_url: str, ti: Any) -> str:
    """Where a person reads the task's log in the Airflow UI."""
    mapped = f"/mapped/{ti.map_index}" if (ti.map_index or -1) >= 0 else ""
    return (
        f"{ui_url.rstrip('/')}/dags/{ti.dag_id}/runs/{quote(ti.run_id)}/tasks/{ti.task_id}"
        f"{mapped}?try_number={ti.try_number}"
    )


class TaskFailureNotifier(BaseNotifier):
    """Tells the owner a task failed: which task of which run, the posts it worked on,
    the error and the log's address. A failed delivery is logged by Airflow, never raised
    into the task's own outcome."""

    def notify(self, context: Any) -> None:
        from wagglebot.core.config import get_settings
        from wagglebot.ops.alerts import alert_urls, redact

        settings = get_settings()
        if not alert_urls(settings):
            return
        ti = context["ti"]
        what = f"{ti.dag_id}.{ti.task_id}"
        if (ti.map_index or -1) >= 0:
            what += f"[{getattr(ti, 'rendered_map_index', None) or ti.map_index}]"
        lines = [f"Task {what} failed (try {ti.try_number}), run {ti.run_id}."]
        if posts := _posts(ti):
            lines.append("Posts: " + ", ".join(f"#{p}" for p in posts))
        if error := context.get("exception"):
            lines.append(f"Error: {type(error).__name__}: {str(error)[:800]}")
        lines.append(f"Log: {log_link(settings.airflow_ui_url, ti)}")
        deliver(f"WaggleBot: {what} failed", redact("\n".join(lines), settings), "failure")


def _posts(ti: Any) -> list[int]:
    for task_id in POSTS_TASKS:
        try:
            found = ti.xcom_pull(task_ids=task_id)
        except Exception as exc:  # a DAG without the task, or no XCom yet
            log.debug("no posts from %s: %s", task_id, exc)
            continue
        if isinstance(found, list) and all(isinstance(p, int) for p in found):
            return found
    return []
