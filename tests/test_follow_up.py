"""The declarative comments request: built from the page as the site's script builds it,
and every way it can fail costs the post its comments only, with the reason."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from wagglebot_stack.sample_site import route_for

from wagglebot.crawl.follow_up import FollowUpError, comments_from_answer, follow_up_request
from wagglebot.crawl.sites import Site, SiteError, load_site

PAGE = """<html><head><meta name="csrf-token" content="tok&amp;1"></head><body>
<input type="hidden" id="no" value=" 77 "><input type="hidden" id="empty" value="  ">
</body></html>"""


def _site(tmp_path, **request) -> Site:
    data = {
        "site_code": "demo",
        "name": "demo",
        "base_url": "https://demo.example",
        "list": {
            "url": "/l?p={page}",
            "row": "tr",
            "link": "a",
            "post_url": "(\\d+)",
        },
        "detail": {"title": "h1::text", "body": "div"},
        "comments_request": {"url": "/c/{origin_id}", **request},
        "comments": {
            "row": "data.rows",
            "text": "html",
            "author": "who",
            "likes": "up",
            "id": "no",
            "exclude": {"no": ["0"], "del": ["Y"]},
        },
    }
    path = tmp_path / "demo.yaml"
    path.write_text(json.dumps(data))
    return load_site(path)


def test_a_json_post_carries_literal_and_page_values(tmp_path) -> None:
    site = _site(
        tmp_path,
        method="POST",
        encoding="json",
        fields={"doc": "{origin_id}", "page": 0, "no": {"css": "input#no::attr(value)"}},
        headers={"X-CSRF-Token": {"css": "meta[name=csrf-token]::attr(content)"}},
    )
    ask = follow_up_request(site, PAGE, "http://127.0.0.1:9/post/77", "77")
    assert (ask.method, ask.url) == ("POST", "http://127.0.0.1:9/c/77")
    assert json.loads(ask.body) == {"doc": "77", "page": 0, "no": "77"}
    assert ask.headers["X-CSRF-Token"] == "tok&1"  # the attribute, decoded
    assert ask.headers["Content-Type"].startswith("application/json")


def test_a_form_post_and_a_get_query(tmp_path) -> None:
    form = _site(tmp_path, method="POST", fields={"id": "best", "no": "{origin_id}"})
    ask = follow_up_request(form, PAGE, "http://h/post/5", "5")
    assert dict(parse_qsl(ask.body.decode())) == {"id": "best", "no": "5"}
    assert ask.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    get = _site(tmp_path, fields={"page": 1})
    ask = follow_up_request(get, PAGE, "http://h/post/5", "5")
    assert (ask.method, ask.body, urlsplit(ask.url).query) == ("GET", b"", "page=1")


@pytest.mark.parametrize("css", ["input#gone::attr(value)", "input#empty::attr(value)"])
def test_a_page_value_that_is_not_there_names_the_field(tmp_path, css: str) -> None:
    site = _site(tmp_path, method="POST", fields={"e_s_n_o": {"css": css}})
    with pytest.raises(FollowUpError) as caught:
        follow_up_request(site, PAGE, "http://h/post/5", "5")
    assert caught.value.reason == "missing_e_s_n_o"


def test_json_comments_by_path_and_keys_with_exclusions(tmp_path) -> None:
    site = _site(tmp_path, response="json", error_key="error", message_key="message")
    answer = {
        "error": 0,
        "data": {
            "rows": [
                {
                    "no": 11,
                    "who": "<b>가</b>",
                    "html": "<p>첫 줄<br>둘째 &lt;줄&gt;</p>",
                    "up": "1,204",
                },
                {"no": 0, "who": "댓글돌이", "html": "광고"},  # the site's own extra row
                {"no": "12", "who": "나", "html": "지워짐", "del": "Y"},
                {"no": "13", "who": "다", "html": "<img src=x.gif>"},  # a picture only
                "junk",
                {"no": True, "who": 5, "html": "남은 하나", "up": -3},
            ]
        },
    }
    comments = comments_from_answer(site, json.dumps(answer))
    assert [(c.origin_comment_id, c.author, c.content, c.likes) for c in comments] == [
        ("11", "가", "첫 줄\n둘째 <줄>", 1204),
        (None, None, "남은 하나", None),
    ]


@pytest.mark.parametrize(
    ("answer", "reason", "says"),
    [
        ("<html>login</html>", "not_json", "not JSON"),
        (
            '{"error": -1, "message": "비회원은 볼 수 없습니다"}',
            "refused",
            "비회원은 볼 수 없습니다",
        ),
        ('{"error": "-1"}', "refused", "-1"),
        ('{"error": 0, "data": {"rows": "nope"}}', "no_comment_list", "data.rows"),
        ("[1, 2]", "no_comment_list", "data.rows"),
    ],
)
def test_an_answer_without_comments_says_why(tmp_path, answer: str, reason: str, says: str) -> None:
    site = _site(tmp_path, response="json", error_key="error", message_key="message")
    with pytest.raises(FollowUpError) as caught:
        comments_from_answer(site, answer)
    assert caught.value.reason == reason
    assert says in str(caught.value)


def test_a_request_needs_something_to_read_its_answer(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    data = {
        "site_code": "bad",
        "name": "b",
        "base_url": "https://b.example",
        "list": {"url": "/{page}", "row": "tr", "link": "a", "post_url": "(\\d+)"},
        "detail": {"title": "h1", "body": "div"},
        "comments_request": {"url": "/c", "method": "PUT"},
    }
    path.write_text(json.dumps(data))
    with pytest.raises(SiteError, match=r"comments_request\.method"):
        load_site(path)
    del data["comments_request"]["method"]
    path.write_text(json.dumps(data))
    with pytest.raises(SiteError, match="needs comments selectors or a comments_hook"):
        load_site(path)


def test_the_sample_server_answers_a_post_by_its_fields_and_headers() -> None:
    routes = {
        "POST /c": {
            "match": [
                {
                    "when": {"no": 5},
                    "when_headers": {"X-Requested-With": "XMLHttpRequest"},
                    "file": "five.json",
                },
            ],
            "else": {"status": 403},
        }
    }
    form = {"content-type": "application/x-www-form-urlencoded"}
    xhr = form | {"x-requested-with": "XMLHttpRequest"}
    assert route_for(routes, "POST", "/c", xhr, b"no=5&x=1") == routes["POST /c"]["match"][0]
    assert route_for(routes, "POST", "/c", form, b"no=5") == {"status": 403}  # not the XHR
    assert route_for(routes, "POST", "/c", xhr, b"no=6") == {"status": 403}
    as_json = {"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"}
    assert route_for(routes, "POST", "/c", as_json, b'{"no": 5}')["file"] == "five.json"
    assert route_for(routes, "POST", "/c", as_json, b"{broken") == {"status": 403}
    assert route_for(routes, "GET", "/c", xhr, b"") is None
