"""Turning settings into the explicit values the stages take.

The CLI and the web app call `build_context` once; everything downstream gets
the frozen `AppContext` (or single values from it) as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from kopplingar.settings import Settings
from registry import make_engine
from review import AuthPolicy


@dataclass(frozen=True)
class AppContext:
    engine: Engine
    qr_key: bytes
    mailbox_address: str
    public_base_url: str
    download_limit: int
    download_window_seconds: int
    trust_forwarded_for: bool
    images_dir: Path | None = None
    auth_policy: AuthPolicy = field(default_factory=AuthPolicy)
    # Secure on the reviewer cookies: True when served over https behind a proxy that
    # talks plain http to us; None to follow the scheme of each request.
    cookie_secure: bool | None = None

    @property
    def form_url(self) -> str:
        """The public form pages, as mails to customers link to them."""
        return self.public_base_url.rstrip("/") + "/"

    @property
    def sender_domain(self) -> str:
        """The domain of our own Message-IDs: the mailbox's."""
        return self.mailbox_address.rsplit("@", 1)[-1]


def build_context(settings: Settings) -> AppContext:
    settings.ensure_data_dir()
    return AppContext(
        engine=make_engine(settings.resolved_database_url()),
        qr_key=settings.qr_key(),
        mailbox_address=settings.mailbox_address,
        public_base_url=settings.public_base_url,
        download_limit=settings.download_limit,
        download_window_seconds=settings.download_window_seconds,
        trust_forwarded_for=settings.trust_forwarded_for,
        images_dir=settings.data_dir / "images",
        cookie_secure=True if settings.public_base_url.startswith("https://") else None,
    )
