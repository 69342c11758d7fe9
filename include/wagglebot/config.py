"""The one settings object: read from WAGGLE_* environment variables and .env.

Every part of WaggleBot (DAG tasks, Scrapy, the dashboard, the stack command)
reads its configuration here. A missing or invalid value stops the program
with a message naming the environment variable, never the value (it may be a
secret).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "WAGGLE_"
REPO_ROOT = Path(__file__).resolve().parents[2]
# Who we are and how to reach us, on every request to a community site.
USER_AGENT_TEMPLATE = (
    "WaggleBot/0.1 (+{contact}; Korean community digest for human-reviewed Shorts)"
)
ENV_FILE = Path(os.environ.get(f"{ENV_PREFIX}ENV_FILE", REPO_ROOT / ".env"))


class ConfigError(RuntimeError):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # The app database (MariaDB). SQLAlchemy URL, e.g.
    # mysql+mysqldb://wagglebot:PASSWORD@127.0.0.1:3307/wagglebot?charset=utf8mb4
    db_url: SecretStr
    # Where scripts, audio, videos and thumbnails are written.
    media_root: Path = REPO_ROOT / "var" / "media"
    # The dashboard's checked copies of posts' pictures (default <media_root>/previews).
    preview_cache: Path | None = None

    # Airflow's REST API, as the dashboard uses it (a user-role account). Defaults to the
    # local stack's own API server (airflow_port).
    airflow_api_url: str = ""
    airflow_username: str = "dashboard"
    airflow_password: SecretStr | None = None
    # Where a person's browser reaches the Airflow UI (task log links); defaults to the API.
    airflow_ui_url: str = ""

    # The review dashboard's accounts: a JSON object of user name -> scrypt hash
    # (wagglebot.auth; `./wagglebot dashboard-user NAME` writes it). None: nobody may log in.
    dashboard_users: dict[str, str] = {}
    # A post in production with no stage activity for this long is marked stalled.
    stall_minutes: int = Field(15, ge=1)
    # The time zone the dashboard shows times and takes dates in.
    timezone: str = "Asia/Seoul"

    # Crawling. Empty crawl_sites means every bundled site. crawl_target "sample" crawls
    # the bundled sample site (served by the stack from sample_site_port up, one port per
    # site); crawl_base_urls points single sites elsewhere (a JSON object) and wins over both.
    crawl_sites: list[str] = []
    # List pages per site over its description's default, e.g. {"dcinside": 1}.
    crawl_pages: dict[str, Annotated[int, Field(ge=1, le=20)]] = {}
    crawl_target: Literal["live", "sample"] = "live"
    crawl_base_urls: dict[str, str] = {}
    crawl_contact: str = "https://github.com/wagglebot/wagglebot"
    sample_site_port: int = Field(8700, ge=1, le=65000)

    # Engine choices for the production stages.
    llm_engine: Literal["transformers", "extractive"] = "extractive"
    # A local directory, or a Hugging Face repo id already in the local HF cache: the
    # LLM stage never downloads weights at run time.
    llm_model: str = ""
    llm_attempts: int = Field(3, ge=1, le=10)  # generations per post before giving up
    tts_engine: Literal["edge", "espeak"] = "espeak"
    tts_voice: str = "ko-KR-SunHiNeural"  # edge-tts voice
    video_encoder: Literal["auto", "h264_nvenc", "libx264"] = "auto"
    # Stop after the LLM so a person reads (and may edit) each script before it is voiced.
    script_review: bool = True
    # Ducked under the voice when set: a file of yours, or builtin:calm (made here).
    background_music: Path | None = None

    # The production sweep: posts per run, and when a post stuck in PROCESSING (its
    # task died) is put back, or failed after max_attempts sweeps.
    sweep_batch: int = Field(5, ge=1, le=100)
    sweep_stale_minutes: int = Field(30, ge=1)
    sweep_max_attempts: int = Field(3, ge=1, le=20)

    # Publishing to YouTube. Credentials: an OAuth token (with its refresh token) written by
    # `./wagglebot youtube-auth` to youtube_token_file (0600; default <stack_home>/youtube/).
    # youtube_api_url: another API endpoint (the loopback fake in sample mode); empty: Google.
    youtube_token_file: Path | None = None
    youtube_client_secrets: Path | None = None  # the OAuth client file from Google's console
    youtube_api_url: str = ""
    youtube_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address
    youtube_privacy: Literal["private", "unlisted", "public"] = "private"
    youtube_category: str = Field("24", pattern=r"^\d{1,3}$")  # 24: Entertainment
    youtube_tags: list[str] = ["쇼츠", "커뮤니티", "썰"]
    # Google's allowances per project and Pacific day; they have changed more than once.
    youtube_daily_uploads: int = Field(100, ge=0)
    youtube_daily_units: int = Field(10_000, ge=0)
    youtube_upload_cost: int = Field(100, ge=0)  # units one videos.insert costs
    upload_chunk_mib: int = Field(8, ge=1, le=256)  # sent per request, a multiple of 256 KiB
    upload_retries: int = Field(8, ge=0, le=30)  # per chunk, with exponential backoff
    # A post whose upload made no progress for this long is taken over by the next run.
    upload_stale_seconds: int = Field(300, ge=1)
    # publish_shorts' own schedule (cron), off when empty; it publishes what people marked.
    publish_schedule: str = ""
    # Sample mode (crawl_target "sample", no real token, no other endpoint): publishing goes
    # to the stack's loopback fake YouTube on this port, never to YouTube.
    fake_youtube_port: int = Field(8799, ge=1, le=65535)

    # The local (non-Docker) stack: where it keeps its state, and its ports.
    stack_home: Path = REPO_ROOT / "var"
    airflow_dags_folder: Path = REPO_ROOT / "dags"
    airflow_port: int = Field(8080, ge=1, le=65533)  # +1, +2: the log servers
    dashboard_port: int = Field(8501, ge=1, le=65535)
    airflow_parallelism: int = Field(4, ge=1, le=64)
    # Distributed mode (`./wagglebot up --executor celery`): CeleryExecutor with Redis as the
    # broker and PostgreSQL as Airflow's metadata DB, one default-queue worker and
    # gpu_workers gpu-queue workers (one task each); pool gpu gets gpu_workers slots.
    executor: Literal["local", "celery"] = "local"
    gpu_workers: int = Field(1, ge=1, le=16)
    # GPU workers on other hosts (docs/scale-out.md), counted into pool gpu's slots.
    remote_gpu_workers: int = Field(0, ge=0, le=256)
    postgres_port: int = Field(5433, ge=1, le=65535)
    redis_port: int = Field(6380, ge=1, le=65535)
    # supervisord (wagglebot.stack.supervisor): each service's log rotates at this size,
    # keeping this many old files; a service that fails to start this many times running
    # (1, 2, 3 ... s apart) is left FATAL and reported.
    service_log_max_bytes: int = Field(50 * 2**20, ge=1024)
    service_log_backups: int = Field(5, ge=0, le=100)
    service_start_retries: int = Field(5, ge=0, le=100)

    # Health (wagglebot.health): each check turns amber, then red, past these.
    health_crawl_amber_minutes: int = Field(120, ge=1)  # since a site's last good crawl
    health_crawl_red_minutes: int = Field(360, ge=1)
    # A crawl storing under this share of the site's median over 7 days: "degraded".
    health_yield_share: float = Field(0.25, gt=0, le=1)
    health_stuck_minutes: int = Field(90, ge=1)  # a post in PROCESSING or PUBLISHING
    health_failures_amber: int = Field(1, ge=1)  # failed posts and crawls in 24 h
    health_failures_red: int = Field(5, ge=1)
    health_disk_amber_gib: float = Field(10, ge=0)  # free space left
    health_disk_red_gib: float = Field(2, ge=0)
    health_gpu_amber_celsius: int = Field(80, ge=1)
    health_gpu_red_celsius: int = Field(90, ge=1)
    health_backup_amber_hours: float = Field(26, gt=0)  # since the last good backup
    health_backup_red_hours: float = Field(50, gt=0)
    # Alerts: apprise URLs, space- or comma-separated (tgram://, discord://, ntfy://,
    # mailtos://, json://...). They hold tokens: a secret, never logged or shown.
    alert_urls: SecretStr | None = None
    alert_digest_hour: int | None = Field(None, ge=0, le=23)  # a daily digest, local time
    # Backups: `./wagglebot backup` and the daily backup DAG write here (default
    # <stack_home>/backups) and keep this many days.
    backup_dir: Path | None = None
    backup_keep_days: int = Field(7, ge=1)
    # Prometheus metrics: the stack serves /metrics on 127.0.0.1 at this port.
    metrics_port: int = Field(9108, ge=1, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _EnvWins(dotenv_settings), file_secret_settings

    @field_validator("db_url")
    @classmethod
    def _mariadb_url(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if not url.startswith(("mysql+mysqldb://", "mysql://", "mariadb+mysqldb://")):
            raise ValueError("must be a mysql+mysqldb:// SQLAlchemy URL for MariaDB")
        return value

    @field_validator("dashboard_users")
    @classmethod
    def _hashed_passwords(cls, users: dict[str, str]) -> dict[str, str]:
        from wagglebot.auth import USER_NAME, is_password_hash

        for name, stored in users.items():
            if not USER_NAME.match(name):
                raise ValueError(f"user name {name!r}: letters, digits, '.', '_', '-' only")
            if not is_password_hash(stored):
                raise ValueError(
                    f"user {name!r}: not a password hash (set it with ./wagglebot dashboard-user)"
                )
        return users

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Seoul, UTC)") from None
        return value

    @field_validator(
        "media_root",
        "stack_home",
        "airflow_dags_folder",
        "youtube_token_file",
        "preview_cache",
        "backup_dir",
    )
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value else None

    @model_validator(mode="after")
    def _local_api_by_default(self) -> Settings:
        if not self.airflow_api_url:
            object.__setattr__(self, "airflow_api_url", f"http://127.0.0.1:{self.airflow_port}")
        if not self.airflow_ui_url:
            object.__setattr__(self, "airflow_ui_url", self.airflow_api_url)
        if self.backup_dir is None:
            object.__setattr__(self, "backup_dir", self.stack_home / "backups")
        return self

    @property
    def gpu_slots(self) -> int:
        """How many GPU tasks may run at once across the cluster: pool gpu's size."""
        from wagglebot.routing import gpu_slots

        return gpu_slots(self.executor, self.gpu_workers, self.remote_gpu_workers)

    @property
    def youtube_token_path(self) -> Path:
        return self.youtube_token_file or self.stack_home / "youtube" / "token.json"

    @property
    def user_agent(self) -> str:
        return USER_AGENT_TEMPLATE.format(contact=self.crawl_contact)

    def as_env(self) -> dict[str, str]:
        """The settings as WAGGLE_* variables, for child processes (Airflow, Streamlit)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, list | dict | frozenset | set):
                value = json.dumps(sorted(value) if isinstance(value, set | frozenset) else value)
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return env


class _EnvWins(PydanticBaseSettingsSource):
    """.env without the variables the environment sets. pydantic-settings would merge a
    JSON object from both (accounts, URLs); here the environment's value stands whole."""

    def __init__(self, dotenv: PydanticBaseSettingsSource) -> None:
        super().__init__(dotenv.settings_cls)
        self.dotenv = dotenv

    def get_field_value(self, field, field_name):  # the wrapped source does the reading
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        return {
            name: value
            for name, value in self.dotenv().items()
            if f"{ENV_PREFIX}{name.upper()}" not in os.environ
        }


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and .env), or stop with a clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        where = f" (environment or {ENV_FILE})"
        raise ConfigError(
            "invalid configuration" + where + ":\n  " + "\n  ".join(problems)
        ) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()
