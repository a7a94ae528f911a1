"""Settings: production refuses unsafe secrets; demo creates and keeps its own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kopplingar.errors import ConfigError
from kopplingar.settings import (
    DEMO_MAILBOX,
    Mode,
    Settings,
    env_name,
    load_settings,
    settings_table,
)

REPO = Path(__file__).resolve().parents[2]
DEMO_MAILBOX_FOR_TEST = DEMO_MAILBOX

GOOD_SECRET = "k" * 48


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings read the environment and .env: isolate both.
    monkeypatch.chdir(tmp_path)
    for name in (
        "KOPPLINGAR_MODE",
        "KOPPLINGAR_QR_SECRET",
        "KOPPLINGAR_DATA_DIR",
        "DATABASE_URL",
        "KOPPLINGAR_DATABASE_URL",
        "KOPPLINGAR_MAILBOX_ADDRESS",
    ):
        monkeypatch.delenv(name, raising=False)


def production(**kw: object) -> Settings:
    base: dict[str, object] = {
        "mode": Mode.PRODUCTION,
        "mailbox_address": "kopplingar@byra.se",
        "public_base_url": "https://blanketter.byra.se",
    }
    base.update(kw)
    return load_settings(**base)


@pytest.mark.parametrize("secret", [None, "", "   ", "changeme", "short-secret"])
def test_production_refuses_missing_default_or_short_secret(secret: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        production(qr_secret=secret)
    assert err.value.exit_code == os.EX_CONFIG
    assert "KOPPLINGAR_QR_SECRET" in err.value.message


def test_production_refuses_the_example_mailbox() -> None:
    with pytest.raises(ConfigError, match="MAILBOX"):
        production(qr_secret=GOOD_SECRET, mailbox_address="kopplingar@example.se")


def test_production_uses_the_given_secret() -> None:
    s = production(qr_secret=GOOD_SECRET)
    assert s.qr_key() == GOOD_SECRET.encode()


def test_demo_creates_a_private_secret_once(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    key = s.qr_key()
    path = tmp_path / "d" / "qr-secret"
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "d").qr_key() == key


def test_environment_and_database_url_alias(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("KOPPLINGAR_MAILBOX_ADDRESS", "in@byra.se")
    s = Settings()
    assert s.resolved_database_url() == "postgresql://u@h/db"
    assert s.mailbox_address == "in@byra.se"


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data")
    assert s.resolved_database_url() == f"sqlite:///{(tmp_path / 'data' / 'kopplingar.db')}"


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KOPPLINGAR_MAILBOX_ADDRESS=post@byra.se\n")
    assert Settings().mailbox_address == "post@byra.se"


@pytest.mark.parametrize(
    "url",
    [
        "http://blanketter.byra.se",
        "https://127.0.0.1:8000",
        "https://localhost/",
        "https://[::1]/",
        "https://0.0.0.0/",
        "https://",
    ],
)
def test_production_refuses_a_public_url_customers_cannot_use(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        production(qr_secret=GOOD_SECRET, public_base_url=url)
    assert err.value.exit_code == os.EX_CONFIG
    assert err.value.message.startswith("KOPPLINGAR_PUBLIC_BASE_URL=")


def test_production_lists_every_problem_one_line_each() -> None:
    with pytest.raises(ConfigError) as err:
        production(mailbox_address=DEMO_MAILBOX_FOR_TEST, public_base_url="http://x.se")
    lines = err.value.message.splitlines()
    assert [line.split("=")[0].split(" ")[0] for line in lines] == [
        "KOPPLINGAR_QR_SECRET",
        "KOPPLINGAR_MAILBOX_ADDRESS",
        "KOPPLINGAR_PUBLIC_BASE_URL",
    ]


def test_a_bad_value_names_the_variable_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOPPLINGAR_MODE", "prod")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.message == "KOPPLINGAR_MODE='prod': Input should be 'demo' or 'production'"


def test_a_bad_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPLINGAR_SMTP_PORT", "0")
    monkeypatch.setenv("KOPPLINGAR_SMTP_PASSWORD", "")
    with pytest.raises(ConfigError) as err:
        load_settings(imap_password=["not", "a", "string"])
    assert "not" not in err.value.message
    assert "KOPPLINGAR_SMTP_PORT='0'" in err.value.message
    assert "KOPPLINGAR_IMAP_PASSWORD: " in err.value.message


def test_the_settings_table_in_the_docs_is_the_settings_class() -> None:
    docs = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert settings_table() in docs, "regenerate docs/settings.md: python -m kopplingar.settings"
    for field in Settings.model_fields:
        assert f"`{env_name(field)}`" in docs
