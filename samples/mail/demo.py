"""The demo's mail: the sample mail, and born-digital PDFs that make the queue a real Monday's.

The sample mail (`samples.mail.build`) is made from the scan corpus, which was
made to show damage: most of its submissions carry a finding. A reviewer
trying the demo should instead see what a real day brings: mostly clean
forms, and a few of each problem. `demo_mail()` is the sample mail followed
by one message per chosen file of the born-digital corpus
(`samples/digital/corpus`, committed, so nothing is simulated at demo time):
forms typed into the fillable PDF, flattened, the issued PDF dated and signed
with "Fill & Sign", and e-signed ones, which come in clean, plus two that need
a person: an e-signature whose certificate is revoked, and the same issued
form sent again, printed to PDF (a duplicate). With the scan corpus's
missing signatures, numbers changed by hand, unreadable fields and unknown
form id, that is a few of each problem among mostly clean forms.

The e-signatures chain to the corpus's own root (`DIGITAL_TRUST_DIR`), which
the demo trusts. The born-digital corpus is dated as the scan corpus is
(`samples.scans.REFERENCE_DATE`, its truth.json's `reference_date`), so one
mailbox pass as of that day reads both without date false alarms;
`demo_mail` refuses a corpus dated otherwise. Same seed, same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from samples.mail import mime
from samples.mail.build import DEFAULT_SEED, FIRST_DAY, MAILBOX, SampleMail, _person, sample_mail
from samples.scans import CORPUS_DIR, REFERENCE_DATE

DIGITAL_DIR = Path(__file__).parent.parent / "digital" / "corpus"
DIGITAL_TRUST_DIR = DIGITAL_DIR / "trust"  # the root the corpus's e-signatures chain to

THUNDERBIRD = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Thunderbird/128.6.0"
OUTLOOK = "Microsoft Outlook 16.0"
IPHONE = "iPhone Mail (22C152)"
# (file of the born-digital corpus, the sender's note, mail client), in mail order: nine
# clean forms, two e-signed, and two that need a person (a revoked certificate; the same
# form again, printed to PDF). The scan corpus's mail already brings missing signatures,
# numbers changed by hand, unreadable fields and an unknown form id.
DEMO_DIGITAL: tuple[tuple[str, str, str], ...] = (
    ("dual-typed-appearances.pdf", "Bifogar blanketten, ifylld i datorn och underskriven.",
     THUNDERBIRD),
    ("disconnect-issued-signed.pdf", "Här kommer blanketten ni skickade, daterad och "
     "underskriven.", OUTLOOK),
    ("dual-esigned-valid.pdf", "Klienten har signerat blanketten med e-legitimation.", OUTLOOK),
    ("dual-issued-signed.pdf", "Underskriven blankett bifogas.", OUTLOOK),
    ("disconnect-typed-values-only.pdf", "Blanketten bifogas.", IPHONE),
    ("dual-esigned-revoked.pdf", "Klienten har signerat digitalt, blanketten bifogas.",
     THUNDERBIRD),
    ("dual-typed-flattened.pdf", "Bifogar blanketten som PDF.", OUTLOOK),
    ("disconnect-typed-appearances.pdf", "Här kommer vår blankett för bortkoppling.",
     THUNDERBIRD),
    ("dual-printed-to-pdf.pdf", "Skickar blanketten igen, osäker på om den kom fram.",
     OUTLOOK),
    ("dual-esigned-both.pdf", "Blanketten är signerad med e-legitimation av båda parter.",
     OUTLOOK),
    ("dual-typed-values-only.pdf", "Ifylld och underskriven blankett bifogas.", IPHONE),
)


def digital_truth(corpus: Path = DIGITAL_DIR) -> dict[str, Any]:
    """The born-digital corpus's truth.json."""
    truth: dict[str, Any] = json.loads((corpus / "truth.json").read_text(encoding="utf-8"))
    return truth


def demo_trust_roots(folder: Path = DIGITAL_TRUST_DIR) -> tuple[bytes, ...]:
    """The PEM certificates in `folder`: what the demo trusts e-signatures to chain to."""
    return tuple(p.read_bytes() for p in sorted(folder.glob("*.pem")))


def _sender(fields: dict[str, str], kind: str) -> tuple[str, str]:
    """Who mails the form: the connecting firm for a dual form, else the client."""
    if kind == "dual" and fields.get("new_firm_signatory_name") and fields.get("new_firm_email"):
        return fields["new_firm_signatory_name"], fields["new_firm_email"]
    person = _person(fields.get("client_signatory_name"), fields.get("client_name"))
    return person.name, person.address


def _subject(fields: dict[str, str], kind: str) -> str:
    client = fields.get("client_name", "")
    if kind == "dual":
        return f"Blankett dubbelsammankoppling – {client}".strip(" –")
    return f"Bortkoppling {client}".strip()


def _digital_mail(corpus: Path, mailbox: str, seed: int, first: int) -> list[SampleMail]:
    files = {f["file"]: f for f in digital_truth(corpus)["files"]}
    rng = random.Random(seed)
    when = FIRST_DAY + dt.timedelta(minutes=25)
    out: list[SampleMail] = []
    for number, (file, note, agent) in enumerate(DEMO_DIGITAL, start=first):
        doc = files[file]["documents"][-1]  # the typed page of a mixed file
        name, address = _sender(doc["fields"], doc["kind"])
        when += dt.timedelta(minutes=rng.randint(11, 150))
        domain = address.rpartition("@")[2]
        boundary = f"----=_Part_{seed % 10000}_{rng.getrandbits(40):010x}"
        body = mime.text(f"Hej!\n\n{note}\n\nMed vänliga hälsningar\n{name}\n")
        raw = mime.message(
            [
                ("Return-Path", f"<{address}>"),
                ("Date", format_datetime(when)),
                ("From", mime.address(name, address)),
                ("To", mailbox),
                ("Subject", _subject(doc["fields"], doc["kind"])),
                ("Message-ID", f"<{rng.getrandbits(64):016x}.d{number}@{domain}>"),
                ("User-Agent" if "Mozilla" in agent else "X-Mailer", agent),
            ],
            mime.multipart("mixed", boundary, [
                body, mime.file((corpus / file).read_bytes(), "application/pdf", file)]),
        )
        out.append(SampleMail(f"{number:03d}-{file.removesuffix('.pdf')}", raw, (file,), (),
                              False))
    return out


def demo_mail(
    *,
    corpus: Path = CORPUS_DIR,
    digital: Path = DIGITAL_DIR,
    mailbox: str = MAILBOX,
    seed: int = DEFAULT_SEED,
) -> list[SampleMail]:
    """The sample mail, then the chosen born-digital forms, one message each."""
    dated = dt.date.fromisoformat(digital_truth(digital)["reference_date"])
    if dated != REFERENCE_DATE:
        raise ValueError(f"{digital} is dated {dated}, the scan corpus {REFERENCE_DATE}: "
                         "one mailbox pass cannot read both without date findings")
    scans = sample_mail(corpus=corpus, mailbox=mailbox, seed=seed)
    return scans + _digital_mail(digital, mailbox, seed + 1, len(scans) + 1)


def build_demo_mail(out_dir: Path, *, mailbox: str = MAILBOX, seed: int = DEFAULT_SEED
                    ) -> list[Path]:
    """Write each demo message to out_dir as NNN-<slug>.eml; return the paths in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for mail in demo_mail(mailbox=mailbox, seed=seed):
        path = out_dir / f"{mail.name}.eml"
        path.write_bytes(mail.raw)
        paths.append(path)
    return paths
