"""Reviewer accounts, passwords, login throttling and sessions, on SQLite and PostgreSQL.

Time is the `now` each call is given, so expiry and blocks are tested by
moving it rather than by waiting. Every login goes through `_login`, which
commits after a refusal as the web layer must.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import Engine
from sqlmodel import Session, col, select

import review.auth as auth
from review.auth import (
    AuthError,
    AuthPolicy,
    LoginRefused,
    LoginThrottled,
    ReviewerNotFound,
    WeakPassword,
    authenticate,
    check_csrf,
    check_password,
    create_reviewer,
    end_all_sessions,
    end_session,
    get_reviewer,
    hash_password,
    last_logins,
    load_session,
    needs_rehash,
    set_active,
    set_password,
    start_session,
    verify_password,
)
from workqueue import LoginThrottle, Reviewer, ReviewerRole, ReviewSession

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
POLICY = AuthPolicy()
PASSWORD = "korrekt häst batteri 7"
EMAIL = "anna.granskare@kopplingar.se"
ADDRESS = "192.0.2.10"
SECOND = dt.timedelta(seconds=1)
REFUSED = "Fel e-postadress eller lösenord."


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def _add(session: Session, email: str = EMAIL, password: str = PASSWORD) -> Reviewer:
    reviewer = create_reviewer(
        session,
        email=email,
        name="Anna Granskare",
        role=ReviewerRole.REVIEWER,
        password=password,
        now=NOW,
    )
    session.commit()
    return reviewer


def _login(
    session: Session,
    password: str,
    *,
    at: dt.datetime,
    email: str = EMAIL,
    address: str | None = ADDRESS,
    policy: AuthPolicy = POLICY,
) -> Reviewer:
    try:
        reviewer = authenticate(
            session, email=email, password=password, address=address, now=at, policy=policy
        )
    except AuthError:
        session.commit()  # the failure must be kept, as the login page does
        raise
    session.commit()
    return reviewer


def _throttle(session: Session, key: str) -> LoginThrottle | None:
    session.expire_all()
    return session.get(LoginThrottle, key)


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes `authenticate` checked a password against (the real check still runs)."""
    calls: list[str] = []
    real: Callable[[str, str], bool] = auth.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return calls


# Hashes


def test_hash_round_trip_and_salted() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "x")
    assert not verify_password(first, PASSWORD.upper())


def test_hash_is_argon2id_with_the_documented_parameters() -> None:
    stored = hash_password(PASSWORD)
    kind, version, params, salt, digest = stored.split("$")[1:]
    assert (kind, version) == ("argon2id", "v=19")
    expected = f"m={auth.HASH_MEMORY_KIB},t={auth.HASH_TIME_COST},p={auth.HASH_PARALLELISM}"
    assert params == expected
    assert salt and digest and PASSWORD not in stored


def test_the_same_password_in_another_unicode_form_matches() -> None:
    composed = "Lösenord på Åland 12"
    decomposed = composed.replace("ö", "o\u0308").replace("å", "a\u030a").replace("Å", "A\u030a")
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed)


def test_needs_rehash_when_the_parameters_change() -> None:
    old = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1, type=Type.ID)
    older_kind = PasswordHasher(
        time_cost=auth.HASH_TIME_COST,
        memory_cost=auth.HASH_MEMORY_KIB,
        parallelism=auth.HASH_PARALLELISM,
        type=Type.I,
    )
    for stored in (old.hash(PASSWORD), older_kind.hash(PASSWORD)):
        assert verify_password(stored, PASSWORD)  # still logs in ...
        assert needs_rehash(stored)  # ... and is replaced then
    assert not needs_rehash(hash_password(PASSWORD))
    assert needs_rehash("not a hash")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "$argon2id$",
        "$argon2id$v=19$m=1,t=1,p=1$$",
        "$argon2id$v=19$m=47104,t=1,p=1$c2FsdHNhbHQ$bm90IHRoZSBoYXNo",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=47104,t=1,p=1$åäö$xyz",
        "\x00\x00",
    ],
)
def test_verify_never_raises_on_a_malformed_hash(stored: str) -> None:
    assert verify_password(stored, PASSWORD) is False
    assert verify_password(stored, "") is False


def test_verify_never_raises_on_an_unencodable_password() -> None:
    assert verify_password(hash_password(PASSWORD), "\ud800lone surrogate") is False


@pytest.mark.parametrize(
    "password",
    [
        "Kort1!",  # too short
        "abcdefghijklmnop",  # one kind of character
        "ABCDEFGHIJKLMNOP",
        "1234567890123456",
        "aaaaaaaaaaa1",  # two kinds but only two different characters
        "abab1212abab1212",  # four different characters
        "Aa1!" * 65,  # too long
        "Lösenord med \ud800 i",  # cannot be encoded
    ],
)
def test_weak_passwords_are_refused_in_swedish(password: str) -> None:
    with pytest.raises(WeakPassword, match="Lösenordet"):
        check_password(password)


@pytest.mark.parametrize(
    "password", [PASSWORD, "Tolv tecken!", "sommar i stockholm", "R8x!mQ2#vL9z"]
)
def test_acceptable_passwords(password: str) -> None:
    check_password(password)


def test_blocks_double_per_failure_and_are_capped() -> None:
    policy = AuthPolicy(free_failures=3, first_block=dt.timedelta(seconds=10))
    blocks = [policy.block_after(n) for n in range(1, 12)]
    assert blocks[:2] == [None, None]
    assert blocks[2] == policy.first_block
    for before, after in itertools.pairwise(blocks[2:]):
        assert before is not None and after is not None
        assert after == min(before * 2, policy.max_block)
    assert blocks[-1] == policy.max_block
    assert policy.block_after(10**6) == policy.max_block  # no overflow however many


# Accounts


def test_create_reviewer(session: Session) -> None:
    reviewer = create_reviewer(
        session,
        email="  Anna.Granskare@Kopplingar.SE ",
        name=" Anna Granskare ",
        role=ReviewerRole.ADMIN,
        password=PASSWORD,
        now=NOW,
    )
    session.commit()
    session.expire_all()
    stored = session.exec(select(Reviewer)).one()
    assert stored.id == reviewer.id
    assert (stored.email, stored.name, stored.role) == (EMAIL, "Anna Granskare", ReviewerRole.ADMIN)
    assert stored.active and stored.created_at == NOW and stored.password_changed_at == NOW
    assert verify_password(stored.password_hash, PASSWORD)
    assert get_reviewer(session, "ANNA.granskare@kopplingar.se").id == reviewer.id


def test_a_taken_email_is_refused_whatever_its_case(session: Session) -> None:
    _add(session)
    with pytest.raises(AuthError, match=EMAIL) as raised:
        _add(session, email=EMAIL.upper())
    assert raised.value.exit_code == 65
    session.rollback()
    assert len(session.exec(select(Reviewer)).all()) == 1


def test_bad_account_values_add_nothing(session: Session) -> None:
    bad: list[tuple[str, str, str, type[AuthError]]] = [
        ("inte en adress", "Anna", PASSWORD, AuthError),
        ("", "Anna", PASSWORD, AuthError),
        (EMAIL, "  ", PASSWORD, AuthError),
        (EMAIL, "Anna", "kort", WeakPassword),
    ]
    for email, name, password, error in bad:
        with pytest.raises(error):
            create_reviewer(
                session,
                email=email,
                name=name,
                role=ReviewerRole.REVIEWER,
                password=password,
                now=NOW,
            )
    session.commit()
    assert session.exec(select(Reviewer)).all() == []


def test_unknown_reviewer(session: Session) -> None:
    with pytest.raises(ReviewerNotFound) as raised:
        get_reviewer(session, "ingen@kopplingar.se")
    assert raised.value.exit_code == 66
    with pytest.raises(ReviewerNotFound):
        set_active(session, 12345, False, NOW)


# Logging in


def test_right_password_logs_in_with_any_case_of_email(session: Session) -> None:
    reviewer = _add(session)
    assert (
        _login(session, PASSWORD, at=NOW, email=" Anna.Granskare@KOPPLINGAR.se").id == reviewer.id
    )


def test_wrong_password_unknown_email_and_disabled_account_look_the_same(
    session: Session, verify_calls: list[str]
) -> None:
    reviewer = _add(session)
    attempts = [(EMAIL, PASSWORD + "!"), ("okand@kopplingar.se", PASSWORD)]
    messages = []
    for email, password in attempts:
        with pytest.raises(LoginRefused) as raised:
            _login(session, password, at=NOW, email=email)
        messages.append(raised.value.message)
    assert reviewer.id is not None
    set_active(session, reviewer.id, False, NOW)
    session.commit()
    with pytest.raises(LoginRefused) as raised:
        _login(session, PASSWORD, at=NOW, email=EMAIL)
    messages.append(raised.value.message)
    assert messages == [REFUSED] * 3
    # A password was checked every time, against a real-looking hash for the unknown address.
    assert len(verify_calls) == 3
    assert verify_calls[1] != reviewer.password_hash and verify_calls[1].startswith("$argon2id$")


def test_an_outdated_hash_is_replaced_at_login(session: Session) -> None:
    reviewer = _add(session)
    old = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1, type=Type.ID)
    reviewer.password_hash = old.hash(PASSWORD)
    session.add(reviewer)
    session.commit()
    _login(session, PASSWORD, at=NOW)
    session.expire_all()
    stored = session.get(Reviewer, reviewer.id)
    assert stored is not None and not needs_rehash(stored.password_hash)
    assert verify_password(stored.password_hash, PASSWORD)


# Throttling


def _fail(session: Session, times: int, *, at: dt.datetime, **kwargs: object) -> None:
    for _ in range(times):
        with pytest.raises(LoginRefused):
            _login(session, "fel lösenord 123", at=at, **kwargs)  # type: ignore[arg-type]


def test_free_failures_then_a_block_that_refuses_even_the_right_password(
    session: Session, verify_calls: list[str]
) -> None:
    _add(session)
    _fail(session, POLICY.free_failures, at=NOW)
    checked = len(verify_calls)
    with pytest.raises(LoginThrottled) as raised:
        _login(session, PASSWORD, at=NOW + 10 * SECOND)
    assert raised.value.retry_after == POLICY.first_block - 10 * SECOND
    assert raised.value.message == ("För många misslyckade inloggningar. Försök igen om 1 minut.")
    assert len(verify_calls) == checked  # refused without looking at the password
    # A refused attempt during the block does not lengthen it.
    row = _throttle(session, f"account:{EMAIL}")
    assert row is not None and row.blocked_until == NOW + POLICY.first_block
    assert row.failures == POLICY.free_failures


def test_the_block_doubles_per_failure_and_is_capped(session: Session) -> None:
    policy = AuthPolicy(
        free_failures=2, first_block=dt.timedelta(minutes=2), max_block=dt.timedelta(minutes=10)
    )
    _add(session)
    at = NOW
    _fail(session, policy.free_failures, at=at, policy=policy)
    seen = []
    for _ in range(4):
        with pytest.raises(LoginThrottled) as raised:
            _login(session, PASSWORD, at=at, policy=policy)
        seen.append(raised.value.retry_after)
        at += raised.value.retry_after  # the block is over: one more wrong guess
        _fail(session, 1, at=at, policy=policy)
    minutes = dt.timedelta(minutes=1)
    assert seen == [2 * minutes, 4 * minutes, 8 * minutes, 10 * minutes]
    with pytest.raises(LoginThrottled, match="Försök igen om 10 minuter"):
        _login(session, PASSWORD, at=at, policy=policy)
    # Nobody is locked out for good: at the end of the capped block the right password works.
    assert _login(session, PASSWORD, at=at + policy.max_block, policy=policy).email == EMAIL


def test_success_after_the_block_clears_the_account_but_not_the_address(session: Session) -> None:
    _add(session)
    _fail(session, POLICY.free_failures, at=NOW)
    after = NOW + POLICY.first_block
    _login(session, PASSWORD, at=after)
    assert _throttle(session, f"account:{EMAIL}") is None
    address_row = _throttle(session, f"address:{ADDRESS}")
    assert address_row is not None and address_row.failures == POLICY.free_failures
    # The account starts afresh: the failures below the limit block nothing from another address.
    _fail(session, POLICY.free_failures - 1, at=after, address="198.51.100.7")
    assert _login(session, PASSWORD, at=after, address="198.51.100.7").email == EMAIL


def test_the_address_key_stops_guessing_across_accounts(session: Session) -> None:
    _add(session)
    for n in range(POLICY.free_failures):
        _fail(session, 1, at=NOW, email=f"gissning{n}@kopplingar.se")
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=NOW)
    # The account itself is not blocked: from another address it logs in.
    assert _login(session, PASSWORD, at=NOW, address="198.51.100.7").email == EMAIL


def test_without_an_address_only_the_account_counts(session: Session) -> None:
    _add(session)
    _fail(session, POLICY.free_failures, at=NOW, address=None)
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=NOW, address=None)
    assert session.exec(select(LoginThrottle)).all()[0].key == f"account:{EMAIL}"
    assert len(session.exec(select(LoginThrottle)).all()) == 1


def test_failures_are_forgotten_after_the_window(session: Session) -> None:
    _add(session)
    below = POLICY.free_failures - 1
    _fail(session, below, at=NOW)
    later = NOW + POLICY.failure_window
    _fail(session, below, at=later)  # would be a block if the first ones still counted
    row = _throttle(session, f"account:{EMAIL}")
    assert row is not None and row.failures == below and row.blocked_until is None
    assert _login(session, PASSWORD, at=later).email == EMAIL


def test_a_steady_guesser_is_not_forgiven_by_the_window(session: Session) -> None:
    block = dt.timedelta(minutes=40)
    policy = AuthPolicy(free_failures=2, first_block=block, max_block=block)
    _add(session)
    _fail(session, policy.free_failures, at=NOW, policy=policy)
    # A guess at the end of every block: the first failure is soon outside the window,
    # but the blocks keep the count alive.
    at = NOW
    for _ in range(2):
        at += block
        _fail(session, 1, at=at, policy=policy)
    assert at - NOW > policy.failure_window
    with pytest.raises(LoginThrottled):
        _login(session, PASSWORD, at=at + SECOND, policy=policy)


def test_failures_at_the_same_time_are_both_counted(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL's row locks")
    with Session(engine) as setup:
        _add(setup)
    for round_ in (1, 2):  # first both insert the key's row, then both update it
        with Session(engine) as first, Session(engine) as second:
            with pytest.raises(LoginRefused):  # counted, not committed: holds the rows
                authenticate(
                    first, email=EMAIL, password="fel", address=ADDRESS, now=NOW, policy=POLICY
                )
            worker = threading.Thread(target=_fail, args=(second, 1), kwargs={"at": NOW})
            worker.start()
            worker.join(timeout=0.5)
            assert worker.is_alive()  # waiting for the first login's lock
            first.commit()
            worker.join(timeout=30)
            assert not worker.is_alive()
        with Session(engine) as check:
            for key in (f"account:{EMAIL}", f"address:{ADDRESS}"):
                row = check.get(LoginThrottle, key)
                assert row is not None and row.failures == 2 * round_


def test_a_long_email_is_counted_not_crashed_on(session: Session) -> None:
    _fail(session, 1, at=NOW, email="x" * 5000 + "@kopplingar.se")
    keys = [row.key for row in session.exec(select(LoginThrottle))]
    assert len(keys) == 2 and all(len(key) <= 300 for key in keys)


# Sessions


def _start(session: Session, reviewer: Reviewer, at: dt.datetime = NOW) -> auth.SessionInfo:
    info = start_session(
        session, reviewer, now=at, policy=POLICY, address=ADDRESS, user_agent="Firefox/140"
    )
    session.commit()
    return info


def _load(session: Session, token: str | None, at: dt.datetime) -> auth.SessionInfo | None:
    info = load_session(session, token, now=at, policy=POLICY)
    session.commit()
    return info


def test_every_login_gets_a_new_token_and_only_its_hash_is_stored(session: Session) -> None:
    reviewer = _add(session)
    first, second = _start(session, reviewer), _start(session, reviewer)
    assert first.token != second.token and first.csrf_token != second.csrf_token
    assert len(first.token) >= 43  # 32 random bytes
    rows = session.exec(select(ReviewSession)).all()
    assert {row.id for row in rows} == {
        hashlib.sha256(info.token.encode()).hexdigest() for info in (first, second)
    }
    for row in rows:
        assert first.token not in (row.id, row.csrf_token)
        assert (row.client_address, row.user_agent) == (ADDRESS, "Firefox/140")
    loaded = _load(session, first.token, NOW + SECOND)
    assert loaded is not None and loaded.reviewer.id == reviewer.id
    assert (loaded.csrf_token, loaded.expires_at) == (first.csrf_token, NOW + POLICY.absolute)


def test_unknown_tokens_open_nothing(session: Session) -> None:
    info = _start(session, _add(session))
    for token in (None, "", "not-a-token", info.token[:-1], "x" * 10_000):
        assert _load(session, token, NOW) is None


def test_idle_timeout(session: Session) -> None:
    info = _start(session, _add(session))
    almost = NOW + POLICY.idle - SECOND
    assert _load(session, info.token, almost) is not None
    # Use moved the idle limit on ...
    assert _load(session, info.token, almost + POLICY.idle - SECOND) is not None
    # ... until a whole idle period passes without use.
    assert _load(session, info.token, almost + 2 * POLICY.idle) is None


def test_absolute_timeout_however_busy(session: Session) -> None:
    info = _start(session, _add(session))
    at = NOW
    while at + POLICY.idle / 2 < NOW + POLICY.absolute:
        at += POLICY.idle / 2
        assert _load(session, info.token, at) is not None
    assert _load(session, info.token, NOW + POLICY.absolute - SECOND) is not None
    assert _load(session, info.token, NOW + POLICY.absolute) is None


def test_last_seen_is_written_at_most_once_a_minute(session: Session) -> None:
    info = _start(session, _add(session))
    session_id = hashlib.sha256(info.token.encode()).hexdigest()

    def last_seen() -> dt.datetime:
        session.expire_all()
        row = session.get(ReviewSession, session_id)
        assert row is not None
        return row.last_seen_at

    _load(session, info.token, NOW + 59 * SECOND)
    assert last_seen() == NOW
    _load(session, info.token, NOW + 61 * SECOND)
    assert last_seen() == NOW + 61 * SECOND


def test_logout_ends_the_session_and_a_replay_opens_nothing(session: Session) -> None:
    reviewer = _add(session)
    info, other = _start(session, reviewer), _start(session, reviewer)
    end_session(session, info.token, NOW + SECOND)
    session.commit()
    assert _load(session, info.token, NOW + 2 * SECOND) is None
    assert _load(session, info.token, NOW + 3 * SECOND) is None  # replayed
    assert _load(session, other.token, NOW + 2 * SECOND) is not None  # another browser
    end_session(session, info.token, NOW + 4 * SECOND)  # twice, or unknown: no error
    end_session(session, "unknown", NOW)
    session.commit()
    row = session.get(ReviewSession, hashlib.sha256(info.token.encode()).hexdigest())
    assert row is not None and row.ended_at == NOW + SECOND


def test_disabling_ends_every_session_and_enabling_does_not_revive_them(
    session: Session,
) -> None:
    reviewer = _add(session)
    colleague = _add(session, email="bo@kopplingar.se")
    tokens = [_start(session, reviewer).token for _ in range(2)]
    kept = _start(session, colleague).token
    assert reviewer.id is not None
    set_active(session, reviewer.id, False, NOW + SECOND)
    session.commit()
    assert [_load(session, t, NOW + 2 * SECOND) for t in tokens] == [None, None]
    set_active(session, reviewer.id, True, NOW + 3 * SECOND)
    session.commit()
    assert [_load(session, t, NOW + 4 * SECOND) for t in tokens] == [None, None]
    assert _load(session, kept, NOW + 4 * SECOND) is not None
    fresh = _start(session, reviewer, NOW + 5 * SECOND)
    assert _load(session, fresh.token, NOW + 6 * SECOND) is not None


def test_an_inactive_reviewer_opens_no_session_even_if_not_ended(session: Session) -> None:
    reviewer = _add(session)
    info = _start(session, reviewer)
    reviewer.active = False  # e.g. changed by hand in the database
    session.add(reviewer)
    session.commit()
    assert _load(session, info.token, NOW + SECOND) is None


def test_a_new_password_ends_every_session_and_clears_the_account_block(
    session: Session,
) -> None:
    reviewer = _add(session)
    info = _start(session, reviewer)
    _fail(session, POLICY.free_failures, at=NOW)
    new_password = "nytt lösenord i december 2"  # never her name: the policy refuses that
    later = NOW + SECOND
    set_password(session, reviewer, new_password, later)
    session.commit()
    assert _load(session, info.token, later + SECOND) is None
    assert reviewer.password_changed_at == later
    with pytest.raises(LoginRefused):
        _login(session, PASSWORD, at=later, address="198.51.100.7")
    assert _login(session, new_password, at=later, address="198.51.100.7").id == reviewer.id
    with pytest.raises(WeakPassword):
        set_password(session, reviewer, "kort", later)


def test_end_all_sessions_counts_only_usable_ones(session: Session) -> None:
    reviewer = _add(session)
    ended = _start(session, reviewer)
    _start(session, reviewer)
    _start(session, reviewer, NOW - POLICY.absolute)  # long expired
    end_session(session, ended.token, NOW)
    assert reviewer.id is not None
    assert end_all_sessions(session, reviewer.id, NOW + SECOND) == 1
    session.commit()
    assert end_all_sessions(session, reviewer.id, NOW + 2 * SECOND) == 0
    open_rows = session.exec(select(ReviewSession).where(col(ReviewSession.ended_at).is_(None)))
    assert [row.created_at for row in open_rows] == [NOW - POLICY.absolute]  # expired anyway


def test_last_logins(session: Session) -> None:
    reviewer, colleague = _add(session), _add(session, email="bo@kopplingar.se")
    _start(session, reviewer, NOW)
    _start(session, reviewer, NOW + dt.timedelta(hours=2))
    assert last_logins(session) == {reviewer.id: NOW + dt.timedelta(hours=2)}
    assert colleague.id not in last_logins(session)


def test_csrf(session: Session) -> None:
    reviewer = _add(session)
    info, other = _start(session, reviewer), _start(session, reviewer)
    assert check_csrf(info, info.csrf_token)
    for wrong in (None, "", other.csrf_token, info.csrf_token[:-1], info.token, "å" * 43):
        assert not check_csrf(info, wrong)


def test_naive_times_are_refused(session: Session) -> None:
    reviewer = _add(session)
    with pytest.raises(ValueError, match="naive"):
        start_session(
            session,
            reviewer,
            now=NOW.replace(tzinfo=None),
            policy=POLICY,
            address=None,
            user_agent=None,
        )
