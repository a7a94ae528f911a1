"""Quarantined mail for people: the listings, their Swedish reasons, and an admin's release.

On SQLite and PostgreSQL (the `engine` fixture), with real rows and a real
content store for the raw bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from registry import AuditEvent
from workqueue import (
    RELEASE_ACTION,
    AttachmentOutcome,
    ImageStore,
    InboundAttachment,
    InboundMessage,
    MessageState,
    ReleaseRefused,
    Reviewer,
    ReviewerRole,
    message_reference,
    quarantine_counts,
    quarantined_messages,
    rejected_attachments,
    release_message,
    viewable_message,
)

NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)
ENGLISH = "pypdfium2._helpers.misc.PdfiumError: Failed to load page."
_uids = itertools.count(1)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "mail", suffix=".eml")


def reviewer(session: Session, name: str, role: ReviewerRole) -> Reviewer:
    row = Reviewer(
        email=f"{name.lower()}@backoffice.example", name=name, role=role, password_hash="x"
    )
    session.add(row)
    session.commit()
    return row


def inbound(
    session: Session,
    store: ImageStore | None,
    *,
    state: MessageState = MessageState.QUARANTINED,
    raw_stored: bool = True,
    attempts: int = 3,
    reason_code: str | None = None,
) -> InboundMessage:
    n = next(_uids)
    raw = f"From: a@kund.se\r\nSubject: {n}\r\n\r\nhej\r\n".encode()
    sha = store.put(raw) if store is not None else hashlib.sha256(raw).hexdigest()
    row = InboundMessage(
        account="maildir:/tmp/x", folder="Quarantine", uidvalidity=1, uid=n, sha256=sha,
        size=len(raw), raw_stored=raw_stored, sender="a@kund.se", subject=f"Ämne {n}",
        recorded_at=NOW - dt.timedelta(hours=1), state=state, attempts=attempts,
        detail=ENGLISH, reason_code=reason_code,
    )  # fmt: skip
    session.add(row)
    session.commit()
    return row


def test_release_by_an_admin_resets_the_message_and_is_audited(
    session: Session, store: ImageStore
) -> None:
    admin = reviewer(session, "Ada", ReviewerRole.ADMIN)
    message = inbound(session, store)
    assert message.id is not None and admin.id is not None
    released = release_message(session, message.id, reviewer_id=admin.id, now=NOW, raw_store=store)
    session.commit()
    assert released.state is MessageState.RECEIVED
    session.expire_all()
    row = session.get(InboundMessage, message.id)
    assert row is not None
    assert (row.state, row.attempts) == (MessageState.RECEIVED, 0)
    assert row.released_at == NOW and row.released_by == admin.id
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == RELEASE_ACTION)).all()
    assert event.actor == "ada@backoffice.example"
    assert event.subject == f"inbound_message:{message.id}"
    assert event.at == NOW
    assert event.before == {"state": "quarantined", "attempts": 3}
    assert event.after == {"state": "received", "attempts": 0}
    assert message_reference(message.id) in event.detail and "Ada" in event.detail


def _unchanged(session: Session, message: InboundMessage) -> None:
    session.rollback()
    session.expire_all()
    row = session.get(InboundMessage, message.id)
    assert row is not None
    assert (row.state, row.attempts, row.released_at) == (message.state, message.attempts, None)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == RELEASE_ACTION)).all() == []


@pytest.mark.parametrize("role", [ReviewerRole.REVIEWER, None])
def test_only_an_active_admin_may_release(
    session: Session, store: ImageStore, role: ReviewerRole | None
) -> None:
    who = reviewer(session, "Rut", role or ReviewerRole.ADMIN)
    if role is None:  # a disabled admin
        who.active = False
        session.add(who)
        session.commit()
    message = inbound(session, store)
    assert message.id is not None and who.id is not None
    with pytest.raises(ReleaseRefused, match="administratör"):
        release_message(session, message.id, reviewer_id=who.id, now=NOW)
    _unchanged(session, message)


def test_release_refuses_what_cannot_be_retried(session: Session, store: ImageStore) -> None:
    admin = reviewer(session, "Ada", ReviewerRole.ADMIN)
    assert admin.id is not None
    processed = inbound(session, store, state=MessageState.PROCESSED, attempts=1)
    header_only = inbound(session, store, raw_stored=False)
    lost = inbound(session, None)  # its bytes are not in the store
    cases = [
        (processed, "ligger inte i karantän"),
        (header_only, "sparades aldrig"),
        (lost, "sparades aldrig"),
    ]
    for message, words in cases:
        assert message.id is not None
        with pytest.raises(ReleaseRefused, match=words) as refused:
            release_message(session, message.id, reviewer_id=admin.id, now=NOW, raw_store=store)
        assert not refused.value.missing
        assert message_reference(message.id) in refused.value.message
        _unchanged(session, message)
    with pytest.raises(ReleaseRefused) as unknown:
        release_message(session, 999_999, reviewer_id=admin.id, now=NOW)
    assert unknown.value.missing


def test_a_message_released_twice_is_released_once(session: Session, store: ImageStore) -> None:
    admin = reviewer(session, "Ada", ReviewerRole.ADMIN)
    message = inbound(session, store)
    assert message.id is not None and admin.id is not None
    release_message(session, message.id, reviewer_id=admin.id, now=NOW)
    session.commit()
    with pytest.raises(ReleaseRefused, match="ligger inte i karantän"):
        release_message(session, message.id, reviewer_id=admin.id, now=NOW)
    session.rollback()
    events = session.exec(select(AuditEvent).where(AuditEvent.action == RELEASE_ACTION)).all()
    assert len(events) == 1


def test_the_listings_give_swedish_reasons_size_and_sha256(
    session: Session, store: ImageStore
) -> None:
    quarantined = inbound(session, store, reason_code="message.kept_failing")
    processed = inbound(session, store, state=MessageState.PROCESSED)
    assert quarantined.id is not None and processed.id is not None
    data = b"PK\x03\x04 not opened"
    session.add(
        InboundAttachment(
            message_id=processed.id, position=1, filename="<b>bilagor</b>.zip",
            declared_type="application/zip", detected_type="zip", size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), outcome=AttachmentOutcome.REJECTED,
            detail="a zip archive; archives are never opened", reason_code="attachment.not_a_scan",
        )
    )  # fmt: skip
    session.add(
        InboundAttachment(
            message_id=processed.id, position=0, filename="ok.pdf", declared_type="application/pdf",
            detected_type="pdf", size=10, sha256="0" * 64, outcome=AttachmentOutcome.QUEUED,
        )
    )  # fmt: skip
    session.commit()

    [listed] = quarantined_messages(session)
    assert listed.message.id == quarantined.id
    assert listed.reference == message_reference(quarantined.id)
    assert "avbröts" in listed.reason and ENGLISH not in listed.reason
    [rejected] = rejected_attachments(session)
    assert rejected.attachment.size == len(data)
    assert rejected.attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert rejected.message.id == processed.id  # of a message in any state
    assert rejected.reason.endswith(".") and "zip archive" not in rejected.reason
    assert quarantine_counts(session) == (1, 1)
    # The raw mail is there to download for both, and for nothing else.
    assert viewable_message(session, quarantined.id) is not None
    assert viewable_message(session, processed.id) is not None
    plain = inbound(session, store, state=MessageState.PROCESSED)
    assert plain.id is not None and viewable_message(session, plain.id) is None


def test_listings_page_by_id_newest_first(session: Session, store: ImageStore) -> None:
    ids = [inbound(session, store).id for _ in range(7)]
    first = quarantined_messages(session, limit=3)
    assert [r.message.id for r in first] == ids[::-1][:3]
    second = quarantined_messages(session, before=first[-1].message.id, limit=3)
    assert [r.message.id for r in second] == ids[::-1][3:6]
    rest = quarantined_messages(session, before=second[-1].message.id, limit=3)
    assert [r.message.id for r in rest] == ids[:1]
