"""Claiming submissions (`review.claims`): one reviewer at a time, expiry, release, what comes next.

Every test runs on SQLite and PostgreSQL (the `engine` fixture); the cases
come from the sample registry (`tests.review.queue_cases`).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from review import (
    CLAIM_TTL,
    ClaimedByOther,
    DecisionError,
    claim,
    correct_field,
    next_unclaimed,
    release,
)
from tests.review.queue_cases import (
    NOW,
    disconnect_case,
    dual_case,
    reject_as,
    reload,
    submit,
)
from workqueue import ImageStore, Reviewer, SubmissionStatus

# -- claiming ----------------------------------------------------------------------------------


def test_a_claim_is_exclusive_until_it_expires(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    held = claim(session, sid, alice, now=NOW)
    session.commit()
    assert (held.claimed_by, held.claimed_until) == (alice.id, NOW + CLAIM_TTL)

    with pytest.raises(ClaimedByOther) as refused:
        claim(session, sid, bob, now=NOW + dt.timedelta(minutes=5))
    assert refused.value.reviewer_name == "Alice"
    assert refused.value.until == NOW + CLAIM_TTL
    assert "Alice granskar redan ärendet" in refused.value.message
    assert refused.value.exit_code == 65

    # Alice comes back: her claim is extended, not refused.
    later = NOW + dt.timedelta(minutes=10)
    assert claim(session, sid, alice, now=later).claimed_until == later + CLAIM_TTL
    session.commit()

    # Once it has run out, anyone may take it, and Alice can no longer decide it.
    expired = later + CLAIM_TTL + dt.timedelta(seconds=1)
    assert claim(session, sid, bob, now=expired).claimed_by == bob.id
    session.commit()
    with pytest.raises(ClaimedByOther):
        correct_field(session, sid, alice, "client_name", "Annat AB", now=expired)
    session.rollback()
    with pytest.raises(ClaimedByOther):
        reject_as(session, sid, alice, now=expired)
    session.rollback()
    assert reload(session, sid).status == SubmissionStatus.QUEUED


def test_a_claim_committed_in_one_session_holds_in_another(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    with Session(engine) as first:
        claim(first, sid, alice, now=NOW)
        first.commit()
    with Session(engine) as second, pytest.raises(ClaimedByOther):
        claim(second, sid, bob, now=NOW + dt.timedelta(minutes=1))


def test_of_two_claims_at_once_only_one_wins(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    outcome: dict[str, object] = {}

    def bob_claims() -> None:
        with Session(engine) as second:
            try:
                claim(second, sid, bob, now=NOW)
                second.commit()
                outcome["bob"] = "won"
            except ClaimedByOther as exc:
                outcome["bob"] = exc.reviewer_name

    with Session(engine) as first:
        claim(first, sid, alice, now=NOW)  # not committed yet: the row is Alice's to write
        thread = threading.Thread(target=bob_claims)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # Bob's UPDATE waits for Alice's transaction
        first.commit()
    thread.join(10)
    assert outcome == {"bob": "Alice"}
    assert reload(session, sid).claimed_by == alice.id


def test_release_gives_it_back_but_only_your_own(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    release(session, sid, bob)  # not Bob's: nothing happens
    session.commit()
    assert reload(session, sid).claimed_by == alice.id
    release(session, sid, alice)
    session.commit()
    assert reload(session, sid).claimed_by is None
    assert claim(session, sid, bob, now=NOW).claimed_by == bob.id


def test_an_unknown_submission_cannot_be_claimed(session: Session, alice: Reviewer) -> None:
    with pytest.raises(DecisionError, match="finns inte"):
        claim(session, 999_999, alice, now=NOW)


def test_an_inactive_reviewer_cannot_claim(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    alice.active = False
    session.add(alice)
    session.commit()
    with pytest.raises(DecisionError, match="avstängt"):
        claim(session, sid, alice, now=NOW)


def test_next_unclaimed_follows_the_order_and_skips_others_claims(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    case = dual_case()
    sure = submit(session, store, "dual", case.values(), confidence=0.9)
    unsure = submit(session, store, "dual", case.values(), confidence=0.4)
    unreadable = submit(session, store, None, {}, unreadable="Sidan är tom.")
    disconnect = submit(session, store, "disconnect", disconnect_case().values(), confidence=0.6)

    def walk(order: Any, kind: str | None = None) -> list[int]:
        seen: list[int] = []
        at = next_unclaimed(session, reviewer=alice, now=NOW, order=order, kind=kind)
        while at is not None and at not in seen:
            seen.append(at)
            at = next_unclaimed(
                session, reviewer=alice, now=NOW, after_id=at, order=order, kind=kind
            )
        return seen

    assert walk("least_sure") == [unreadable, unsure, disconnect, sure]
    assert walk("oldest") == [sure, unsure, unreadable, disconnect]
    assert walk("oldest", kind="dual") == [sure, unsure]

    claim(session, unsure, bob, now=NOW)
    claim(session, disconnect, alice, now=NOW)
    session.commit()
    assert walk("least_sure") == [unreadable, disconnect, sure]  # Bob's is skipped, hers is not
    assert (
        next_unclaimed(
            session,
            reviewer=alice,
            now=NOW + CLAIM_TTL + dt.timedelta(seconds=1),
            after_id=unreadable,
        )
        == unsure
    )  # Bob's claim ran out
    # After the last one it starts from the top; the one it came from is never the answer.
    assert next_unclaimed(session, reviewer=alice, now=NOW, after_id=sure) == unreadable
    claim(session, unreadable, alice, now=NOW)
    reject_as(session, unreadable, alice)
    session.commit()
    # A decided submission still marks the place in the queue.
    assert next_unclaimed(session, reviewer=alice, now=NOW, after_id=unreadable) == disconnect
