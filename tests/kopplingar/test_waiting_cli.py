"""`kopplingar intake poll` reminds the cases waiting for the customer, once, after its pass."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from review import claim, request_info
from tests.kopplingar.child import kopplingar
from tests.kopplingar.test_mail_cli import _env
from tests.review.queue_cases import DOMAIN, FORM_URL, add_reviewer, dual_case, mails, submit
from workqueue import ImageStore, Submission, SubmissionStatus

pytestmark = pytest.mark.slow


def test_poll_reminds_a_case_that_waited_and_only_once(engine: Engine, tmp_path: Path) -> None:
    asked = dt.datetime.now(dt.UTC) - dt.timedelta(days=3, hours=1)
    with Session(engine, expire_on_commit=False) as session:
        alice = add_reviewer(session, "Alice")
        sid = submit(session, ImageStore(tmp_path / "images"), "dual", dual_case().values())
        claim(session, sid, alice, now=asked)
        request_info(session, sid, alice, reason_code="page_unreadable", party=None, note=None,
                     now=asked, sender_domain=DOMAIN, form_url=FORM_URL, days=3)
        session.commit()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = _env(engine, tmp_path, info_reminder_days="3")
    for run in range(2):
        done = kopplingar("intake", "poll", "--folder", str(inbox), env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert ("1 reminded, 0 closed" in done.stderr) == (run == 0), done.stderr
    with Session(engine) as session:
        assert [m.template for m in mails(session, sid)] == ["info_request", "info_reminder"]
        case = session.get(Submission, sid)
        assert case is not None and case.status is SubmissionStatus.AWAITING_CUSTOMER
        assert case.info_reminders == 1
