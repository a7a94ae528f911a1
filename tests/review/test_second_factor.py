"""TOTP enrolment and checks, recovery codes, the throttle on codes, the two-step login.

Codes are computed here from the stored secret with pyotp for the moment a
call is given (`now`), so windows and replays are tested by moving time,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pyotp
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import AuditEvent
from review.auth import (
    PENDING_LIFETIME,
    AuthPolicy,
    LoginThrottled,
    create_reviewer,
    load_session,
    start_session,
)
from review.second_factor import (
    RECOVERY_CODE_COUNT,
    EnrolmentError,
    SecondFactorRefused,
    begin_enrolment,
    complete_login,
    confirm_enrolment,
    enrolment_view,
    needs_enrolment,
    recovery_codes_left,
    time_step,
    verify_second_factor,
)
from workqueue import LoginThrottle, RecoveryCode, Reviewer, ReviewerRole

NOW = dt.datetime(2026, 12, 3, 9, 0, 10, tzinfo=dt.UTC)
POLICY = AuthPolicy()
STEP = dt.timedelta(seconds=30)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def _reviewer(session: Session, role: ReviewerRole = ReviewerRole.REVIEWER) -> Reviewer:
    reviewer = create_reviewer(
        session,
        email="greta@kopplingar.se",
        name="Greta Granskare",
        role=role,
        password="korrekt häst batteri 7",
        now=NOW,
    )
    session.commit()
    return reviewer


def code_at(secret: str, at: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def _enrolled(session: Session) -> tuple[Reviewer, list[str]]:
    reviewer = _reviewer(session)
    secret = begin_enrolment(session, reviewer).secret
    codes = confirm_enrolment(session, reviewer, code_at(secret, NOW - STEP), now=NOW - STEP)
    session.commit()
    return reviewer, codes


def _secret(reviewer: Reviewer) -> str | None:
    return reviewer.totp_secret  # read through a call, so the type checker does not narrow it


def _pending(reviewer: Reviewer) -> str | None:
    return reviewer.totp_pending_secret


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


def test_enrolment_switches_on_only_after_a_right_code(session: Session) -> None:
    reviewer = _reviewer(session)
    assert enrolment_view(reviewer) is None
    started = begin_enrolment(session, reviewer)
    session.commit()
    assert _secret(reviewer) is None and _pending(reviewer) == started.secret
    assert started.grouped.replace(" ", "") == started.secret
    assert started.uri.startswith("otpauth://totp/kopplingar:greta%40kopplingar.se?")
    assert f"secret={started.secret}" in started.uri
    assert started.qr_svg.startswith("<svg") and "style=" not in started.qr_svg
    wrong = str((int(code_at(started.secret, NOW)) + 1) % 1_000_000).zfill(6)
    with pytest.raises(EnrolmentError, match="Koden stämmer inte"):
        confirm_enrolment(session, reviewer, wrong, now=NOW)
    assert _secret(reviewer) is None
    codes = confirm_enrolment(session, reviewer, code_at(started.secret, NOW), now=NOW)
    session.commit()
    session.refresh(reviewer)
    stored = session.get(Reviewer, reviewer.id)
    assert stored is not None and stored.totp_secret == started.secret
    assert stored.totp_pending_secret is None and stored.totp_enabled_at == NOW
    assert len(codes) == len(set(codes)) == RECOVERY_CODE_COUNT
    assert len(_events(session, "security.second_factor_enrolled")) == 1
    # The confirming code itself cannot be replayed to log in.
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(
            session, reviewer, code_at(started.secret, NOW), now=NOW, policy=POLICY
        )


def test_confirming_without_a_started_secret_is_refused(session: Session) -> None:
    reviewer = _reviewer(session)
    with pytest.raises(EnrolmentError, match="Ingen QR-kod"):
        confirm_enrolment(session, reviewer, "123456", now=NOW)


def test_recovery_codes_are_stored_only_as_hashes(session: Session) -> None:
    _, codes = _enrolled(session)
    rows = session.exec(select(RecoveryCode)).all()
    assert len(rows) == RECOVERY_CODE_COUNT
    stored = {row.code_sha256 for row in rows}
    for code in codes:
        plain = code.replace("-", "")
        assert len(plain) == 16  # 80 random bits in base32
        assert hashlib.sha256(plain.encode()).hexdigest() in stored
        assert all(plain not in value for value in stored)


def test_a_code_works_within_one_step_and_only_once(session: Session) -> None:
    reviewer, _ = _enrolled(session)
    secret = reviewer.totp_secret
    assert secret is not None
    later = NOW + 10 * STEP
    for far in (later - 2 * STEP, later + 2 * STEP):  # two steps off: refused
        with pytest.raises(SecondFactorRefused):
            verify_second_factor(session, reviewer, code_at(secret, far), now=later, policy=POLICY)
    session.commit()
    early = code_at(secret, later - STEP)  # a phone half a minute behind
    assert verify_second_factor(session, reviewer, early, now=later, policy=POLICY) == "totp"
    session.commit()
    assert reviewer.totp_last_step == time_step(later - STEP)
    # The same code again, or an older one still inside the window, never works again.
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(session, reviewer, early, now=later, policy=POLICY)
    session.commit()
    failed = _events(session, "security.second_factor_failed")
    assert failed[-1].detail == "koden var redan använd"
    current = code_at(secret, later)
    assert verify_second_factor(session, reviewer, f" {current[:3]} {current[3:]} ", now=later,
                                policy=POLICY) == "totp"  # fmt: skip
    session.commit()
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(session, reviewer, early, now=later, policy=POLICY)


def test_a_recovery_code_works_once_in_any_spelling(session: Session) -> None:
    reviewer, codes = _enrolled(session)
    assert recovery_codes_left(session, reviewer.id or 0) == RECOVERY_CODE_COUNT
    spelled = codes[3].upper().replace("-", " ")
    assert verify_second_factor(session, reviewer, spelled, now=NOW, policy=POLICY) == "recovery"
    session.commit()
    assert recovery_codes_left(session, reviewer.id or 0) == RECOVERY_CODE_COUNT - 1
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(session, reviewer, codes[3], now=NOW, policy=POLICY)
    session.commit()
    assert verify_second_factor(session, reviewer, codes[4], now=NOW, policy=POLICY) == "recovery"


def test_a_new_enrolment_replaces_the_old_secret_and_codes(session: Session) -> None:
    reviewer, old_codes = _enrolled(session)
    old_secret = reviewer.totp_secret
    assert old_secret is not None
    new_secret = begin_enrolment(session, reviewer).secret
    session.commit()
    # Until the new one is confirmed, the old app still logs in.
    old_code = code_at(old_secret, NOW)
    assert verify_second_factor(session, reviewer, old_code, now=NOW, policy=POLICY) == "totp"
    later = NOW + 3 * STEP
    new_codes = confirm_enrolment(session, reviewer, code_at(new_secret, later), now=later)
    session.commit()
    assert reviewer.totp_secret == new_secret
    even_later = later + 3 * STEP
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(
            session, reviewer, code_at(old_secret, even_later), now=even_later, policy=POLICY
        )
    session.commit()
    with pytest.raises(SecondFactorRefused):
        verify_second_factor(session, reviewer, old_codes[0], now=even_later, policy=POLICY)
    session.commit()
    assert verify_second_factor(session, reviewer, new_codes[0], now=even_later, policy=POLICY)


def test_wrong_codes_are_throttled_under_their_own_key_and_recorded(session: Session) -> None:
    reviewer, _ = _enrolled(session)
    secret = reviewer.totp_secret
    assert secret is not None and reviewer.id is not None
    later = NOW + 20 * STEP
    for guess in range(POLICY.free_failures):
        with pytest.raises(SecondFactorRefused):
            verify_second_factor(session, reviewer, f"{guess:06d}"[:5] + "x", now=later,
                                 policy=POLICY)  # fmt: skip
        session.commit()
    row = session.get(LoginThrottle, f"totp:{reviewer.id}")
    assert row is not None and row.failures == POLICY.free_failures
    assert session.get(LoginThrottle, f"account:{reviewer.email}") is None  # not the login's key
    # Blocked: even the right code is refused until the block ends.
    with pytest.raises(LoginThrottled):
        verify_second_factor(session, reviewer, code_at(secret, later), now=later, policy=POLICY)
    assert len(_events(session, "security.second_factor_failed")) == POLICY.free_failures
    after = later + POLICY.first_block
    assert verify_second_factor(session, reviewer, code_at(secret, after), now=after,
                                policy=POLICY) == "totp"  # fmt: skip
    session.commit()
    assert session.get(LoginThrottle, f"totp:{reviewer.id}") is None


def test_the_two_step_login_replaces_the_pending_session(session: Session) -> None:
    reviewer, _ = _enrolled(session)
    secret = reviewer.totp_secret
    assert secret is not None
    pending = start_session(
        session, reviewer, now=NOW, policy=POLICY, address="192.0.2.1", user_agent="Firefox",
        second_factor_pending=True,
    )  # fmt: skip
    session.commit()
    assert pending.expires_at == NOW + PENDING_LIFETIME
    loaded = load_session(session, pending.token, now=NOW, policy=POLICY)
    assert loaded is not None and loaded.second_factor_pending
    with pytest.raises(SecondFactorRefused):
        complete_login(
            session, loaded, "000000" if code_at(secret, NOW) != "000000" else "111111",
            now=NOW, policy=POLICY, address=None, user_agent=None,
        )  # fmt: skip
    session.commit()
    still = load_session(session, pending.token, now=NOW, policy=POLICY)
    assert still is not None and still.second_factor_pending
    full, kind = complete_login(
        session, still, code_at(secret, NOW), now=NOW, policy=POLICY, address=None,
        user_agent=None,
    )  # fmt: skip
    session.commit()
    assert kind == "totp" and full.token != pending.token and not full.second_factor_pending
    assert load_session(session, pending.token, now=NOW, policy=POLICY) is None
    opened = load_session(session, full.token, now=NOW, policy=POLICY)
    assert opened is not None and not opened.second_factor_pending
    assert opened.expires_at == NOW + POLICY.absolute
    # A pending session left alone is gone after its short lifetime.
    idle = start_session(session, reviewer, now=NOW, policy=POLICY, address=None, user_agent=None,
                         second_factor_pending=True)  # fmt: skip
    session.commit()
    assert load_session(session, idle.token, now=NOW + PENDING_LIFETIME, policy=POLICY) is None


def test_admins_need_enrolment_and_reviewers_may_choose(session: Session) -> None:
    admin = _reviewer(session, ReviewerRole.ADMIN)
    assert needs_enrolment(admin)
    secret = begin_enrolment(session, admin).secret
    confirm_enrolment(session, admin, code_at(secret, NOW), now=NOW)
    assert not needs_enrolment(admin)
    admin.role = ReviewerRole.REVIEWER
    admin.totp_secret = None
    assert not needs_enrolment(admin)
