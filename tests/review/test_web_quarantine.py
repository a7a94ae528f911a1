"""The quarantine page through the test client: listing, raw download, release, refusals.

The site of `test_pages` (real reviewers, real argon2 logins) with the
mailbox's raw store configured; quarantined messages and rejected
attachments are real rows with real bytes in that store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import itertools
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from kopplingar.app import create_app
from kopplingar.context import AppContext
from registry import AuditEvent
from review.auth import AuthPolicy
from tests.review.test_pages import (
    MAILBOX,
    QR_KEY,
    Site,
    csrf_of,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import (
    RELEASE_ACTION,
    AttachmentOutcome,
    ImageStore,
    InboundAttachment,
    InboundMessage,
    MessageState,
    message_reference,
)

NOW = dt.datetime.now(dt.UTC)
SPAM = "Vinn pengar http://evil.example <script>alert(1)</script>"
ENGLISH = "pypdfium2._helpers.misc.PdfiumError: Failed to load page."
_uids = itertools.count(1000)


@pytest.fixture
def raw(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "mail", suffix=".eml")


@pytest.fixture
def qsite(site: Site, engine: Engine, raw: ImageStore) -> Site:
    """The site, with the raw mail store the quarantine page downloads from."""
    site.app = create_app(
        AppContext(
            engine=engine, qr_key=QR_KEY, mailbox_address=MAILBOX,
            public_base_url="http://testserver", download_limit=1000,
            download_window_seconds=600, images_dir=site.images.root, mail_dir=raw.root,
            auth_policy=AuthPolicy(),
        )
    )  # fmt: skip
    return site


def add_inbound(
    site: Site,
    raw: ImageStore | None,
    *,
    state: MessageState = MessageState.QUARANTINED,
    raw_stored: bool = True,
    subject: str = SPAM,
    reason_sv: str | None = None,
) -> InboundMessage:
    n = next(_uids)
    data = f"From: offer@victim.example\r\nSubject: {n}\r\n\r\nklicka\r\n".encode()
    sha = raw.put(data) if raw is not None else hashlib.sha256(data).hexdigest()
    row = InboundMessage(
        account="maildir:/srv/mail", folder="Quarantine", uidvalidity=1, uid=n, sha256=sha,
        size=3_500_000, raw_stored=raw_stored, sender="offer@victim.example", subject=subject,
        recorded_at=NOW - dt.timedelta(minutes=n % 50), state=state, attempts=3,
        detail=ENGLISH, reason_code="message.kept_failing", reason_sv=reason_sv,
    )  # fmt: skip
    with site.session() as session:
        session.add(row)
        session.commit()
    return row


def add_rejected(site: Site, message: InboundMessage, name: str, data: bytes) -> None:
    assert message.id is not None
    with site.session() as session:
        session.add(
            InboundAttachment(
                message_id=message.id, position=1, filename=name, declared_type="application/zip",
                detected_type="zip", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                outcome=AttachmentOutcome.REJECTED, reason_code="attachment.not_a_scan",
                detail="a zip archive; archives are never opened",
            )
        )  # fmt: skip
        session.commit()


def test_the_page_and_the_raw_mail_need_a_login(qsite: Site, raw: ImageStore) -> None:
    message = add_inbound(qsite, raw)
    anonymous = qsite.client()
    for path in ("/granskning/karantan", f"/granskning/karantan/{message.id}/meddelande.eml"):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/granskning/logga-in")
        assert b"klicka" not in response.content


def test_quarantined_messages_are_listed_in_swedish_and_escaped(
    qsite: Site, raw: ImageStore
) -> None:
    message = add_inbound(qsite, raw)
    assert message.id is not None
    page = qsite.logged_in("alice").get("/granskning/karantan")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert message_reference(message.id) in text
    assert "offer@victim.example" in text
    assert "<script>alert(1)</script>" not in text  # autoescaped
    assert html.escape(SPAM, quote=False) in text
    assert "Behandlingen av meddelandet avbröts" in text
    assert "PdfiumError" not in text and "Failed to load" not in text
    assert "3,3 MB" in text
    assert f"/granskning/karantan/{message.id}/meddelande.eml" in text
    assert "Försök igen" not in text  # a reviewer, not an admin
    assert 'href="/granskning/karantan"' in text  # the nav link


def test_rejected_attachments_keep_name_size_and_sha256(qsite: Site, raw: ImageStore) -> None:
    data = b"PK\x03\x04" + b"z" * 2044
    message = add_inbound(qsite, raw, state=MessageState.PROCESSED)
    add_rejected(qsite, message, f"{SPAM}.zip", data)
    page = qsite.logged_in("alice").get("/granskning/karantan", params={"visa": "bilagor"})
    assert page.status_code == 200
    text = page.text
    assert html.escape(f"{SPAM}.zip", quote=False) in text and "<script>" not in text
    assert hashlib.sha256(data).hexdigest() in text
    assert "2 kB" in text and "Bilaga 2 · zip-fil" in text
    assert "zip archive" not in text and "Filen är inte en PDF eller en bild" in text
    assert f"/granskning/karantan/{message.id}/meddelande.eml" in text


def test_the_raw_mail_downloads_as_an_uncached_attachment(qsite: Site, raw: ImageStore) -> None:
    message = add_inbound(qsite, raw)
    client = qsite.logged_in("alice")
    response = client.get(f"/granskning/karantan/{message.id}/meddelande.eml")
    assert response.status_code == 200
    assert response.content == raw.get(message.sha256)
    assert response.headers["content-type"].startswith("message/rfc822")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="meddelande-{message_reference(message.id or 0)}.eml"'
    )
    # Only what the page lists, and nothing for an id that is not a row.
    processed = add_inbound(qsite, raw, state=MessageState.PROCESSED)
    for path in (
        f"/granskning/karantan/{processed.id}/meddelande.eml",
        "/granskning/karantan/99999999/meddelande.eml",
        f"/granskning/karantan/{2**64}/meddelande.eml",
        "/granskning/karantan/..%2F..%2Fetc/meddelande.eml",
    ):
        assert client.get(path).status_code == 404, path


def test_an_admin_releases_a_message_and_the_log_says_who(qsite: Site, raw: ImageStore) -> None:
    message = add_inbound(qsite, raw)
    admin = qsite.logged_in("admin")
    page = admin.get("/granskning/karantan")
    assert f'action="/granskning/karantan/{message.id}/forsok-igen"' in page.text
    response = admin.post(
        f"/granskning/karantan/{message.id}/forsok-igen", data={"csrf": csrf_of(admin)}
    )
    assert response.status_code == 303
    with qsite.session() as session:
        row = session.get(InboundMessage, message.id)
        assert row is not None
        assert (row.state, row.attempts) == (MessageState.RECEIVED, 0)
        assert row.released_by == qsite.reviewer("admin").id and row.released_at is not None
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == RELEASE_ACTION)).all()
        assert event.actor == qsite.emails["admin"]
    after = admin.get(response.headers["location"])
    assert "är släppt" in after.text
    assert message_reference(message.id or 0) + "</td>" not in after.text  # no longer listed
    log = admin.get("/granskning/logg", params={"action": RELEASE_ACTION})
    assert qsite.emails["admin"] in log.text


def test_a_reviewer_or_a_forged_post_cannot_release(qsite: Site, raw: ImageStore) -> None:
    message = add_inbound(qsite, raw)
    path = f"/granskning/karantan/{message.id}/forsok-igen"
    reviewer = qsite.logged_in("alice")
    assert reviewer.post(path, data={"csrf": csrf_of(reviewer)}).status_code == 403
    admin = qsite.logged_in("admin")
    assert admin.post(path, data={"csrf": "forged"}).status_code == 403
    with qsite.session() as session:
        row = session.get(InboundMessage, message.id)
        assert row is not None and row.state is MessageState.QUARANTINED and row.attempts == 3
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == RELEASE_ACTION)).all() == []
        )


def test_release_refusals_are_swedish_4xx(qsite: Site, raw: ImageStore) -> None:
    header_only = add_inbound(qsite, raw, raw_stored=False)
    processed = add_inbound(qsite, raw, state=MessageState.PROCESSED)
    admin = qsite.logged_in("admin")
    token = csrf_of(admin)
    page = admin.get("/granskning/karantan")
    assert f"/granskning/karantan/{header_only.id}/forsok-igen" not in page.text
    assert "Kan inte försökas igen" in page.text
    cases = [
        (header_only.id, 409, "sparades aldrig"),
        (processed.id, 409, "ligger inte i karantän"),
        (99999999, 404, "finns inte"),
        (2**64, 404, "pekar inte"),
        ("abc", 404, "pekar inte"),
    ]
    for row_id, status, words in cases:
        response = admin.post(f"/granskning/karantan/{row_id}/forsok-igen", data={"csrf": token})
        assert response.status_code == status, (row_id, response.text[:300])
        assert words in response.text
        assert "Traceback" not in response.text


def test_the_page_pages_by_id(qsite: Site, raw: ImageStore) -> None:
    ids = {add_inbound(qsite, None, subject=f"Ämne {n}").id for n in range(53)}
    client = qsite.logged_in("alice")
    first = client.get("/granskning/karantan")
    seen = {int(m) for m in _references(first.text)}
    assert len(seen) == 50
    assert 'id="next-page"' in first.text
    next_url = html.unescape(first.text.split('id="next-page"')[0].rsplit('href="', 1)[1])
    second = client.get(next_url.split('"')[0])
    rest = {int(m) for m in _references(second.text)}
    assert len(rest) == 3 and not rest & seen and seen | rest == ids
    assert client.get("/granskning/karantan", params={"before": str(2**64)}).status_code == 400


def _references(text: str) -> list[str]:
    return re.findall(r'data-label="Ref.">M-(\d+)</td>', text)
