"""Turning settings into the explicit values the stages take.

The CLI and the web app call `build_context` once; everything downstream gets
the frozen `AppContext` (or single values from it) as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from kopplingar.settings import IPNetwork, Settings
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
    images_dir: Path | None = None
    mail_dir: Path | None = None  # the mailbox's raw messages (.eml), for the quarantine page
    auth_policy: AuthPolicy = field(default_factory=AuthPolicy)
    # Reverse proxies whose X-Forwarded-For is believed (kopplingar.middleware.client_address).
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Secure on the reviewer cookies: True when served over https behind a proxy that
    # talks plain http to us; None to follow the scheme of each request.
    cookie_secure: bool | None = None
    # The roots a PDF's digital signature must chain to (KOPPLINGAR_SIGNATURE_TRUST_ROOTS).
    trust_roots: tuple[bytes, ...] = ()
    # Working days the receipt mail promises for a review: the queue's due dates.
    review_days: int = 2
    info_reminder_days: int = 5  # a case waiting for the customer: reminder, then closing
    # The demo's mail page on the customer pages (`kopplingar demo` only: it shows all mail).
    demo_outbox: bool = False

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
        trusted_proxies=settings.trusted_proxy_networks(),
        images_dir=settings.data_dir / "images",
        mail_dir=settings.data_dir / "mail",
        cookie_secure=True if settings.public_base_url.startswith("https://") else None,
        trust_roots=settings.trust_roots(),
        review_days=settings.review_days,
        info_reminder_days=settings.info_reminder_days,
    )
