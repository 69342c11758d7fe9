from pathlib import Path

import pytest

from wagglebot.core.config import ConfigError, Settings, load_settings
from wagglebot.core.config_docs import configuration_markdown

from conftest import REPO

URL = "mysql+mysqldb://u:sup3r-secret@127.0.0.1:3307/app?charset=utf8mb4"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("WAGGLE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(Settings.model_config, "env_file", tmp_path / "absent.env")


def test_missing_db_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"WAGGLE_DB_URL: Field required"):
        load_settings()


def test_invalid_values_name_their_variables_and_hide_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAGGLE_DB_URL", "postgresql://u:sup3r-secret@h/db")
    monkeypatch.setenv("WAGGLE_AIRFLOW_PORT", "not-a-port")
    monkeypatch.setenv("WAGGLE_TTS_ENGINE", "festival")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "WAGGLE_DB_URL: Value error, must be a mysql+mysqldb://" in message
    assert "WAGGLE_AIRFLOW_PORT" in message
    assert "WAGGLE_TTS_ENGINE" in message
    assert "sup3r-secret" not in message


def test_env_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"WAGGLE_DB_URL={URL}\nWAGGLE_AIRFLOW_PORT=9000\nWAGGLE_LLM_ENGINE=extractive\n"
    )
    monkeypatch.setitem(Settings.model_config, "env_file", env_file)
    monkeypatch.setenv("WAGGLE_AIRFLOW_PORT", "9100")
    settings = load_settings()
    assert settings.db_url.get_secret_value() == URL
    assert settings.airflow_port == 9100
    assert settings.llm_engine == "extractive"


def test_the_api_url_follows_the_local_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGGLE_DB_URL", URL)
    monkeypatch.setenv("WAGGLE_AIRFLOW_PORT", "9123")
    assert load_settings().airflow_api_url == "http://127.0.0.1:9123"
    monkeypatch.setenv("WAGGLE_AIRFLOW_API_URL", "http://airflow-apiserver:8080")
    assert load_settings().airflow_api_url == "http://airflow-apiserver:8080"


def test_secrets_stay_out_of_repr_and_paths_are_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGGLE_DB_URL", URL)
    monkeypatch.setenv("WAGGLE_MEDIA_ROOT", "relative/media")
    settings = load_settings()
    assert "sup3r-secret" not in repr(settings)
    assert settings.media_root.is_absolute()
    assert settings.media_root.name == "media"


def test_as_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAGGLE_DB_URL", URL)
    monkeypatch.setenv("WAGGLE_AIRFLOW_PASSWORD", "pw")
    monkeypatch.setenv("WAGGLE_CRAWL_SITES", '["nate_pann", "ppomppu"]')
    monkeypatch.setenv("WAGGLE_CRAWL_BASE_URLS", '{"ruliweb": "http://127.0.0.1:9"}')
    original = load_settings()
    assert original.crawl_base_urls == {"ruliweb": "http://127.0.0.1:9"}
    env = original.as_env()
    assert env["WAGGLE_DB_URL"] == URL
    assert env["WAGGLE_AIRFLOW_PASSWORD"] == "pw"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == original


def test_the_environment_wins_whole_over_env_for_json_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text(
        f"WAGGLE_DB_URL={URL}\n"
        'WAGGLE_CRAWL_BASE_URLS={"ruliweb": "http://127.0.0.1:9001"}\n'
        'WAGGLE_CRAWL_SITES=["ruliweb", "ppomppu"]\n'
    )
    assert load_settings(_env_file=env_file).crawl_base_urls == {"ruliweb": "http://127.0.0.1:9001"}
    monkeypatch.setenv("WAGGLE_CRAWL_BASE_URLS", '{"ppomppu": "http://127.0.0.1:9002"}')
    settings = load_settings(_env_file=env_file)
    # Not merged with the file's object: the environment's value is the whole value.
    assert settings.crawl_base_urls == {"ppomppu": "http://127.0.0.1:9002"}
    assert settings.crawl_sites == ["ruliweb", "ppomppu"]  # the file still fills the rest


def test_every_setting_is_described_and_the_configuration_doc_is_current() -> None:
    undescribed = [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert undescribed == [], "give each a docstring under it in config.py"
    written = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert written == configuration_markdown(), "run: python -m wagglebot.core.config_docs"
    for name in Settings.model_fields:
        assert f"`WAGGLE_{name.upper()}`" in written
