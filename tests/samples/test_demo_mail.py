"""samples.mail.demo_mail: the sample mail unchanged, then the chosen born-digital forms."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from intake.mail.message import parse_message
from samples.mail import (
    DEMO_DIGITAL,
    DIGITAL_DIR,
    DIGITAL_TRUST_DIR,
    build_demo_mail,
    demo_mail,
    demo_trust_roots,
    sample_mail,
)
from samples.scans import REFERENCE_DATE


def test_the_demo_mail_is_the_sample_mail_then_one_message_per_digital_file() -> None:
    mails = demo_mail()
    samples = sample_mail()
    assert mails[:len(samples)] == samples
    digital = mails[len(samples):]
    assert [m.scans for m in digital] == [(f,) for f, _note, _agent in DEMO_DIGITAL]
    assert len({m.name for m in mails}) == len(mails)
    for mail, (file, _note, _agent) in zip(digital, DEMO_DIGITAL, strict=True):
        parsed = parse_message(mail.raw, own_addresses=["kopplingar@example.se"])
        assert [(a.filename, a.data) for a in parsed.attachments] == [
            (file, (DIGITAL_DIR / file).read_bytes())]
        assert not parsed.skipped and parsed.header.auto_generated is None
        assert parsed.header.sender is not None and parsed.header.subject
        assert parsed.header.sent_at is not None
        assert parsed.header.sent_at.date() <= REFERENCE_DATE


def test_the_demo_mail_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in build_demo_mail(tmp_path / "a")]
    assert first == [m.raw for m in demo_mail()]


def test_the_corpora_are_read_as_of_one_day_and_the_trust_root_is_there(
    tmp_path: Path,
) -> None:
    truth = json.loads((DIGITAL_DIR / "truth.json").read_text(encoding="utf-8"))
    assert truth["reference_date"] == REFERENCE_DATE.isoformat()
    roots = demo_trust_roots(DIGITAL_TRUST_DIR)
    assert roots and all(r.startswith(b"-----BEGIN CERTIFICATE-----") for r in roots)
    moved = tmp_path / "digital"
    shutil.copytree(DIGITAL_DIR, moved)
    truth["reference_date"] = "2026-03-01"
    (moved / "truth.json").write_text(json.dumps(truth), encoding="utf-8")
    with pytest.raises(ValueError, match="dated 2026-03-01"):
        demo_mail(digital=moved)
