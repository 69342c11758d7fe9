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
REPO_ROOT = Path(__file__).resolve().parents[3]  # include/wagglebot/core/config.py
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
        use_attribute_docstrings=True,  # each field's docstring is its description
    )

    # -- the app database and files -------------------------------------------------------
    db_url: SecretStr
    """The app database (MariaDB) as a SQLAlchemy URL, e.g.
    mysql+mysqldb://wagglebot:PASSWORD@127.0.0.1:3307/wagglebot?charset=utf8mb4."""
    media_root: Path = REPO_ROOT / "var" / "media"
    """Where scripts, audio, videos and thumbnails are written."""
    preview_cache: Path | None = None
    """The dashboard's checked copies of posts' pictures (default <media_root>/previews)."""

    # -- Airflow, as the dashboard reaches it ----------------------------------------------
    airflow_api_url: str = ""
    """Airflow's REST API as the dashboard uses it; default: the local stack's API server."""
    airflow_username: str = "dashboard"
    """The dashboard's Airflow account (a user-role account)."""
    airflow_password: SecretStr | None = None
    """The dashboard's Airflow password (the first `up` generates it)."""
    airflow_ui_url: str = ""
    """Where a person's browser reaches the Airflow UI (task log links); default: the API."""

    # -- the review dashboard ---------------------------------------------------------------
    dashboard_users: dict[str, str] = {}
    """The dashboard's accounts: a JSON object of user name -> scrypt hash (`./wagglebot
    dashboard-user NAME` writes it). Empty: nobody may log in."""
    stall_minutes: int = Field(15, ge=1)
    """A post in production with no stage activity for this long is marked stalled."""
    timezone: str = "Asia/Seoul"
    """The time zone the dashboard shows times and takes dates in."""

    # -- crawling ----------------------------------------------------------------------------
    crawl_sites: list[str] = []
    """Which bundled sites to crawl (a JSON list); empty: every one."""
    crawl_pages: dict[str, Annotated[int, Field(ge=1, le=20)]] = {}
    """List pages per site over its description's default, e.g. {"dcinside": 1}."""
    crawl_target: Literal["live", "sample"] = "live"
    """Where to crawl: "live" is the communities; "sample" the bundled sample site."""
    crawl_base_urls: dict[str, str] = {}
    """Single sites crawled at another address (a JSON object); wins over crawl_target."""
    crawl_contact: str = "https://github.com/wagglebot/wagglebot"
    """How a site's operator reaches us: part of the User-Agent of every request."""
    sample_site_port: int = Field(8700, ge=1, le=65000)
    """The bundled sample site's first port (one port per site, in sorted order)."""

    # -- stories (reposts across communities; see docs/crawling.md#stories) ------------------
    story_text_jaccard: float = Field(0.6, gt=0.45, le=1)
    """Two posts whose normalised texts share this share of character 5-grams are one story
    (reposts measure about 0.9, other stories on the same topic under 0.1). Over 0.45: the
    stored LSH bands find pairs above that."""
    story_text_containment: float = Field(0.7, gt=0.45, le=1)
    """...or when this share of the shorter text is inside the longer (a cut-short repost)."""
    story_containment_min_chars: int = Field(100, ge=20)
    """...and the shorter text has at least this many characters."""
    story_text_min_chars: int = Field(40, ge=1)
    """Texts shorter than this (a title alone, "제곧내") never decide by words."""
    story_picture_distance: int = Field(6, ge=0, le=16)
    """Two pictures whose 64-bit perceptual hashes differ in at most this many bits are one
    (re-encoded or resized copies measure 0-2, a small crop 2-6)."""
    story_template_after: int = Field(3, ge=2)
    """A picture in this many posts with different words is a template, not evidence."""
    story_pictures: int = Field(4, ge=0, le=20)
    """A post's first pictures fetched and hashed when it is grouped."""
    story_site_bonus: float = Field(0.5, ge=0)
    """A story's popularity: its best member's site score plus this for each further
    community it was posted on."""

    # -- production ----------------------------------------------------------------------
    llm_engine: Literal["transformers", "extractive"] = "extractive"
    """Who writes the narration script: a local model (transformers, 4-bit on CUDA) or the
    extractive summariser."""
    llm_model: str = ""
    """A local model directory, or a Hugging Face repo id already in the local cache: the
    LLM stage never downloads weights at run time."""
    llm_attempts: int = Field(3, ge=1, le=10)
    """Generations per post before the LLM stage gives up on it."""
    tts_engine: Literal["edge", "espeak"] = "espeak"
    """The voice: edge-tts (online, Microsoft's voices) or espeak-ng (offline)."""
    tts_voice: str = "ko-KR-SunHiNeural"
    """The edge-tts voice."""
    video_encoder: Literal["auto", "h264_nvenc", "libx264"] = "auto"
    """auto: NVENC where a test encode proves it works, else libx264."""
    render_loop: bool = True
    """A Short's last half-second dissolves back into its opening frame, so it loops
    without a jump; false: it ends on its last picture."""
    script_review: bool = True
    """Stop after the LLM so a person reads (and may edit) each script before it is voiced."""
    background_music: Path | None = None
    """Music ducked under the voice: a file of yours, or builtin:calm; none when unset."""
    sweep_batch: int = Field(5, ge=1, le=100)
    """Posts one produce_shorts run takes."""
    sweep_stale_minutes: int = Field(30, ge=1)
    """A post in PROCESSING this long without its task is put back (its task died)."""
    sweep_max_attempts: int = Field(3, ge=1, le=20)
    """Sweeps a post may be put back by before it fails."""

    # -- publishing -------------------------------------------------------------------------
    youtube_token_file: Path | None = None
    """The OAuth token `./wagglebot youtube-auth` writes (0600; default
    <stack_home>/youtube/token.json)."""
    youtube_client_secrets: Path | None = None
    """The OAuth client file from Google's console."""
    youtube_api_url: str = ""
    """Another YouTube API endpoint (the loopback fake in sample mode); empty: Google's."""
    youtube_token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address
    """Where OAuth tokens are refreshed."""
    youtube_privacy: Literal["private", "unlisted", "public"] = "private"
    """A Short's privacy when a person does not choose one."""
    youtube_category: str = Field("24", pattern=r"^\d{1,3}$")
    """YouTube's video category id (24: Entertainment)."""
    youtube_tags: list[str] = ["쇼츠", "커뮤니티", "썰"]
    """Tags every Short gets."""
    youtube_daily_uploads: int = Field(100, ge=0)
    """Uploads Google allows the project per Pacific day (it has changed more than once)."""
    youtube_daily_units: int = Field(10_000, ge=0)
    """API units Google allows the project per Pacific day."""
    youtube_upload_cost: int = Field(100, ge=0)
    """API units one videos.insert costs."""
    upload_chunk_mib: int = Field(8, ge=1, le=256)
    """MiB sent per upload request (a multiple of 256 KiB)."""
    upload_retries: int = Field(8, ge=0, le=30)
    """Tries per upload chunk, with exponential backoff."""
    upload_stale_seconds: int = Field(300, ge=1)
    """An upload with no progress for this long is taken over by the next run."""
    publish_schedule: str = ""
    """publish_shorts' own schedule, publishing what people marked: a cron, or "auto" (every
    hour, publishing at the channel's best hours: analytics.schedule); off when empty."""
    publish_hours: list[int] = [12, 18, 21]
    """With WAGGLE_PUBLISH_SCHEDULE=auto: the hours (WAGGLE_TIMEZONE) to publish at until
    the channel's own history shows its best ones (analytics.schedule)."""
    publish_best_hours: int = Field(3, ge=1, le=24)
    """With WAGGLE_PUBLISH_SCHEDULE=auto: how many of the channel's best hours to use."""
    stats_hourly_hours: int = Field(48, ge=0)
    """Each published Short's figures are read hourly for this many hours after it went up,"""
    stats_days: int = Field(30, ge=1)
    """then daily until this many days after (analytics.collect)."""
    stats_retries: int = Field(4, ge=0, le=20)
    """Tries per read-back call on a 5xx, a rate limit or a dropped connection."""
    fake_youtube_port: int = Field(8799, ge=1, le=65535)
    """Sample mode's loopback fake YouTube (no real token): publishing goes there, never to
    YouTube."""
    fake_tiktok_port: int = Field(8798, ge=1, le=65535)
    """Sample mode's loopback fake TikTok (no TikTok grant, the API left at TikTok's):
    publishing goes there, never to TikTok."""
    fake_instagram_port: int = Field(8797, ge=1, le=65535)
    """Sample mode's loopback fake Instagram (no Instagram token, the Graph host left at
    Meta's): publishing goes there, never to Instagram."""
    publish_platforms: list[Literal["youtube", "tiktok", "instagram"]] = ["youtube"]
    """Where a Short is published when a person does not choose."""
    tiktok_token_file: Path | None = None
    """The grant `./wagglebot tiktok-auth` writes (0600; default
    <stack_home>/tiktok/token.json): client key and secret, the rotating refresh token."""
    tiktok_api_url: str = "https://open.tiktokapis.com/"
    """TikTok's API (the Content Posting API and its OAuth token endpoint)."""
    tiktok_privacy: Literal[
        "SELF_ONLY", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "PUBLIC_TO_EVERYONE"
    ] = "SELF_ONLY"
    """A TikTok post's privacy (an app TikTok has not audited may post only SELF_ONLY)."""
    tiktok_daily_posts: int = Field(15, ge=0)
    """Posts a creator may make per 24 h through the API (TikTok: "around 15")."""
    instagram_token_file: Path | None = None
    """The long-lived token and account id `./wagglebot instagram-auth` writes (0600;
    default <stack_home>/instagram/token.json)."""
    instagram_graph_url: str = "https://graph.facebook.com/"
    """The Graph API host (Facebook Login for Business: resumable uploads of local files)."""
    instagram_daily_posts: int = Field(50, ge=0)
    """Reels per rolling 24 h (the account's live content_publishing_limit is read too)."""

    # -- the local stack ----------------------------------------------------------------------
    stack_home: Path = REPO_ROOT / "var"
    """Where the local stack keeps its state, logs and secrets."""
    airflow_dags_folder: Path = REPO_ROOT / "dags"
    """The DAG files Airflow reads."""
    airflow_port: int = Field(8080, ge=1, le=65533)
    """Airflow's API server and UI; the next two ports are its log servers."""
    dashboard_port: int = Field(8501, ge=1, le=65535)
    """The review dashboard's port."""
    airflow_parallelism: int = Field(4, ge=1, le=64)
    """Tasks Airflow runs at once."""
    executor: Literal["local", "celery"] = "local"
    """local: LocalExecutor; celery: CeleryExecutor with Redis and PostgreSQL, one
    default-queue worker and gpu_workers gpu-queue workers (`up --executor celery`)."""
    gpu_workers: int = Field(1, ge=1, le=16)
    """gpu-queue Celery workers on this machine, one task each; pool gpu gets their slots."""
    remote_gpu_workers: int = Field(0, ge=0, le=256)
    """GPU workers on other hosts (docs/scale-out.md), counted into pool gpu's slots."""
    postgres_port: int = Field(5433, ge=1, le=65535)
    """Celery mode: PostgreSQL (Airflow's metadata DB)."""
    redis_port: int = Field(6380, ge=1, le=65535)
    """Celery mode: Redis (the broker)."""
    service_log_max_bytes: int = Field(50 * 2**20, ge=1024)
    """Each service's log rotates at this size."""
    service_log_backups: int = Field(5, ge=0, le=100)
    """Rotated log files kept per service."""
    service_start_retries: int = Field(5, ge=0, le=100)
    """Failed starts in a row (1, 2, 3 ... s apart) before a service is left FATAL."""

    # -- health, alerts, backups, metrics --------------------------------------------------
    health_crawl_amber_minutes: int = Field(120, ge=1)
    """A site's last good crawl older than this is amber."""
    health_crawl_red_minutes: int = Field(360, ge=1)
    """...and older than this, red."""
    health_yield_share: float = Field(0.25, gt=0, le=1)
    """A crawl storing under this share of the site's 7-day median is "degraded"."""
    health_stuck_minutes: int = Field(90, ge=1)
    """A post in PROCESSING or PUBLISHING this long is stuck (red)."""
    health_failures_amber: int = Field(1, ge=1)
    """Failed posts and crawls in 24 h from which the failures check is amber."""
    health_failures_red: int = Field(5, ge=1)
    """...and red."""
    health_disk_amber_gib: float = Field(10, ge=0)
    """Free GiB on the media or database disk under which it is amber."""
    health_disk_red_gib: float = Field(2, ge=0)
    """...and red."""
    health_gpu_amber_celsius: int = Field(80, ge=1)
    """A GPU this hot is amber."""
    health_gpu_red_celsius: int = Field(90, ge=1)
    """...and red."""
    health_backup_amber_hours: float = Field(26, gt=0)
    """The last good backup older than this is amber."""
    health_backup_red_hours: float = Field(50, gt=0)
    """...and red."""
    alert_urls: SecretStr | None = None
    """Where alerts go: apprise URLs, space- or comma-separated (tgram://, discord://,
    ntfys://, mailtos://, json://...). They hold tokens: a secret, never logged or shown."""
    alert_digest_hour: int | None = Field(None, ge=0, le=23)
    """The local hour of a daily health digest; none when unset."""
    backup_dir: Path | None = None
    """Where `./wagglebot backup` and the nightly backup DAG write (default
    <stack_home>/backups)."""
    backup_keep_days: int = Field(7, ge=1)
    """Backups older than this are removed (never the newest)."""
    metrics_port: int = Field(9108, ge=1, le=65535)
    """The stack's Prometheus endpoint: http://127.0.0.1:<port>/metrics."""

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
        from wagglebot.review.auth import USER_NAME, is_password_hash

        for name, stored in users.items():
            if not USER_NAME.match(name):
                raise ValueError(f"user name {name!r}: letters, digits, '.', '_', '-' only")
            if not is_password_hash(stored):
                raise ValueError(
                    f"user {name!r}: not a password hash (set it with ./wagglebot dashboard-user)"
                )
        return users

    @field_validator("publish_hours")
    @classmethod
    def _hours(cls, hours: list[int]) -> list[int]:
        if not hours or any(not 0 <= h <= 23 for h in hours):
            raise ValueError("hours of the day, 0 to 23, at least one")
        return sorted(set(hours))

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
        "tiktok_token_file",
        "instagram_token_file",
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
        from wagglebot.orchestration.routing import gpu_slots

        return gpu_slots(self.executor, self.gpu_workers, self.remote_gpu_workers)

    @property
    def youtube_token_path(self) -> Path:
        return self.youtube_token_file or self.stack_home / "youtube" / "token.json"

    @property
    def tiktok_token_path(self) -> Path:
        return self.tiktok_token_file or self.stack_home / "tiktok" / "token.json"

    @property
    def instagram_token_path(self) -> Path:
        return self.instagram_token_file or self.stack_home / "instagram" / "token.json"

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
