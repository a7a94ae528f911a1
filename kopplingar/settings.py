"""Settings, read once from the environment and `.env` by the composition root.

Stages never read these: the CLI and the app factory turn them into explicit
values (an engine, a secret, a mailbox address) and pass those down.

Two modes: `demo` (the default) creates what it needs in the data directory,
including a random QR secret kept in `qr-secret`; `production` refuses to
start with a missing, short or example secret or mailbox, because forms
signed with a guessable key could be forged.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kopplingar.errors import ConfigError

DEMO_MAILBOX = "kopplingar@example.se"
MIN_SECRET_BYTES = 32
_KNOWN_BAD_SECRETS = {"changeme", "secret", "change-me", "default", "kopplingar"}


class Mode(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KOPPLINGAR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    mode: Mode = Mode.DEMO
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("KOPPLINGAR_DATABASE_URL", "DATABASE_URL")
    )
    mailbox_address: str = DEMO_MAILBOX
    qr_secret: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    download_limit: int = Field(default=20, ge=1)
    download_window_seconds: int = Field(default=600, ge=1)
    trust_forwarded_for: bool = False

    # The mailbox: IMAP, or a local Maildir / folder of .eml files (demo, tests, imports).
    mail_folder: Path | None = None
    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Literal["imaps", "starttls", "plain"] = "imaps"
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_token_command: str | None = None  # XOAUTH2: prints an access token (or JSON)
    imap_ca_file: Path | None = None
    imap_allow_plain_on_loopback: bool = False
    imap_folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    mail_max_mb: int = Field(default=30, ge=1, le=200)
    reader_jobs: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    reader_seconds: float = Field(default=120.0, gt=0)
    reader_memory_mb: int = Field(default=3072, ge=256)
    watch_idle_seconds: float = Field(default=300.0, gt=0)
    watch_poll_seconds: float = Field(default=300.0, gt=0)
    review_days: int = Field(default=2, ge=1)

    # Outgoing mail (replies). Without a host, replies wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "smtps", "plain"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None
    smtp_allow_plain_on_loopback: bool = False

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kopplingar.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create data directory {self.data_dir}: {exc}") from exc
        return self.data_dir

    def qr_key(self) -> bytes:
        """The HMAC key for QR payloads, checked (production) or created (demo)."""
        given = self.qr_secret.get_secret_value().strip() if self.qr_secret else ""
        if self.mode is Mode.PRODUCTION:
            if not given:
                raise ConfigError(
                    "KOPPLINGAR_QR_SECRET is not set; production needs its own secret"
                )
            if given.lower() in _KNOWN_BAD_SECRETS or len(given.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"KOPPLINGAR_QR_SECRET is a default or shorter than {MIN_SECRET_BYTES} bytes; "
                    "generate one with: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            return given.encode()
        if given:
            return given.encode()
        path = self.ensure_data_dir() / "qr-secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def check(self) -> None:
        """Refuse unsafe production settings before anything starts."""
        if self.mode is Mode.PRODUCTION:
            self.qr_key()
            if self.mailbox_address == DEMO_MAILBOX or "@" not in self.mailbox_address:
                raise ConfigError(
                    "KOPPLINGAR_MAILBOX_ADDRESS must be the real mailbox printed on the forms"
                )


def load_settings() -> Settings:
    return Settings()
