"""The login throttle without a browser: capped blocks, device cookies, race-safe counts.

On SQLite and PostgreSQL; time is the `now` each call is given. The
property test runs `AuthPolicy.block_after` over 10,000 failures for many
policies; the rest goes through `authenticate` as the login page does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import AuditEvent
from review.auth import (
    AuthError,
    AuthPolicy,
    LoginRefused,
    LoginThrottled,
    authenticate,
    create_reviewer,
    set_password,
)
from review.throttle import device_tokens, trust_device
from workqueue import LoginDevice, LoginThrottle, Reviewer, ReviewerRole

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
POLICY = AuthPolicy()
PASSWORD = "korrekt häst batteri 7"
WRONG = "fel lösenord 123"
EMAIL = "sara.granskare@kopplingar.se"
HOME = "192.0.2.10"  # the reviewer's own address
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def sara(session: Session) -> Reviewer:
    reviewer = create_reviewer(
        session,
        email=EMAIL,
        name="Sara Lindqvist",
        role=ReviewerRole.REVIEWER,
        password=PASSWORD,
        now=NOW,
    )
    session.commit()
    return reviewer


def _login(
    session: Session,
    password: str,
    *,
    at: dt.datetime,
    address: str | None = HOME,
    device: str | None = None,
    policy: AuthPolicy = POLICY,
) -> Reviewer:
    try:
        reviewer = authenticate(
            session,
            email=EMAIL,
            password=password,
            address=address,
            now=at,
            policy=policy,
            device=device,
        )
    except AuthError:
        session.commit()  # as the login page does: the failure must stay counted
        raise
    session.commit()
    return reviewer


def _failures(session: Session, key: str) -> int:
    session.expire_all()
    row = session.get(LoginThrottle, key)
    return row.failures if row is not None else 0


def _known_browser(session: Session, reviewer: Reviewer, at: dt.datetime = NOW) -> str:
    """The device cookie a successful login from HOME leaves in the browser."""
    _login(session, PASSWORD, at=at)
    cookie = trust_device(session, reviewer, None, now=at, policy=POLICY)
    session.commit()
    return cookie


# The block length


@settings(max_examples=40, deadline=None)
@given(
    free=st.integers(min_value=1, max_value=20),
    first_seconds=st.integers(min_value=1, max_value=3600),
    factor=st.integers(min_value=1, max_value=10_000),
)
def test_the_block_stays_within_its_bounds_and_never_shrinks_over_10000_failures(
    free: int, first_seconds: int, factor: int
) -> None:
    first = dt.timedelta(seconds=first_seconds)
    policy = AuthPolicy(free_failures=free, first_block=first, max_block=first * factor)
    blocks = [policy.block_after(n) for n in range(1, 10_001)]
    assert all(b is None for b in blocks[: free - 1])
    counted = [b for b in blocks[free - 1 :] if b is not None]
    assert len(counted) == 10_000 - (free - 1)
    assert counted[0] == first
    assert all(first <= b <= policy.max_block for b in counted)
    assert all(a <= b for a, b in itertools.pairwise(counted))
    assert counted[-1] == policy.max_block


def test_sixty_wrong_passwords_are_all_counted_and_none_raises(
    session: Session, sara: Reviewer
) -> None:
    """The 47th failure used to overflow timedelta: a 500 that counted nothing."""
    at = NOW
    for n in range(1, 61):
        with pytest.raises(LoginRefused):
            _login(session, WRONG, at=at)
        assert _failures(session, f"account:{EMAIL}") == n
        block = POLICY.block_after(n)
        at += block + SECOND if block is not None else SECOND  # the next guess after the block
    with pytest.raises(LoginThrottled) as raised:
        _login(session, PASSWORD, at=at - 2 * SECOND)
    assert raised.value.retry_after == SECOND
    assert _login(session, PASSWORD, at=at).email == EMAIL


# Device cookies


def _attack(session: Session, times: int, at: dt.datetime) -> None:
    """Wrong passwords from a new address each; refused, or throttled once the account is."""
    for n in range(times):
        with pytest.raises(LoginRefused if n < POLICY.free_failures else LoginThrottled):
            _login(session, WRONG, at=at, address=f"198.51.100.{n + 1}")


def test_an_attacker_elsewhere_cannot_lock_the_owner_out_of_their_known_browser(
    session: Session, sara: Reviewer
) -> None:
    cookie = _known_browser(session, sara)
    later = NOW + dt.timedelta(hours=2)
    _attack(session, POLICY.free_failures + 3, later)  # a new address every time
    # The account is blocked for browsers it does not know, however often the owner tries ...
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=later)
    # ... but the owner's own browser logs in at once, and the attacker is still slowed.
    assert _login(session, PASSWORD, at=later, device=cookie).email == EMAIL
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=later, address="203.0.113.9")


def test_a_device_cookie_counts_only_for_its_own_account(session: Session, sara: Reviewer) -> None:
    other = create_reviewer(
        session,
        email="olle@kopplingar.se",
        name="Olle Berg",
        role=ReviewerRole.REVIEWER,
        password=PASSWORD,
        now=NOW,
    )
    session.commit()
    cookie = trust_device(session, other, None, now=NOW, policy=POLICY)
    session.commit()
    _attack(session, POLICY.free_failures, NOW)
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=NOW, device=cookie)
    # One browser, two accounts: the cookie then holds a token for each.
    both = trust_device(session, sara, cookie, now=NOW, policy=POLICY)
    assert len(device_tokens(both)) == 2 and device_tokens(cookie)[0] in device_tokens(both)


def test_failures_from_a_known_browser_are_throttled_and_then_it_is_not_trusted(
    session: Session, sara: Reviewer
) -> None:
    policy = AuthPolicy(free_failures=3, device_untrust_after=6)
    cookie = _known_browser(session, sara)
    at = NOW + SECOND
    for n in range(1, policy.device_untrust_after + 1):
        with pytest.raises(LoginRefused):
            _login(session, WRONG, at=at, device=cookie, address=None, policy=policy)
        block = policy.block_after(n)
        at += block if block is not None else SECOND
    # Counted on the device, not on the account ...
    assert _failures(session, f"account:{EMAIL}") == 0
    # ... until the device is no longer trusted: then the account's own throttle applies.
    device = session.exec(select(LoginDevice)).one()
    assert device.revoked_at is not None
    untrusted = select(AuditEvent).where(AuditEvent.action == "security.device_untrusted")
    assert session.exec(untrusted).one().subject == EMAIL
    for _ in range(policy.free_failures):
        with pytest.raises(LoginRefused):
            _login(session, WRONG, at=at, device=cookie, address=None, policy=policy)
    assert _failures(session, f"account:{EMAIL}") == policy.free_failures
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=at, device=cookie, address=None, policy=policy)


def test_a_new_password_ends_trust_in_every_browser(session: Session, sara: Reviewer) -> None:
    cookie = _known_browser(session, sara)
    set_password(session, sara, "ett helt nytt lösenord 9", NOW + SECOND)
    session.commit()
    later = NOW + dt.timedelta(hours=2)
    _attack(session, POLICY.free_failures, later)
    with pytest.raises(LoginThrottled):
        _login(session, "ett helt nytt lösenord 9", at=later, device=cookie)


def test_a_forged_or_junk_device_cookie_is_an_unknown_browser(
    session: Session, sara: Reviewer
) -> None:
    _known_browser(session, sara)
    later = NOW + dt.timedelta(hours=2)
    _attack(session, POLICY.free_failures, later)
    for junk in ("A" * 43, "x" * 5000, "..", "ä" * 43):
        with pytest.raises(LoginThrottled):
            _login(session, PASSWORD, at=later, device=junk)


def test_failures_throttling_and_untrust_are_security_events(
    session: Session, sara: Reviewer
) -> None:
    _attack(session, POLICY.free_failures, NOW)
    events = session.exec(
        select(AuditEvent).where(col(AuditEvent.action).startswith("security."))
    ).all()
    failed = [e for e in events if e.action == "security.login_failed"]
    throttled = [e for e in events if e.action == "security.login_throttled"]
    assert len(failed) == POLICY.free_failures
    assert {e.subject for e in failed} == {EMAIL}
    assert failed[0].actor == "198.51.100.1" and "fel lösenord" in failed[0].detail
    assert len(throttled) == 1 and "kontot spärrad i 30 s" in throttled[0].detail
    # A refused try during the block is not one more row: it costs the attacker nothing.
    with pytest.raises(LoginThrottled):
        _login(session, WRONG, at=NOW)
    assert len(session.exec(select(AuditEvent)).all()) == len(events)


# Several processes at once


def test_failures_at_the_same_moment_are_all_counted(engine: Engine, sara: Reviewer) -> None:
    """One login holds its transaction while another counts: neither count may be lost.

    The second one waits (PostgreSQL's row lock, SQLite's one writer) and then
    adds to what the first committed, rather than writing back what it read before.
    """
    with Session(engine) as setup:
        _login(setup, PASSWORD, at=NOW)  # nothing counted yet
        with pytest.raises(LoginRefused):
            _login(setup, WRONG, at=NOW)  # the rows exist: the next two both update them
    with Session(engine) as first, Session(engine) as second:
        with pytest.raises(LoginRefused):
            authenticate(
                first, email=EMAIL, password=WRONG, address=HOME, now=NOW, policy=POLICY
            )  # counted, not committed: holds the rows
        done: list[BaseException | None] = []

        def other() -> None:
            try:
                _login(second, WRONG, at=NOW)
            except LoginRefused as exc:
                done.append(exc)

        worker = threading.Thread(target=other)
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()  # waiting for the first login's lock
        first.commit()
        worker.join(timeout=30)
        assert not worker.is_alive() and len(done) == 1
    with Session(engine) as check:
        assert _failures(check, f"account:{EMAIL}") == 3
        assert _failures(check, f"address:{HOME}") == 3
