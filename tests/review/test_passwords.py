"""The password policy: long, not common, not guessable, not the user's name; no composition rules.

The policy runs on zxcvbn's own lists and scoring (no network), so these
tests exercise the real check. The account tests below run on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import review.auth as auth
from review.auth import create_reviewer, set_password
from review.passwords import MAX_PASSWORD_LENGTH, WeakPassword, check_password
from workqueue import Reviewer, ReviewerRole

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
EMAIL = "anna.granskare@kopplingar.se"
NAME = "Anna Granskare"


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.mark.parametrize(
    "password",
    ["Password1234", "Qwerty123456", "Sommar2026!!", "iloveyou1234", "  Dragon12345!"],
)
def test_common_passwords_are_refused_whatever_digits_they_carry(password: str) -> None:
    with pytest.raises(WeakPassword, match="vanligaste lösenorden") as refused:
        check_password(password)
    assert "hjälper inte" in refused.value.message  # it says why the digits did not help


@pytest.mark.parametrize(
    "password",
    [
        "kanelbullarnasmakargott",  # only lower-case letters: refused by the old "two kinds" rule
        "KANELBULLARNASMAKARGOTT",
        "korrekt häst batteri 7",
        "sommar i stockholm",
        "hallon blåbär lingon smultron",
        "R8x!mQ2#vL9z",
    ],
)
def test_long_passphrases_pass_without_any_composition_rule(password: str) -> None:
    check_password(password)
    check_password(password, email=EMAIL, name=NAME)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("abcdefghijklmnop", "följd"),
        ("1234567890123456", "följd"),
        ("aaaaaaaaaaaaaaaa", "upprepar"),
        ("abab1212abab1212", "upprepar"),
        ("poiuytrewqlkjhg", "vanligt ord"),  # keyboard runs are in the breach lists too
        ("qwertyuiopåäöü", "vanligt ord"),
    ],
)
def test_guessable_passwords_are_refused_saying_why(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match="för lätt att gissa") as refused:
        check_password(password)
    assert reason in refused.value.message


@pytest.mark.parametrize(
    "password",
    ["anna.granskare2026", "Granskare är mitt jobb", "annas hemliga lösenord", "ANNA GRANSKARE!!"],
)
def test_a_password_with_the_users_name_or_email_is_refused(password: str) -> None:
    check_password(password)  # fine for somebody else
    with pytest.raises(WeakPassword, match="namn eller din e-postadress"):
        check_password(password, email=EMAIL, name=NAME)


def test_short_names_do_not_refuse_ordinary_words() -> None:
    check_password("bofinkar och bergfinkar", email="bo@kopplingar.se", name="Bo Ek")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Kort1!", "minst 12 tecken"),
        ("x" + "Aa1!" * 64, f"högst {MAX_PASSWORD_LENGTH} tecken"),
        ("Lösenord med \ud800 i", "inte går att använda"),
    ],
)
def test_length_and_encoding(password: str, message: str) -> None:
    with pytest.raises(WeakPassword, match=message):
        check_password(password)


def test_the_longest_password_is_checked_quickly() -> None:
    # zxcvbn's matching grows quadratically; only the first 100 characters are scored.
    started = time.perf_counter()
    with pytest.raises(WeakPassword):
        check_password("Aa1!" * 64)
    check_password("korrekt häst batteri " * 12)
    assert time.perf_counter() - started < 1.0


def test_review_auth_still_offers_the_policy() -> None:
    assert auth.check_password is check_password
    assert auth.WeakPassword is WeakPassword


def _must_change(reviewer: Reviewer) -> bool:
    return reviewer.must_change_password  # through a call: the type checker must not narrow it


def test_creating_or_resetting_an_account_checks_against_its_own_name(session: Session) -> None:
    with pytest.raises(WeakPassword, match="namn"):
        create_reviewer(
            session,
            email=EMAIL,
            name=NAME,
            role=ReviewerRole.REVIEWER,
            password="Anna Granskare 2026",
            now=NOW,
        )
    with pytest.raises(WeakPassword, match="vanligaste"):
        create_reviewer(
            session,
            email=EMAIL,
            name=NAME,
            role=ReviewerRole.REVIEWER,
            password="Password1234",
            now=NOW,
        )
    reviewer = create_reviewer(
        session,
        email=EMAIL,
        name=NAME,
        role=ReviewerRole.REVIEWER,
        password="korrekt häst batteri 7",
        now=NOW,
        must_change_password=True,
    )
    session.commit()
    assert _must_change(reviewer)
    with pytest.raises(WeakPassword, match="namn"):
        set_password(session, reviewer, "granskare anna 123", NOW)
    set_password(session, reviewer, "hallon blåbär lingon", NOW)
    session.commit()
    assert not _must_change(reviewer)  # an operator setting their own, say
    set_password(session, reviewer, "smultron och jordgubbar", NOW, must_change=True)
    session.commit()
    assert _must_change(reviewer)
