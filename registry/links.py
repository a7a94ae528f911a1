"""Mailed links: a random token for the mail, its sha256 in `access_links`.

A link opens one thing for one person (`LinkPurpose`: a sign-in, a digital
request, an invitation) until it expires. The token is 32 random bytes in
URL-safe base64; only its hash is stored, so a copy of the table opens
nothing. `find_link` looks a token up without using it; `use_link` marks a
single-use link (a sign-in) used with a conditional UPDATE, so two requests
racing with the same token cannot both win, on SQLite and PostgreSQL alike.

Like the rest of the registry, every function takes the caller's session
and an aware `now`, and never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.digital_models import AccessLink, LinkPurpose

TOKEN_BYTES = 32
_TOKEN_MAX = 100  # far above the 43 characters of a real token: anything longer is not one


class LinkStatus(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"  # never issued, or not for this purpose
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class FoundLink:
    status: LinkStatus
    link: AccessLink | None  # None only when UNKNOWN


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_link(
    session: Session,
    purpose: LinkPurpose,
    *,
    person_id: int,
    lifetime: dt.timedelta,
    now: dt.datetime,
    target_id: int | None = None,
) -> str:
    """Store a new link and return its token (the caller mails it; it is not kept)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccessLink(
            token_hash=token_hash(token),
            purpose=purpose,
            person_id=person_id,
            target_id=target_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def find_link(
    session: Session, token: str | None, purpose: LinkPurpose, now: dt.datetime
) -> FoundLink:
    """What a token is, without using it. Expired wins over used: it says less."""
    if not token or len(token) > _TOKEN_MAX:
        return FoundLink(LinkStatus.UNKNOWN, None)
    link = session.get(AccessLink, token_hash(token))
    if link is None or link.purpose != purpose:
        return FoundLink(LinkStatus.UNKNOWN, None)
    if link.expires_at <= now:
        return FoundLink(LinkStatus.EXPIRED, link)
    if link.used_at is not None:
        return FoundLink(LinkStatus.USED, link)
    return FoundLink(LinkStatus.VALID, link)


def use_link(session: Session, link: AccessLink, now: dt.datetime) -> bool:
    """Mark `link` used if it still is unused and unexpired; False if another use won."""
    result = session.execute(
        sa.update(AccessLink)
        .where(
            col(AccessLink.token_hash) == link.token_hash,
            col(AccessLink.used_at).is_(None),
            col(AccessLink.expires_at) > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def use_links_of(session: Session, purpose: LinkPurpose, target_id: int, now: dt.datetime) -> int:
    """Mark every unused link to `target_id` used (a request decided: the others only show it)."""
    result = session.execute(
        sa.update(AccessLink)
        .where(
            col(AccessLink.purpose) == purpose,
            col(AccessLink.target_id) == target_id,
            col(AccessLink.used_at).is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
