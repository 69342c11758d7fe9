"""What a crawl run takes: the trigger form over the settings over the site's default."""

from __future__ import annotations

import pytest

from wagglebot.core.config import Settings
from wagglebot.crawl.plan import pages_for, sites_to_crawl
from wagglebot.crawl.sites import get_site, site_codes

from conftest import make_settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


def test_every_site_unless_the_form_or_the_settings_choose(settings: Settings) -> None:
    assert sites_to_crawl([], settings) == site_codes()
    assert len(site_codes()) >= 9
    chosen = settings.model_copy(update={"crawl_sites": ["theqoo", "dcinside"]})
    assert sites_to_crawl([], chosen) == ["theqoo", "dcinside"]
    assert sites_to_crawl(["clien"], chosen) == ["clien"]  # the form wins
    with pytest.raises(ValueError, match=r"unknown sites \['nope'\]; known: \["):
        sites_to_crawl([], settings.model_copy(update={"crawl_sites": ["nope"]}))


def test_pages_by_site_then_for_all_then_settings_then_the_site_default(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"crawl_pages": {"dcinside": 3}})
    assert pages_for("dcinside", settings) is None  # the spider uses the YAML's pages
    assert get_site("dcinside").list.pages == 2
    assert pages_for("dcinside", configured) == 3
    assert pages_for("theqoo", configured) is None
    assert pages_for("dcinside", configured, pages=1) == 1
    assert pages_for("dcinside", configured, 1, {"dcinside": 4, "theqoo": 5}) == 4
    with pytest.raises(ValueError, match=r"site_pages names unknown sites \['nope'\]"):
        pages_for("theqoo", settings, None, {"nope": 1})


def test_page_limits_in_the_environment_are_checked(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("WAGGLE_CRAWL_PAGES", '{"fmkorea": 1, "clien": 2}')
    assert make_settings(tmp_path).crawl_pages == {"fmkorea": 1, "clien": 2}
    monkeypatch.setenv("WAGGLE_CRAWL_PAGES", '{"fmkorea": 0}')
    with pytest.raises(ValueError, match="crawl_pages"):
        make_settings(tmp_path)
