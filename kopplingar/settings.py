"""Settings, read once from the environment and `.env` by the composition root.

Stages never read these: the CLI and the app factory turn them into explicit
values (an engine, a secret, a mailbox address) and pass those down.

Settings are checked when they are built, by the validators below, so no
caller has to remember a check: `load_settings` either returns settings that
are safe for their mode or raises one `ConfigError` whose lines each name an
environment variable, what was wrong and what is allowed.

Two modes: `demo` (the default) creates what it needs in the data directory,
including a random QR secret kept in `qr-secret`; `production` refuses to
start with a missing, short or example secret or mailbox, because forms
signed with a guessable key could be forged, and with a public base URL that
is not https on a public host, because it is printed in customers' mails.

Every field has a description; `settings_table()` is the table in
`docs/settings.md`, and a test keeps the two the same.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from kopplingar.errors import ConfigError

ENV_PREFIX = "KOPPLINGAR_"
DEMO_MAILBOX = "kopplingar@example.se"
MIN_SECRET_BYTES = 32
_KNOWN_BAD_SECRETS = {"changeme", "secret", "change-me", "default", "kopplingar"}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Mode(StrEnum):
    DEMO = "demo"
    PRODUCTION = "production"


PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    mode: Mode = Field(
        default=Mode.DEMO,
        description="`demo` creates its own secret and data; `production` refuses unsafe values.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="The SQLite file, page images, raw mail, locks and the demo's QR secret.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KOPPLINGAR_DATABASE_URL", "DATABASE_URL"),
        description="`postgresql://user@host/db` or `sqlite:///file`; also read as "
        "`DATABASE_URL`. Unset: SQLite in the data directory.",
    )
    mailbox_address: str = Field(
        default=DEMO_MAILBOX,
        description="The `kopplingar@` address printed on the forms and used as the mails' sender.",
    )
    qr_secret: SecretStr | None = Field(
        default=None,
        description=f"HMAC key of the forms' QR codes, at least {MIN_SECRET_BYTES} bytes "
        "(required in production).",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where customers reach the form pages; linked from every mail. "
        "Production: an https URL on a public host.",
    )
    download_limit: int = Field(
        default=20,
        ge=1,
        description="Form downloads and lookups per window on the public pages, per address "
        "and per client organisationsnummer (shared by all workers).",
    )
    download_window_seconds: int = Field(
        default=600, ge=1, description="The window of `KOPPLINGAR_DOWNLOAD_LIMIT`, in seconds."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated networks of your own reverse proxies (`127.0.0.1/32,::1`). "
        "From these peers only, the client is the rightmost `X-Forwarded-For` hop outside "
        "them. Empty: the peer address, and uvicorn ignores proxy headers.",
    )

    # The mailbox: IMAP, or a local Maildir / folder of .eml files (demo, tests, imports).
    signature_trust_roots: Path | None = Field(
        default=None,
        description="A folder of PEM certificates: the roots a PDF's digital signature must "
        "chain to (e-ID issuers). Unset: no digital signature is trusted; each is shown, and "
        "blocks.",
    )
    mail_folder: Path | None = Field(
        default=None,
        description="A Maildir or `.eml` folder as the mailbox when no IMAP host is set.",
    )
    imap_host: str | None = Field(default=None, description="IMAP server of the mailbox.")
    imap_port: int = Field(default=993, ge=1, le=65535, description="IMAP port.")
    imap_security: Literal["imaps", "starttls", "plain"] = Field(
        default="imaps",
        description="`imaps`, `starttls`, or `plain` (refused unless "
        "`KOPPLINGAR_IMAP_ALLOW_PLAIN_ON_LOOPBACK` and the host is loopback).",
    )
    imap_username: str | None = Field(default=None, description="IMAP login.")
    imap_password: SecretStr | None = Field(default=None, description="IMAP password.")
    imap_token_command: str | None = Field(
        default=None,
        description="XOAUTH2 instead of a password: a command printing an access token or "
        '`{"access_token", "expires_in"}`; run again before expiry.',
    )
    imap_ca_file: Path | None = Field(
        default=None,
        description="An extra CA (PEM) to trust besides the system's; certificates are always "
        "verified.",
    )
    imap_allow_plain_on_loopback: bool = Field(
        default=False, description="Allow `plain` IMAP towards a loopback address."
    )
    imap_folder: str = Field(default="INBOX", description="Folder the pass reads.")
    processed_folder: str = Field(
        default="Processed", description="Where a handled message is moved (created if missing)."
    )
    quarantine_folder: str = Field(
        default="Quarantine",
        description="Where a message that could not be handled is moved (created if missing).",
    )
    mail_max_mb: int = Field(
        default=30,
        ge=1,
        le=200,
        description="Larger messages are quarantined after fetching only their header, in MB.",
    )
    min_free_mb: int = Field(
        default=200,
        ge=0,
        description="A mailbox pass refuses to start (exit 75) with less free space than "
        "this in the data directory, in MB.",
    )
    reader_jobs: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Reader processes (each with its own Tesseract). Default: one per core.",
    )
    reader_seconds: float = Field(
        default=120.0, gt=0, description="Time limit for reading one attachment, in seconds."
    )
    reader_memory_mb: int = Field(
        default=3072, ge=256, description="Address-space limit of a reader process, in MB."
    )
    watch_idle_seconds: float = Field(
        default=300.0, gt=0, description="`intake watch`: longest IMAP IDLE wait, in seconds."
    )
    watch_poll_seconds: float = Field(
        default=300.0, gt=0, description="`intake watch`: a full pass at least this often."
    )
    review_days: int = Field(
        default=2,
        ge=1,
        description="Working days the receipt mail promises for a review.",
    )
    info_reminder_days: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Days a case waits for the customer's completion (\"väntar på kund\") "
        "before the one reminder, and again after it before the case is closed.",
    )
    autoreply_max_per_hour: int = Field(
        default=200,
        ge=0,
        description="Automatic replies (receipts and the like) to all senders together per hour; "
        "the rest are kept unsent as `suppressed`. 0 sends none.",
    )

    # Outgoing mail (replies). Without a host, replies wait in the outbox.
    smtp_host: str | None = Field(
        default=None, description="SMTP server for replies; unset, they wait in the outbox."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_security: Literal["starttls", "smtps", "plain"] = Field(
        default="starttls", description="`starttls`, `smtps`, or `plain` (loopback only)."
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_ca_file: Path | None = Field(
        default=None, description="Extra CA certificate(s) to trust for SMTP, PEM."
    )
    smtp_allow_plain_on_loopback: bool = Field(
        default=False, description="Allow `plain` SMTP towards a loopback address."
    )

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        if self.mode is not Mode.PRODUCTION:
            return self
        problems = []
        given = self.qr_secret.get_secret_value().strip() if self.qr_secret else ""
        if not given:
            problems.append(
                f"{ENV_PREFIX}QR_SECRET is not set; production needs its own secret"
            )
        elif given.lower() in _KNOWN_BAD_SECRETS or len(given.encode()) < MIN_SECRET_BYTES:
            problems.append(
                f"{ENV_PREFIX}QR_SECRET is a default or shorter than {MIN_SECRET_BYTES} bytes; "
                "generate one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.mailbox_address == DEMO_MAILBOX or "@" not in self.mailbox_address:
            problems.append(
                f"{ENV_PREFIX}MAILBOX_ADDRESS must be the real mailbox printed on the forms"
            )
        url_problem = _public_url_problem(self.public_base_url)
        if url_problem:
            problems.append(f"{ENV_PREFIX}PUBLIC_BASE_URL={self.public_base_url!r}: {url_problem}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        try:
            return ",".join(str(net) for net in parse_networks(value))
        except ValueError as exc:
            raise ValueError(f"not a list of networks such as 127.0.0.1/32,::1 ({exc})") from None

    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kopplingar.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the data directory {self.data_dir} "
                f"({ENV_PREFIX}DATA_DIR): {exc.strerror or exc}"
            ) from exc
        return self.data_dir

    def trust_roots(self) -> tuple[bytes, ...]:
        """Every certificate in the trust-root folder (PEM, one or more per file)."""
        folder = self.signature_trust_roots
        if folder is None:
            return ()
        if not folder.is_dir():
            raise ConfigError(f"{ENV_PREFIX}SIGNATURE_TRUST_ROOTS: {folder} is not a folder")
        roots: list[bytes] = []
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".pem", ".crt", ".cer"):
                continue
            text = path.read_bytes()
            blocks = PEM_BLOCK.findall(text)
            if not blocks:
                raise ConfigError(f"{ENV_PREFIX}SIGNATURE_TRUST_ROOTS: {path} holds no PEM "
                                  "certificate (-----BEGIN CERTIFICATE-----)")
            roots += blocks
        return tuple(roots)

    def qr_key(self) -> bytes:
        """The HMAC key for QR payloads: the given one, or (demo) one kept in the data dir."""
        given = self.qr_secret.get_secret_value().strip() if self.qr_secret else ""
        if given:
            return given.encode()
        path = self.ensure_data_dir() / "qr-secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, ::1` as networks (a bare address is its own /32 or /128); ValueError if bad."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _public_url_problem(url: str) -> str | None:
    """Why `url` cannot be the address customers are sent to, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "production needs https, since the link is mailed to customers"
    host = (parts.hostname or "").lower()
    if not host:
        return "the URL has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback host cannot be reached by customers"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return "a loopback host cannot be reached by customers"
    return None


def env_name(field: str) -> str:
    """The environment variable a settings field is read from."""
    info = Settings.model_fields[field]
    if isinstance(info.validation_alias, AliasChoices):
        first = info.validation_alias.choices[0]
        return first if isinstance(first, str) else ENV_PREFIX + field.upper()
    return ENV_PREFIX + field.upper()


def _problem_lines(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            lines.extend(message.splitlines())
            continue
        field = str(error["loc"][0])
        name = env_name(field) if field in Settings.model_fields else field
        secret = field.endswith(("secret", "password"))
        shown = "" if secret or isinstance(error["input"], dict) else f"={error['input']!r}"
        lines.append(f"{name}{shown}: {message}")
    return lines


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and `.env` (and `overrides`), checked for the mode."""
    if os.environ.get(f"{ENV_PREFIX}TRUST_FORWARDED_FOR"):
        # Ignoring it silently would count every client behind the proxy as the proxy.
        raise ConfigError(
            f"{ENV_PREFIX}TRUST_FORWARDED_FOR is no longer read: list your proxies instead, "
            f"e.g. {ENV_PREFIX}TRUSTED_PROXIES=127.0.0.1/32,::1/128"
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(_problem_lines(exc))) from None


def settings_table() -> str:
    """Every setting as a Markdown table: variable, default, what it is for."""
    rows = ["| variable | default | what it is for |", "| --- | --- | --- |"]
    for field, info in Settings.model_fields.items():
        if info.default_factory is not None:
            default = "see description"
        elif info.default is None:
            default = "unset"
        elif info.default == "":
            default = "empty"
        else:
            value = info.default.value if isinstance(info.default, StrEnum) else info.default
            default = f"`{value}`"
        rows.append(f"| `{env_name(field)}` | {default} | {info.description or ''} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
