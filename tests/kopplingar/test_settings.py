"""Settings: production refuses unsafe secrets; demo creates and keeps its own."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kopplingar.errors import EX_CONFIG, ConfigError
from kopplingar.settings import Mode, Settings

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
    base: dict[str, object] = {"mode": Mode.PRODUCTION, "mailbox_address": "kopplingar@byra.se"}
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", [None, "", "   ", "changeme", "short-secret"])
def test_production_refuses_missing_default_or_short_secret(secret: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        production(qr_secret=secret).check()
    assert err.value.exit_code == EX_CONFIG
    assert "KOPPLINGAR_QR_SECRET" in err.value.message


def test_production_refuses_the_example_mailbox() -> None:
    with pytest.raises(ConfigError, match="MAILBOX"):
        production(qr_secret=GOOD_SECRET, mailbox_address="kopplingar@example.se").check()


def test_production_uses_the_given_secret() -> None:
    s = production(qr_secret=GOOD_SECRET)
    s.check()
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
