"""YouTube credentials: the OAuth 2.0 consent flow for an installed app, and the stored token.

``./wagglebot youtube-auth --client-secrets FILE`` runs Google's consent flow once
(google-auth-oauthlib, loopback redirect: open the printed address in a browser on
this machine, or through an SSH tunnel to the printed port) and keeps the result,
with its refresh token, in ``WAGGLE_YOUTUBE_TOKEN_FILE`` (default
var/youtube/token.json), readable by its owner only and outside the repository.
Access tokens are refreshed from it automatically; no token or secret is logged.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.oauth2.credentials import Credentials

from wagglebot.core.config import Settings, load_settings
from wagglebot.publish import PublishingOff
from wagglebot.publish.youtube import SCOPES, UPLOAD_SCOPE


@dataclass(frozen=True)
class YouTubeEndpoint:
    """Where publishing goes: the API, its token endpoint, and the token file to use."""

    api_url: str  # empty: Google's own
    token_uri: str
    token_file: Path
    sample: bool  # the loopback fake YouTube of sample mode, not YouTube


def youtube_endpoint(settings: Settings) -> YouTubeEndpoint:
    """YouTube itself, unless this is a sample-site install without a channel connected
    (no token from youtube-auth, no other endpoint): then the stack's loopback fake."""
    real = settings.youtube_token_path
    sample = settings.crawl_target == "sample" and not settings.youtube_api_url
    if sample and not token_present(real):
        root = f"http://127.0.0.1:{settings.fake_youtube_port}/"
        sample_token = settings.stack_home / "youtube" / "sample-token.json"
        return YouTubeEndpoint(root, f"{root}token", sample_token, sample=True)
    return YouTubeEndpoint(settings.youtube_api_url, settings.youtube_token_uri, real, False)


def token_present(path: Path) -> bool:
    """Whether a token file is there, readable or not (an unreadable one is reported)."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def ensure_sample_token(path: Path) -> dict:
    """The sample mode's token (made up here, good only with the loopback fake), with
    every scope youtube-auth asks for (one made before analytics gets them added)."""
    info = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
        "refresh_token": "sample-" + secrets.token_urlsafe(24),
        "client_id": "wagglebot-sample-mode",
        "client_secret": secrets.token_urlsafe(16),
        "type": "authorized_user",
    }  # fmt: skip
    if info.get("scopes") != SCOPES:
        save_token({**info, "scopes": SCOPES}, path)
    return info | {"scopes": SCOPES}


def load_credentials(settings: Settings, endpoint: YouTubeEndpoint | None = None) -> Credentials:
    """The stored credentials for ``endpoint`` (default: the one the settings decide), or
    PublishingOff naming the token file and what is wrong."""
    endpoint = endpoint or youtube_endpoint(settings)
    path = endpoint.token_file
    info = _token_file(path)
    off = f"publishing is off: the YouTube token file {path}"
    again = "run ./wagglebot youtube-auth --client-secrets client_secret.json"
    if not isinstance(info, dict) or not info.get("refresh_token"):
        raise PublishingOff(f"{off} holds no refresh token; {again}")
    try:
        return credentials_from(info, endpoint.token_uri)
    except (KeyError, TypeError, ValueError) as exc:
        raise PublishingOff(f"{off} is not a usable token ({type(exc).__name__}: "
                            f"{str(exc)[:120]}); {again}") from None  # fmt: skip


def _token_file(path: Path) -> object:
    """The token file's JSON, or PublishingOff with the path and the cause."""
    off = f"publishing is off: the YouTube token file {path}"
    again = "run ./wagglebot youtube-auth --client-secrets client_secret.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PublishingOff(
            f"publishing is off: no YouTube credentials at {path}. To connect a channel, {again}."
        ) from None
    except IsADirectoryError:
        raise PublishingOff(f"{off} is a directory, not a file; {again}") from None
    except PermissionError:
        raise PublishingOff(
            f"{off} cannot be read (permission denied): it must be readable by the user "
            f"that runs WaggleBot ({getpass.getuser()}); fix its owner or mode (0600), or {again}"
        ) from None
    except UnicodeDecodeError:
        raise PublishingOff(f"{off} is not text (not UTF-8); {again}") from None
    except OSError as exc:
        raise PublishingOff(f"{off} cannot be read ({exc.strerror}); {again}") from None
    if not text.strip():
        raise PublishingOff(f"{off} is empty; {again}")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PublishingOff(f"{off} is not valid JSON ({exc}); {again}") from None


def credentials_from(info: dict, token_uri: str) -> Credentials:
    """Credentials from a token file's content. The token endpoint comes from the
    settings, never from the file (a changed file must not send the refresh token
    elsewhere; google-auth ignores the file's too)."""
    return Credentials(
        token=None,  # fetched on first use: access tokens are never stored
        refresh_token=info["refresh_token"],
        token_uri=token_uri,
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        # What the owner granted (google-auth-oauthlib keeps it in the file): a refresh
        # asking for more is refused. A file without it predates the read-back scopes.
        scopes=list(info.get("scopes") or [UPLOAD_SCOPE]),
    )


def publishing_off(settings: Settings) -> str | None:
    """Why publishing cannot run here, or None when it can."""
    try:
        load_credentials(settings)
    except PublishingOff as exc:
        return str(exc)
    return None


def save_token(info: dict, path: Path) -> None:
    """Write the token file atomically, 0600 in a 0700 folder."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, suffix=".part", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(info, tmp)
    os.chmod(tmp.name, 0o600)
    os.replace(tmp.name, path)


def consent(client_secrets: Path, port: int, open_browser: bool) -> dict:
    """Run Google's consent flow; returns the authorized-user info (with refresh token)."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=SCOPES)
    credentials = flow.run_local_server(
        host="127.0.0.1",
        port=port,
        open_browser=open_browser,
        authorization_prompt_message="Open this address in a browser and allow WaggleBot "
        "to upload to your channel and read its videos' figures (read-only):\n{url}",
        success_message="WaggleBot may now upload to your channel and read its Shorts' "
        "figures. You can close this tab.",
        access_type="offline",  # a refresh token, so later runs need no browser
        prompt="consent",
    )
    if not credentials.refresh_token:
        raise SystemExit("Google returned no refresh token; run youtube-auth again")
    return json.loads(credentials.to_json())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./wagglebot youtube-auth",
        description="Connect a YouTube channel: run Google's consent flow and keep the token.",
    )
    parser.add_argument("--client-secrets", type=Path, help="the OAuth client JSON (Desktop app)")
    parser.add_argument("--port", type=int, default=0, help="loopback port for the redirect")
    parser.add_argument("--open-browser", action="store_true")
    args = parser.parse_args(argv)
    settings = load_settings()
    secrets = args.client_secrets or settings.youtube_client_secrets
    if not secrets or not secrets.exists():
        print(
            "Give the OAuth client file: --client-secrets FILE (or WAGGLE_YOUTUBE_CLIENT_SECRETS). "
            "Create it in Google Cloud console: APIs & Services > Credentials > OAuth client ID "
            "> Desktop app, with the YouTube Data API v3 enabled.",
            file=sys.stderr,
        )
        return 2
    info = consent(secrets, args.port, args.open_browser)
    save_token(info, settings.youtube_token_path)
    print(f"Stored the YouTube token in {settings.youtube_token_path} (readable by you only).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
