"""The dashboard's pictures: fetched by the server, from the post's own site only, checked."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from wagglebot_stack.sample_site import SampleSite

from wagglebot.core.config import Settings
from wagglebot.crawl.sites import PictureSources, picture_sources
from wagglebot.review.picture_preview import SIDE, PicturePreviews

from picture_sites import OWN, STRANGER, start_sites


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[SampleSite]:
    running = start_sites(tmp_path / "sites")
    yield running
    running.stop()


@pytest.fixture
def sources(sites: SampleSite) -> PictureSources:
    settings = Settings(
        db_url="mysql+mysqldb://u:p@127.0.0.1:1/x",
        crawl_base_urls={OWN: sites.urls[OWN]},
        _env_file=None,
    )
    return picture_sources(OWN, settings)


def _previews(tmp_path: Path) -> PicturePreviews:
    return PicturePreviews(tmp_path / "cache", user_agent="WaggleBot-test", timeout=3)


def test_the_sites_own_and_cdn_hosts_are_allowed_and_nothing_else(
    sites: SampleSite, sources: PictureSources
) -> None:
    own = sites.urls[OWN]
    assert sources.allows(f"{own}/ok.png")
    assert sources.allows("https://pann.nate.com/x.jpg")  # the real site
    assert sources.allows("https://fimg6.pann.com/new/download.jsp?FileID=1")  # its CDN
    assert sources.allows("https://pann.com/a.png")
    for url in (
        f"{sites.urls[STRANGER]}/ok.png",  # same host, another port: another origin
        f"{own.replace('http:', 'https:')}/ok.png",  # another scheme
        "https://evilpann.com/a.png",  # not a subdomain
        "https://pann.com.evil.example/a.png",
        "http://evil.example/x.png",
        "javascript:alert(1)",
        "data:image/png;base64,xx",
        "http://[::1",  # unparseable
    ):
        assert not sources.allows(url), url
    assert picture_sources("no_such_site", Settings(db_url="mysql://u:p@h/x", _env_file=None)) == (
        PictureSources()
    )


def test_a_picture_from_the_site_arrives_as_a_small_reencoded_copy_and_is_cached(
    tmp_path: Path, sites: SampleSite, sources: PictureSources
) -> None:
    previews = _previews(tmp_path)
    own = sites.urls[OWN]
    first = previews.get(f"{own}/photo.jpg", sources, referer=f"{own}/talk/1")
    assert first.problem is None
    assert first.data
    with Image.open(io.BytesIO(first.data)) as img:
        assert img.format == "JPEG"
        assert img.size == (SIDE, 360)
    png = previews.get(f"{own}/ok.png", sources)
    with Image.open(io.BytesIO(png.data)) as img:
        assert img.size == (SIDE, 300)
    hop = previews.get(f"{own}/hop.jpg", sources)  # a redirect within the site is followed
    assert hop.data == first.data
    assert sites.hits(OWN)["/photo.jpg"] == 2
    again = previews.get(f"{own}/photo.jpg", sources)
    assert again.data == first.data
    assert sites.hits(OWN)["/photo.jpg"] == 2  # served from the disk cache
    # One copy per address (photo, hop, ok: an opaque PNG becomes a JPEG), no leftovers.
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".jpg"] * 3


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/pixel.gif", "1x1 is too small to be a picture"),
        ("/fake.jpg", "not a readable image"),
        ("/huge.jpg", "larger than 4 MiB"),
        ("/page.html", "served as text/html, not an image"),
        ("/gone.jpg", "the site answered 404"),
        ("/away.jpg", "127.0.0.1 is not the post's own site or one of its CDNs"),
    ],
)
def test_a_picture_that_fails_a_check_comes_back_with_its_reason(
    tmp_path: Path, sites: SampleSite, sources: PictureSources, path: str, problem: str
) -> None:
    previews = _previews(tmp_path)
    got = previews.get(sites.urls[OWN] + path, sources)
    assert got.data is None
    assert problem in got.problem
    assert sites.hits(STRANGER)["/ok.png"] == 0  # a redirect away is never followed
    again = previews.get(sites.urls[OWN] + path, sources)  # the refusal is remembered
    assert again.problem == got.problem
    assert sites.hits(OWN)[path] == 1


def test_addresses_off_the_site_are_refused_without_a_request(
    tmp_path: Path, sites: SampleSite, sources: PictureSources
) -> None:
    previews = _previews(tmp_path)
    urls = [f"{sites.urls[STRANGER]}/ok.png", "javascript:alert(1)", f"{sites.urls[OWN]}/ok.png"]
    got = previews.get_many(urls, sources)
    assert [g.url for g in got] == urls  # in order
    assert "is not the post's own site" in got[0].problem
    assert got[1].problem == "not a web address"
    assert got[2].data
    assert sites.hits(STRANGER)["/ok.png"] == 0


def test_an_unreachable_site_is_a_reason_not_an_error(
    tmp_path: Path, sources: PictureSources, sites: SampleSite
) -> None:
    own = sites.urls[OWN]
    sites.stop()
    got = _previews(tmp_path).get(f"{own}/ok.png", sources)
    assert got.data is None
    assert got.problem == "the site could not be reached"
