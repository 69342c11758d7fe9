"""``./wagglebot instagram-auth --app-id ID``: Facebook Login for Business, once.

Why this login: the resumable upload of a local file (``upload_type=resumable``, then
rupload.facebook.com) is documented only for the Instagram API with Facebook Login for
Business (developers.facebook.com/docs/instagram-platform/content-publishing and
.../content-publishing/resumable-uploads), so WaggleBot publishes through
graph.facebook.com with a Facebook user token, not through Instagram Login.

The flow, built by hand as developers.facebook.com/docs/facebook-login/guides/advanced/
manual-flow describes:

1. The Login dialog, ``https://www.facebook.com/{version}/dialog/oauth`` with
   ``client_id``, ``redirect_uri``, ``state``, ``response_type=code`` and ``scope``.
   The redirect is a loopback address on this machine, ``http://localhost:PORT/
   callback/``: it must be listed, exactly, under the app's Facebook Login for Business
   > Settings > Valid OAuth Redirect URIs (strict mode). Open the printed address in a
   browser here, or through an SSH tunnel to the port.
2. The code exchanged at ``GET {graph}/{version}/oauth/access_token`` (``client_id``,
   ``redirect_uri``, ``client_secret``, ``code``) for a short-lived user token.
3. That token exchanged for a long-lived one (about 60 days) with
   ``grant_type=fb_exchange_token`` (.../facebook-login/guides/access-tokens/
   get-long-lived): there is no refresh token; publishing renews it the same way.
4. The permissions the person granted checked (``GET /me/permissions``,
   .../graph-api/reference/user/permissions): the dialog lets them untick some.
5. The Instagram professional account found through the person's Pages,
   ``GET /me/accounts?fields=id,name,instagram_business_account{id,username}``
   (.../instagram-platform/instagram-api-with-facebook-login/get-started and
   .../instagram-graph-api/reference/page). None linked is an error that says what to
   link; several are chosen with ``--ig-user-id`` (or asked for at a terminal).

Permissions asked: instagram_basic, instagram_content_publish, pages_show_list and
pages_read_engagement (the content publishing guide and the Page reference);
``--extra-scope ads_read`` adds what the Page reference wants when the person's Page
role came through Business Manager.

The grant goes to ``WAGGLE_INSTAGRAM_TOKEN_FILE`` (default <stack_home>/instagram/
token.json), readable by its owner only: the long-lived token, the account (ig_user_id,
username, page_id, page_name), the app id and secret (publishing renews the token with
them), the scopes, obtained_at and expires_at (ISO, UTC; null when Meta gives no
expires_in). The app secret comes from ``WAGGLE_INSTAGRAM_APP_SECRET`` or is asked for,
never from the command line; no token, code or secret is printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests

from wagglebot.core.config import load_settings
from wagglebot.publish import PublishError
from wagglebot.publish.backoff import Retry, json_of
from wagglebot.publish.credentials import save_token
from wagglebot.publish.instagram import VERSION, exchange_token, expiry, graph_base, said
from wagglebot.publish.redirect import PATH, RedirectCatcher, refusal

DIALOG = "https://www.facebook.com/"
SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "pages_show_list",
    "pages_read_engagement",
)
PORT = 8796  # fixed, so its redirect URI can be listed in the app's settings once
SECRET_ENV = "WAGGLE_INSTAGRAM_APP_SECRET"  # noqa: S105 - the variable's name
WAIT_S = 600.0  # how long the redirect back is waited for
ACCOUNT_FIELDS = "id,name,instagram_business_account{id,username}"
NO_ACCOUNT = (
    "None of the Facebook Pages you allowed has an Instagram professional account linked. "
    "Publishing needs an Instagram Business or Creator account linked to a Facebook Page "
    "you manage (in Instagram: Settings > Account type and tools; on the Page: Settings > "
    "Linked accounts), and that Page chosen in Facebook's login dialog. Then run "
    "./wagglebot instagram-auth again."
)


def login_url(dialog: str, app_id: str, redirect: str, state: str, scopes: tuple[str, ...]) -> str:
    query = {
        "client_id": app_id,
        "redirect_uri": redirect,
        "state": state,
        "response_type": "code",
        "scope": ",".join(scopes),
    }
    return f"{dialog.rstrip('/')}/{VERSION}/dialog/oauth?{urlencode(query)}"


def _get(url: str, params: dict[str, str], token: str | None, what: str) -> dict:
    """A Graph GET's answer, or SystemExit saying ``what`` failed and Meta's reason. The
    request's own words are never repeated: its URL may carry the secret or the code."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = requests.get(url, params=params, headers=headers, timeout=30)
    except requests.RequestException as exc:
        raise SystemExit(f"{what}: Meta could not be reached ({type(exc).__name__})") from None
    answer = json_of(resp)
    if resp.status_code != 200 or "error" in answer:
        raise SystemExit(f"{what} ({resp.status_code} {said(answer)})")
    return answer


def consent(app_id: str, secret: str, graph: str, dialog: str, port: int,
            scopes: tuple[str, ...]) -> str:  # fmt: skip
    """The Login dialog and the code's exchange: a short-lived user token."""
    state = secrets.token_urlsafe(16)
    catcher = RedirectCatcher(
        port, "Facebook", "WaggleBot may now publish Reels to your Instagram account."
    )
    redirect = f"http://localhost:{catcher.port}{PATH}"
    print("This redirect URI must be listed in the app's Facebook Login for Business > "
          f"Settings > Valid OAuth Redirect URIs:\n  {redirect}")  # fmt: skip
    print("Open this address in a browser and allow WaggleBot to publish to your Instagram:")
    print(login_url(dialog, app_id, redirect, state, scopes), flush=True)
    answer = catcher.wait(WAIT_S)
    if "code" not in answer:
        raise SystemExit(f"Facebook did not allow it: {refusal(answer)}")
    if answer.get("state") != state:
        raise SystemExit("The login came back without this run's state; run it again.")
    params = {"client_id": app_id, "redirect_uri": redirect, "client_secret": secret,
              "code": answer["code"]}  # fmt: skip
    granted = _get(graph + "oauth/access_token", params, None, "Facebook refused the code")
    return str(granted.get("access_token") or "")


def long_lived(graph: str, app_id: str, secret: str, short: str) -> dict:
    """The fb_exchange_token grant's answer for the login's short-lived token."""
    try:
        return exchange_token(graph, app_id, secret, short)
    except (PublishError, Retry) as exc:
        raise SystemExit(f"Facebook gave no long-lived token: {exc}") from None


def check_permissions(graph: str, token: str, scopes: tuple[str, ...]) -> None:
    answer = _get(graph + "me/permissions", {}, token, "Facebook did not list the permissions")
    granted = {
        entry.get("permission")
        for entry in answer.get("data") or []
        if isinstance(entry, dict) and entry.get("status") == "granted"
    }
    if missing := [scope for scope in scopes if scope not in granted]:
        raise SystemExit(
            f"Facebook Login did not grant {', '.join(missing)}, which publishing needs: run "
            "./wagglebot instagram-auth again and allow every permission it asks for."
        )


def instagram_accounts(graph: str, token: str) -> list[dict]:
    """The Instagram accounts linked to the person's Pages, following Graph's paging."""
    url, params = graph + "me/accounts", {"fields": ACCOUNT_FIELDS}
    found: list[dict] = []
    for _ in range(40):  # 40 pages of Pages is more than anyone manages
        answer = _get(url, params, token, "Facebook did not list your Pages")
        for page in answer.get("data") or []:
            linked = page.get("instagram_business_account") if isinstance(page, dict) else None
            if isinstance(linked, dict) and linked.get("id"):
                found.append({"ig_user_id": str(linked["id"]),
                              "username": str(linked.get("username") or ""),
                              "page_id": str(page.get("id") or ""),
                              "page_name": str(page.get("name") or "")})  # fmt: skip
        url, params = (answer.get("paging") or {}).get("next") or "", {}
        if not url:
            break
    return found


def _listing(accounts: list[dict]) -> str:
    return ", ".join(f"@{a['username']} ({a['ig_user_id']}, Page {a['page_name']})"
                     for a in accounts)  # fmt: skip


def choose(accounts: list[dict], wanted: str | None, ask: bool) -> dict:
    """The account to publish to: the one named, the only one, or one asked for."""
    if not accounts:
        raise SystemExit(NO_ACCOUNT)
    if wanted:
        for account in accounts:
            if wanted in (account["ig_user_id"], account["username"], f"@{account['username']}"):
                return account
        raise SystemExit(f"No Instagram account {wanted} is linked to your Pages: "
                         f"{_listing(accounts)}")  # fmt: skip
    if len(accounts) == 1:
        return accounts[0]
    if not ask:
        raise SystemExit(f"Several Instagram accounts are linked to your Pages: "
                         f"{_listing(accounts)}. Choose one with --ig-user-id.")  # fmt: skip
    for number, account in enumerate(accounts, 1):
        print(f"  {number}. @{account['username']} ({account['ig_user_id']}, "
              f"Page {account['page_name']})")  # fmt: skip
    picked = input("Publish to which account (number)? ").strip()
    if not picked.isdigit() or not 1 <= int(picked) <= len(accounts):
        raise SystemExit("No account chosen; run instagram-auth again.")
    return accounts[int(picked) - 1]


def _ask_secret() -> str:
    try:
        return getpass.getpass("Meta app secret (App settings > Basic): ")
    except EOFError:  # no terminal and nothing piped in
        return ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./wagglebot instagram-auth",
        description="Connect an Instagram professional account through Facebook Login for "
        "Business and keep the long-lived token.",
    )
    parser.add_argument("--app-id", required=True, help="the Meta app's id")
    parser.add_argument("--ig-user-id", help="the account to publish to, when several are linked")
    parser.add_argument("--port", type=int, default=PORT, help="loopback port for the redirect")
    parser.add_argument("--extra-scope", action="append", default=[], metavar="PERMISSION",
                        help="another permission to ask for (e.g. ads_read)")  # fmt: skip
    parser.add_argument("--graph-url", help="the Graph host (default: the settings')")
    parser.add_argument("--dialog-url", default=DIALOG, help="where the Login dialog is")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    secret = os.environ.get(SECRET_ENV) or _ask_secret()
    if not secret:
        print(f"The app's secret is needed ({SECRET_ENV}).", file=sys.stderr)
        return 2
    graph = graph_base(args.graph_url or settings.instagram_graph_url)
    scopes = tuple(dict.fromkeys([*SCOPES, *args.extra_scope]))
    short = consent(args.app_id, secret, graph, args.dialog_url, args.port, scopes)
    now = datetime.now(UTC)
    answer = long_lived(graph, args.app_id, secret, short)
    token = str(answer["access_token"])
    check_permissions(graph, token, SCOPES)
    account = choose(instagram_accounts(graph, token), args.ig_user_id, sys.stdin.isatty())
    info = {"access_token": token, **account, "app_id": args.app_id, "app_secret": secret,
            "scopes": list(scopes), "obtained_at": now.isoformat(),
            "expires_at": expiry(answer, now)}  # fmt: skip
    path = settings.instagram_token_path
    save_token(info, path)
    until = (info["expires_at"] or "unknown")[:10]
    print(
        f"Stored the Instagram grant in {path} (readable by you only): "
        f"@{account['username']} (account {account['ig_user_id']}, through the Facebook "
        f"Page {account['page_name']}); the token runs until {until}, and publishing "
        "renews it before then."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
