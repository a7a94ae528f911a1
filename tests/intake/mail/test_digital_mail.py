"""A digitally signed, typed PDF by mail: read from its fields, its signature named in the
receipt, approved, the linkage applied. On SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from forms import FormKind
from intake.mail import FolderMailbox
from registry import Company, Connection
from render.issue import blank_form
from review import approve, claim, create_reviewer
from samples import REGISTRY_JSON
from samples.digital.corpus import fill_fields, paste_signatures
from samples.digital.pki import TestCA, sign_pdf
from samples.scans.values import SampleRegistry, value_set
from tests.intake.mailenv import MAILBOX, make_env, message
from workqueue import ReviewerRole, SubmissionFinding, SubmissionStatus

KIND = FormKind.DUAL


def _personnummer(name: str) -> str | None:
    people = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))["people"]
    return next((p.get("personnummer") for p in people if p["name"] == name), None)


def test_a_signed_typed_pdf_by_mail_is_read_receipted_approved_and_applied(
        engine: Engine, tmp_path: Path) -> None:
    ca = TestCA.create()
    env = make_env(engine, tmp_path)
    env = dataclasses.replace(env, ctx=dataclasses.replace(env.ctx, trust_roots=(ca.pem(),)))
    values = value_set(SampleRegistry(), KIND, np.random.default_rng(31)) | {
        "client_date": "2026-01-12", "new_firm_date": "2026-01-14"}
    typed = fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf, values, KIND, appearances=False)
    on_paper = paste_signatures(typed, KIND, np.random.default_rng(4), parties=("new_firm",))
    signer = values["client_signatory_name"]
    pdf = sign_pdf(on_paper, ca.issue(signer, _personnummer(signer)), "Klienten")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.eml").write_bytes(message("Kund <kund@exempel.se>", "Blankett",
                                          [("blankett.pdf", pdf)]))
    box = FolderMailbox(inbox)
    box.open()
    try:
        summary = env.run_pass(box)
    finally:
        box.close()
    assert summary.submissions == 1
    [submission] = env.submissions()
    assert submission.status == SubmissionStatus.QUEUED and submission.kind == KIND.value
    with Session(engine) as session:
        findings = {f.code: f.severity for f in session.exec(select(SubmissionFinding).where(
            SubmissionFinding.submission_id == submission.id))}
    assert findings.get("esign.valid") == "info" and findings.get("pdf.digital") == "info"
    assert "blocking" not in findings.values(), findings
    [receipt] = [m for m in env.outbox() if m.template == "receipt"]
    assert "Digital signatur: giltig" in receipt.body
    assert signer not in receipt.body  # the certificate's name is the sender's text

    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        greta = create_reviewer(session, email="greta@backoffice.example", name="Greta",
                                role=ReviewerRole.REVIEWER, password="Granska noga 2026",
                                now=now)
        session.commit()
        assert submission.id is not None
        claim(session, submission.id, greta, now=now)
        approve(session, submission.id, greta, now=now, override_reason=None,
                form_url="https://kopplingar.example.se/", sender_domain="example.se")
        session.commit()
        client = session.exec(select(Company).where(
            Company.orgnr == values["client_orgnr"])).one()
        firm = session.exec(select(Company).where(
            Company.orgnr == values["new_firm_orgnr"])).one()
        assert session.exec(select(Connection).where(
            Connection.client_id == client.id, Connection.firm_id == firm.id,
            col(Connection.until).is_(None))).first() is not None
