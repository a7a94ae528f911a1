"""The second factor: TOTP codes from an authenticator app, and single-use recovery codes.

Owns enrolment (a secret shown as a QR code and in groups for typing, then
switched on only when the reviewer has confirmed it with a code), checking a
code at login, the ten recovery codes, and turning a login's
"second factor pending" session into a full one. Admins must have a second
factor (the pages send an admin without one to enrolment and nowhere else);
for reviewers it is their choice.

TOTP is RFC 6238 as every authenticator app speaks it (pyotp): SHA-1, 30 s,
6 digits, and one step either side of now, so a phone clock half a minute
off still works. Each code works once: the time step of the last accepted
code is stored and only a later step is accepted, by a conditional UPDATE,
so the same code sent twice at the same moment logs in once.

Recovery codes are 80 random bits (16 base32 characters, shown in groups of
four); only their sha256 is stored, which is enough at that entropy (no
dictionary to try), and a code is spent by a conditional UPDATE too. New
codes replace the old ones at every enrolment.

Wrong codes count against the login throttle's table under their own key,
`totp:<reviewer id>`, and each is recorded as `security.second_factor_failed`;
someone who has the password still gets only a few guesses an hour.

The TOTP secret must be stored as it is (the server computes the codes too),
so whoever can read the `reviewers` table can compute codes: protect it like
the password hashes next to it (docs/review.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
import segno
import sqlalchemy as sa
from sqlmodel import Session, col, select

from review.auth import (
    AuthPolicy,
    LoginThrottled,
    SessionInfo,
    _blocked_for,
    _clear,
    _count_failure,
    end_all_sessions,
    end_session,
    start_session,
)
from review.errors import AuthError
from review.security import record_security_event
from workqueue import RecoveryCode, Reviewer, ReviewerRole

ISSUER = "kopplingar"
TOTP_INTERVAL = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps accepted either side of now
RECOVERY_CODE_COUNT = 10
_RECOVERY_BYTES = 10  # 80 bits: 16 base32 characters
_CODE_JUNK = re.compile(r"[\s\-]+")


class SecondFactorRefused(AuthError):  # noqa: N818
    """A wrong, reused or malformed code; deliberately one message."""

    def __init__(self) -> None:
        super().__init__("Koden stämmer inte. Skriv den kod som appen visar just nu.")


class EnrolmentError(AuthError):
    """Enrolment cannot go on (no secret was started, or the confirming code was wrong)."""


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows for a started (not yet confirmed) secret."""

    secret: str
    grouped: str  # the secret in groups of four, for typing by hand
    uri: str  # otpauth:// for the app
    qr_svg: str  # the same as an inline SVG QR code


def has_second_factor(reviewer: Reviewer) -> bool:
    return reviewer.totp_secret is not None


def needs_enrolment(reviewer: Reviewer) -> bool:
    """An admin without a second factor: they may do nothing until they have one."""
    return reviewer.role == ReviewerRole.ADMIN and not has_second_factor(reviewer)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def time_step(now: dt.datetime) -> int:
    return int(now.timestamp()) // TOTP_INTERVAL


def _matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp, here = _totp(secret), time_step(now)
    for step in range(here - TOTP_WINDOW, here + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _clean(code: str) -> str:
    return _CODE_JUNK.sub("", code).lower()


def _grouped(text: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


def enrolment_view(reviewer: Reviewer) -> Enrolment | None:
    """The started secret as the page shows it, or None if none was started."""
    secret = reviewer.totp_pending_secret
    if secret is None:
        return None
    uri = _totp(secret).provisioning_uri(name=reviewer.email, issuer_name=ISSUER)
    qr = segno.make_qr(uri, error="m")
    svg = qr.svg_inline(scale=5, dark="#000", light="#fff", title="QR-kod för din app")
    return Enrolment(secret=secret, grouped=_grouped(secret), uri=uri, qr_svg=svg)


def begin_enrolment(session: Session, reviewer: Reviewer) -> Enrolment:
    """A new secret to show; the current second factor (if any) stays until it is confirmed."""
    reviewer.totp_pending_secret = pyotp.random_base32()  # 160 bits, RFC 4226's recommendation
    session.add(reviewer)
    view = enrolment_view(reviewer)
    assert view is not None
    return view


def _code_hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode("ascii", "replace")).hexdigest()


def _new_recovery_codes(session: Session, reviewer_id: int, now: dt.datetime) -> list[str]:
    session.exec(sa.delete(RecoveryCode).where(col(RecoveryCode.reviewer_id) == reviewer_id))
    codes = [
        base64.b32encode(secrets.token_bytes(_RECOVERY_BYTES)).decode("ascii").lower()
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    for code in codes:
        session.add(
            RecoveryCode(reviewer_id=reviewer_id, code_sha256=_code_hash(code), created_at=now)
        )
    return [_grouped(code, sep="-") for code in codes]


def confirm_enrolment(
    session: Session, reviewer: Reviewer, code: str, *, now: dt.datetime
) -> list[str]:
    """Switch the started secret on if `code` is from it; the new recovery codes, shown once."""
    secret = reviewer.totp_pending_secret
    if secret is None:
        raise EnrolmentError("Ingen QR-kod är påbörjad. Börja om från Mitt konto.")
    step = _matching_step(secret, _clean(code), now)
    if step is None:
        raise EnrolmentError(
            "Koden stämmer inte. Kontrollera att appen har läst in QR-koden och att "
            "telefonens klocka går rätt, och skriv koden som visas just nu."
        )
    assert reviewer.id is not None
    replaced = reviewer.totp_secret is not None
    reviewer.totp_secret = secret
    reviewer.totp_pending_secret = None
    reviewer.totp_enabled_at = now
    reviewer.totp_last_step = step  # the confirming code cannot log anyone in afterwards
    session.add(reviewer)
    codes = _new_recovery_codes(session, reviewer.id, now)
    record_security_event(
        session,
        "security.second_factor_enrolled",
        actor=reviewer.email,
        subject=reviewer.email,
        detail="ny app ersatte den förra" if replaced else "",
        now=now,
    )
    return codes


def recovery_codes_left(session: Session, reviewer_id: int) -> int:
    rows = session.exec(
        select(sa.func.count())
        .select_from(RecoveryCode)
        .where(col(RecoveryCode.reviewer_id) == reviewer_id, col(RecoveryCode.used_at).is_(None))
    )
    return int(rows.one())


def _spend_step(session: Session, reviewer: Reviewer, step: int) -> bool:
    # Conditional: of two requests with the same code, exactly one moves the step on.
    result = session.exec(
        sa.update(Reviewer)
        .where(
            col(Reviewer.id) == reviewer.id,
            sa.or_(col(Reviewer.totp_last_step).is_(None), col(Reviewer.totp_last_step) < step),
        )
        .values(totp_last_step=step)
    )
    return int(result.rowcount) == 1


def _spend_recovery_code(session: Session, reviewer: Reviewer, code: str, now: dt.datetime) -> bool:
    result = session.exec(
        sa.update(RecoveryCode)
        .where(
            col(RecoveryCode.reviewer_id) == reviewer.id,
            col(RecoveryCode.code_sha256) == _code_hash(code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    return int(result.rowcount) == 1


def verify_second_factor(
    session: Session, reviewer: Reviewer, code: str, *, now: dt.datetime, policy: AuthPolicy
) -> str:
    """ "totp" or "recovery" if `code` is a valid unused one; else SecondFactorRefused.

    A failure is counted and recorded in `session` before the exception:
    commit after catching it too. LoginThrottled while the key is blocked.
    """
    assert reviewer.id is not None and reviewer.totp_secret is not None
    key = f"totp:{reviewer.id}"
    wait = _blocked_for(session, [key], now, policy)
    if wait is not None:
        raise LoginThrottled(wait)
    cleaned = _clean(code)
    kind: str | None = None
    reason = "fel kod"
    if cleaned.isdigit():
        step = _matching_step(reviewer.totp_secret, cleaned, now)
        if step is not None:
            if _spend_step(session, reviewer, step):
                kind = "totp"
            else:
                reason = "koden var redan använd"
    elif cleaned and _spend_recovery_code(session, reviewer, cleaned, now):
        kind = "recovery"
        reason = ""
    if kind is None:
        _count_failure(session, key, now, policy)
        record_security_event(
            session,
            "security.second_factor_failed",
            actor=reviewer.email,
            subject=reviewer.email,
            detail=reason,
            now=now,
        )
        raise SecondFactorRefused()
    _clear(session, key)
    session.refresh(reviewer)
    return kind


def complete_login(
    session: Session,
    pending: SessionInfo,
    code: str,
    *,
    now: dt.datetime,
    policy: AuthPolicy,
    address: str | None,
    user_agent: str | None,
) -> tuple[SessionInfo, str]:
    """The full session that replaces a pending one once its code is right, and the code's kind.

    The pending session's token is ended and a new one issued: the cookie an
    observer may have seen between the two steps opens nothing.
    """
    if not pending.second_factor_pending:
        raise ValueError("the session is not waiting for a second factor")
    kind = verify_second_factor(session, pending.reviewer, code, now=now, policy=policy)
    end_session(session, pending.token, now)
    full = start_session(
        session, pending.reviewer, now=now, policy=policy, address=address, user_agent=user_agent
    )
    return full, kind


def remove_second_factor(session: Session, reviewer: Reviewer, *, now: dt.datetime) -> None:
    """An operator's reset for a reviewer who lost both phone and recovery codes.

    Every session of theirs ends; an admin is sent to enrolment at the next login.
    """
    assert reviewer.id is not None
    reviewer.totp_secret = None
    reviewer.totp_pending_secret = None
    reviewer.totp_enabled_at = None
    reviewer.totp_last_step = None
    session.add(reviewer)
    session.exec(sa.delete(RecoveryCode).where(col(RecoveryCode.reviewer_id) == reviewer.id))
    end_all_sessions(session, reviewer.id, now)
    record_security_event(
        session,
        "security.second_factor_removed",
        actor="operator",
        subject=reviewer.email,
        detail="tvåstegsverifiering borttagen från kommandoraden",
        now=now,
    )
