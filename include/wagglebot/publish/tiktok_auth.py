"""``./wagglebot tiktok-auth --client-key KEY``: TikTok's Login Kit for desktop, once.

The authorization code flow with PKCE (developers.tiktok.com, Login Kit for Desktop):
a fresh code verifier, its challenge as the *hex* SHA-256 TikTok's desktop flow wants,
a loopback redirect on this machine (open the printed address in a browser here, or
through an SSH tunnel to the printed port), then the code exchanged for the grant. The
grant (client key and secret, refresh token, open_id, scope) goes to
``WAGGLE_TIKTOK_TOKEN_FILE`` (default <stack_home>/tiktok/token.json), readable by its
owner only; publishing refreshes from it and writes back each rotated refresh token. The
client secret comes from ``WAGGLE_TIKTOK_CLIENT_SECRET`` or is asked for, never from the
command line; nothing secret is printed.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import secrets
import sys
from urllib.parse import urlencode

import requests

from wagglebot.core.config import load_settings
from wagglebot.publish.credentials import save_token
from wagglebot.publish.redirect import PATH, RedirectCatcher, refusal

AUTHORIZE = "https://www.tiktok.com/v2/auth/authorize/"
SCOPE = "video.publish"
WAIT_S = 600.0  # how long the redirect back is waited for


def pkce_pair() -> tuple[str, str]:
    """(verifier, challenge): 64 characters of [A-Za-z0-9_-], and its hex SHA-256."""
    verifier = secrets.token_urlsafe(48)[:64]
    return verifier, hashlib.sha256(verifier.encode()).hexdigest()


def consent(client_key: str, client_secret: str, api: str, authorize: str, port: int) -> dict:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    catcher = RedirectCatcher(port, "TikTok", "WaggleBot may now post to your TikTok account.")
    redirect = f"http://127.0.0.1:{catcher.port}{PATH}"
    query = {
        "client_key": client_key,
        "scope": SCOPE,
        "response_type": "code",
        "redirect_uri": redirect,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    print("Open this address in a browser and allow WaggleBot to post to your TikTok account:")
    print(f"{authorize}?{urlencode(query)}", flush=True)
    answer = catcher.wait(WAIT_S)
    if answer.get("state") != state or "code" not in answer:
        raise SystemExit(f"TikTok did not send a code back: {refusal(answer)}")
    resp = requests.post(
        f"{api}v2/oauth/token/",
        data={
            "client_key": client_key,
            "client_secret": client_secret,
            "code": answer["code"],
            "grant_type": "authorization_code",
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    grant = (
        resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else {}
    )
    if resp.status_code != 200 or "refresh_token" not in grant:
        said = grant.get("error_description") or grant.get("error") or resp.status_code
        raise SystemExit(f"TikTok refused the code: {said}")
    if SCOPE not in str(grant.get("scope", "")).split(","):
        raise SystemExit(f"TikTok granted {grant.get('scope')!r}, not {SCOPE}: posting needs it")
    return {
        "client_key": client_key,
        "client_secret": client_secret,
        "refresh_token": grant["refresh_token"],
        "open_id": grant.get("open_id", ""),
        "scope": grant.get("scope", SCOPE),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./wagglebot tiktok-auth",
        description="Connect a TikTok account: run TikTok's consent flow and keep the grant.",
    )
    parser.add_argument("--client-key", required=True, help="the app's client key")
    parser.add_argument("--port", type=int, default=0, help="loopback port for the redirect")
    parser.add_argument("--authorize-url", default=AUTHORIZE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = load_settings()
    secret = os.environ.get("WAGGLE_TIKTOK_CLIENT_SECRET") or getpass.getpass(
        "TikTok client secret: "
    )
    if not secret:
        print("The app's client secret is needed (WAGGLE_TIKTOK_CLIENT_SECRET).", file=sys.stderr)
        return 2
    api = settings.tiktok_api_url.rstrip("/") + "/"
    info = consent(args.client_key, secret, api, args.authorize_url, args.port)
    save_token(info, settings.tiktok_token_path)
    print(f"Stored the TikTok grant in {settings.tiktok_token_path} (readable by you only).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
