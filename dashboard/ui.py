"""What every dashboard page shares: the login, the database, Airflow, safe text, paging.

Crawled text never reaches Streamlit's Markdown unescaped (``md``): titles, bodies
and comments are shown with ``st.text`` or escaped, so a post cannot inject links,
images, colours or HTML into the page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.delta_generator import DeltaGenerator

from wagglebot.core.config import Settings, get_settings
from wagglebot.core.db import settings_session
from wagglebot.core.db.models import utcnow
from wagglebot.core.post_files import previews_folder
from wagglebot.core.states import IllegalTransition, PostNotFound, TransitionError
from wagglebot.core.statuses import UploadState
from wagglebot.crawl.sites import picture_sources
from wagglebot.ops.health import Check, Level, evaluate, worst
from wagglebot.ops.supervision import log_tail, watch
from wagglebot.orchestration.api import AirflowClient, AirflowError
from wagglebot.orchestration.api import health as airflow_health
from wagglebot.orchestration.dag_ids import PRODUCE_DAG
from wagglebot.publish.platforms import NAMES as PLATFORM_NAMES
from wagglebot.review.auth import LoginThrottle, check_login
from wagglebot.review.decisions import request_publishing, request_sweep
from wagglebot.review.picture_preview import PicturePreviews
from wagglebot.review.queries import Attempt, PlatformUpload

SESSION_HOURS = 12
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=^&\"'])")
# GFM turns bare addresses into links after escapes are undone; a word joiner (U+2060,
# invisible) inside each keeps them text: "://", "www." and the "@" of an e-mail address.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def md(text: str) -> str:
    """``text`` as literal Markdown: every punctuation mark that could start syntax
    (links, images, emphasis, HTML, Streamlit's :colour[] and $maths$) is escaped,
    and bare web and e-mail addresses are kept from becoming links."""
    flat = _AUTOLINK.sub("\u2060", " ".join(text.split()))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def settings() -> Settings:
    return get_settings()


@contextmanager
def db() -> Iterator[Session]:
    with settings_session(settings()) as session:
        yield session


# --- login -------------------------------------------------------------------------------


@st.cache_resource
def _throttle() -> LoginThrottle:
    return LoginThrottle()


def current_user() -> str | None:
    user, since = st.session_state.get("user"), st.session_state.get("login_at", 0.0)
    if user and time.time() - since < SESSION_HOURS * 3600:
        return user
    st.session_state.pop("user", None)
    return None


def login_form() -> None:
    st.title("WaggleBot review")
    users = settings().dashboard_users
    if not users:
        st.error(
            "No dashboard account is set up, so nobody can log in. On the server, run "
            "`./wagglebot dashboard-user NAME` to create one."
        )
        return
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        problem = check_login(users, _throttle(), name.strip(), password)
        if problem:
            st.error(problem)
            return
        st.session_state["user"], st.session_state["login_at"] = name.strip(), time.time()
        st.rerun()


def log_out() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


# --- messages that survive the rerun an action causes ------------------------------------


def flash(kind: str, message: str) -> None:
    st.session_state.setdefault("flashes", []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop("flashes", []):
        getattr(st, kind)(message)


Decision = Callable[..., tuple[list[int], list[TransitionError]]]  # (session, ids, by=)


def decide(
    act: Decision,
    post_ids: list[int],
    verb: str,
    *,
    picks: str | None = None,
    sweep: str | None = None,
) -> None:
    """Apply a person's decision to posts and tell them what came of it: which moved,
    which someone else had moved first. ``picks``: the prefix of the posts' selection
    boxes, cleared; ``sweep``: ask Airflow for a run with this note ({n}, {user})."""
    user = current_user()
    if not post_ids or user is None:
        return
    with db() as session:
        moved, refused = act(session, post_ids, by=user)
    for post_id in post_ids if picks else ():
        st.session_state.pop(f"{picks}-{post_id}", None)
    if moved:
        flash("success", f"{verb.capitalize()} {len(moved)} post(s): {', '.join(map(str, moved))}.")
        if sweep:
            ask_for_sweep(sweep.format(n=len(moved), user=user))
    report_refusals(refused, verb)


def decide_one(
    act: Callable[[Session, str], object], verb: str, done: str, sweep: str | None = None
) -> bool:
    """One post's decision, as ``decide`` makes many: ``act(session, user)`` moves it (a
    transition another person made first is reported), ``done`` is said, and Airflow is
    asked for a sweep noted ``sweep`` ({user}). True when it moved."""
    user = current_user()
    if user is None:
        return False
    try:
        with db() as session:
            act(session, user)
    except TransitionError as exc:
        report_refusals([exc], verb)
        return False
    flash("success", done)
    if sweep:
        ask_for_sweep(sweep.format(user=user))
    return True


def report_refusals(refused: list[TransitionError], verb: str) -> None:
    """Tell the person which posts someone else had already moved, and to where."""
    for exc in refused:
        if isinstance(exc, IllegalTransition):
            who = f" by {exc.by}" if exc.by else ""
            flash(
                "warning",
                f"Post {exc.post_id} was not {verb}: it is already {exc.current.title()}{who}.",
            )
        elif isinstance(exc, PostNotFound):
            flash("warning", f"Post {exc.post_id} was not {verb}: it no longer exists.")
        else:
            flash("warning", f"Not {verb}: {exc}")


# --- Airflow -----------------------------------------------------------------------------


@st.cache_resource
def _airflow(url: str, user: str) -> AirflowClient:
    # One client (and token) per process; the arguments only key the cache to the settings.
    return AirflowClient.from_settings(settings())


def ask_for_sweep(note: str) -> None:
    """Ask Airflow for a produce_shorts run; say what came of it (the work is Airflow's)."""
    s = settings()
    try:
        run = request_sweep(_airflow(s.airflow_api_url, s.airflow_username), note=note)
    except (AirflowError, OSError) as exc:
        flash(
            "warning",
            f"Airflow could not be asked to start: {exc}. The posts wait in the queue; "
            f"{PRODUCE_DAG} also runs every 20 minutes on its own.",
        )
        return
    flash("info", f"Airflow is on it: {PRODUCE_DAG} run {run['dag_run_id']} ({run['state']}).")


def ask_to_publish(post_ids: list[int], note: str, platforms: list[str] | None = None) -> None:
    """Ask Airflow for a publish_shorts run of these posts on ``platforms`` (None: the
    settings' choice); say what came of it."""
    s = settings()
    try:  # the client too: without Airflow's password it cannot be made
        client = _airflow(s.airflow_api_url, s.airflow_username)
        run = request_publishing(client, post_ids, note, platforms=platforms)
    except (AirflowError, OSError) as exc:
        flash(
            "warning",
            f"Airflow could not be asked to publish: {exc}. The Shorts stay marked; the "
            "next publish_shorts run (its schedule, or a manual trigger) takes them.",
        )
        return
    flash("info", f"Airflow is on it: publish_shorts run {run['dag_run_id']} ({run['state']}).")


def task_log_url(attempt: Attempt) -> str | None:
    """The Airflow UI page of the task try a stage attempt ran in (its log first)."""
    if not (attempt.dag_id and attempt.run_id and attempt.task_id):
        return None
    parts = [attempt.dag_id, "runs", attempt.run_id, "tasks", attempt.task_id]
    if attempt.map_index is not None and attempt.map_index >= 0:
        parts += ["mapped", str(attempt.map_index)]
    path = "/".join(quote(p, safe="") for p in parts)
    query = f"?try_number={attempt.try_number}" if attempt.try_number else ""
    return f"{settings().airflow_ui_url.rstrip('/')}/dags/{path}{query}"


# --- a Short on each platform -------------------------------------------------------------

NOTE_CHARS = 300  # of a platform's note (a refusal can run long); the log has all of it


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


def upload_line(upload: PlatformUpload, off: str | None = None) -> str:
    """One platform's upload as safe Markdown: published (privacy, when, who asked),
    uploading, failed (the platform's reason), or waiting (why: quota, or the platform is
    ``off`` here). The platform's words are escaped, like crawled text."""
    name = f"**{platform_name(upload.platform)}**"
    why = upload.note or (off if upload.state is UploadState.WAITING else None)
    note = f": {md(clip_note(why))}" if why else ""
    if upload.state is UploadState.PUBLISHED:
        privacy = f" · {md(upload.privacy)}" if upload.privacy else ""
        asked = f" · asked by {md(upload.requested_by)}" if upload.requested_by else ""
        return (
            f":material/check_circle: {name}{privacy} · "
            f"published {local(upload.uploaded_at)}{asked}"
        )
    if upload.state is UploadState.UPLOADING:
        done = upload_done(upload.bytes_sent, upload.total_bytes)
        return f":material/upload: {name} · uploading: {done}"
    if upload.state is UploadState.FAILED:
        return f":red[:material/error: {name} · failed{note or ' (no reason given)'}]"
    if upload.requested_at is None:  # withdrawn before a run took it; the note says why
        return f":material/block: {name} · not asked for{note}"
    asked = ago(upload.requested_at)
    return f":material/schedule: {name} · waiting to be published (asked {asked}){note}"


def upload_done(sent: int, total: int | None) -> str:
    """Bytes sent of the total, or "starting" before the platform took the session."""
    return f"{sent / 2**20:.1f} of {total / 2**20:.1f} MiB" if total else "starting"


def upload_fraction(sent: int, total: int | None) -> float:
    return min(sent / total, 1.0) if total else 0.0


def clip_note(text: str) -> str:
    return text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"


# --- the services' health ----------------------------------------------------------------


def service_banner() -> None:
    """A red banner on every page while a service of the local stack is not running, or
    nothing watches them; the last lines of a down service's log say why."""
    state = watch(settings().stack_home)
    if state is None:  # no local stack here (Docker Compose runs its own restarts)
        return
    if not state.supervised:
        st.error(
            "The stack's supervisor (supervisord) is not running: a service that stops "
            "now stays stopped. Run `./wagglebot up` on the server to bring it back.",
            icon=":material/error:",
        )
        return
    for program in state.down:
        st.error(
            f"Service **{md(program.name)}** is {md(program.state)}: "
            f"{md(program.description or 'not running')}. "
            + (
                "It was started too often without staying up, so it is left stopped; "
                "fix the cause in its log, then `./wagglebot up` starts it again."
                if program.state == "FATAL"
                else "The supervisor is starting it again."
            ),
            icon=":material/error:",
        )
        st.code(log_tail(program.logfile, 5), language=None)


HEALTH_SECONDS = 30  # a page shows health at most this old; the Health page can ask anew


@st.cache_data(ttl=HEALTH_SECONDS, show_spinner=False)
def health_checks() -> list[Check]:
    """Every health check (wagglebot.ops.health), remembered, shared by every page and user."""
    return evaluate(settings())


def health_summary(checks: list[Check]) -> str:
    """How many checks fail, e.g. "2 red, 1 amber"; "all green" when none does."""
    counts = {lv: sum(c.level is lv for c in checks) for lv in (Level.RED, Level.AMBER)}
    said = [f"{n} {lv.value}" for lv, n in counts.items() if n]
    return ", ".join(said) or "all green"


def health_banner() -> None:
    """A line on every page while a check is red or amber, naming them; the Health page
    says why. (Markdown, not st.error: the page's own messages stay its own.)"""
    failing = sorted((c for c in health_checks() if c.failing), key=lambda c: -c.level.rank)
    if not failing:
        return
    colour = "red" if worst(failing) is Level.RED else "orange"
    names = ", ".join(md(c.name) for c in failing[:6]) + (" …" if len(failing) > 6 else "")
    st.markdown(
        f":{colour}-background[:material/monitor_heart: Health: "
        f"{health_summary(failing)} ({names}). See the Health page.]"
    )


def scheduler_heartbeat() -> None:
    """When Airflow's scheduler last heartbeated: without it nothing is crawled or made."""
    health = airflow_health(settings().airflow_api_url)
    scheduler = health.get("scheduler", {})
    beat = scheduler.get("latest_scheduler_heartbeat")
    when = datetime.fromisoformat(beat).astimezone(UTC).replace(tzinfo=None) if beat else None
    if not health:
        st.error(
            f"Airflow's API server does not answer at {settings().airflow_api_url}: no crawl "
            "or production is scheduled while it is down."
        )
    elif scheduler.get("status") != "healthy":
        st.error(
            f"Airflow's scheduler last heartbeated {ago(when) if when else 'never'}: the "
            "hourly crawl and production are stopped until it runs again."
        )
    else:
        st.caption(f"Airflow's scheduler last heartbeated {ago_precise(when)}.")


# --- small formatting helpers ------------------------------------------------------------


def local(dt: datetime | None) -> str:
    if dt is None:
        return "-"
    zone = ZoneInfo(settings().timezone)
    return dt.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def ago_seconds(dt: datetime) -> float:
    return (utcnow() - dt).total_seconds()


def ago(dt: datetime | None) -> str:
    if dt is None:
        return "-"
    seconds = ago_seconds(dt)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return "just now"


def ago_precise(dt: datetime | None) -> str:
    """``ago`` to the second under a minute (a heartbeat comes every few seconds)."""
    if dt is None:
        return "-"
    seconds = ago_seconds(dt)
    return f"{max(0, seconds):.0f} s ago" if seconds < 60 else ago(dt)


def count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


@st.cache_resource
def _previews(folder: str, user_agent: str) -> PicturePreviews:
    return PicturePreviews(Path(folder), user_agent=user_agent)


def pictures(where: DeltaGenerator, site_code: str, urls: list[str], post_url: str) -> None:
    """A post's pictures, as bytes the dashboard fetched and checked itself (the reviewer's
    browser never asks a crawled host for anything); a labelled placeholder for each that
    could not be shown."""
    s = settings()
    previews = _previews(str(previews_folder(s)), s.user_agent)
    for picture in previews.get_many(urls, picture_sources(site_code, s), web_url(post_url)):
        if picture.data:
            where.image(picture.data, width=160)
        else:
            where.caption(
                f":material/hide_image: Picture not shown: {md(picture.problem or 'unknown')}"
            )


def web_url(url: str) -> str | None:
    """A crawled URL only when it is plain http(s): never javascript: or data:."""
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def md_link(label: str, url: str) -> str:
    """A Markdown link to a crawled ``url`` (plain http(s) only; else the label alone),
    its label escaped and the address's own brackets and spaces percent-encoded."""
    if not (safe := web_url(url)):
        return md(label)
    for char, code in (("(", "%28"), (")", "%29"), (" ", "%20"), ("<", "%3C"), (">", "%3E")):
        safe = safe.replace(char, code)
    return f"[{md(label)}]({safe})"


def page_of(key: str) -> int:
    """The page (1-based) a paged list shows now."""
    return max(int(st.session_state.get(key, 1)), 1)


def pager(key: str, total: int, per_page: int) -> None:
    """Previous/next buttons for a list of ``total`` rows shown ``per_page`` at a time."""
    pages = max(1, -(-total // per_page))
    if page_of(key) > pages:  # the last page emptied (its posts were approved): step back
        st.session_state[key] = pages
        st.rerun()
    page = page_of(key)
    if pages == 1:
        return
    prev, label, nxt = st.columns([1, 4, 1], vertical_alignment="center")
    prev.button("◀ Previous", key=f"{key}-prev", disabled=page <= 1, on_click=_turn, args=(key, -1))
    label.caption(f"Page {page} of {pages} · {total:,} in all")
    nxt.button("Next ▶", key=f"{key}-next", disabled=page >= pages, on_click=_turn, args=(key, 1))


def _turn(key: str, step: int) -> None:
    st.session_state[key] = page_of(key) + step
