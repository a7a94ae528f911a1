"""Sample mail to the kopplingar@ mailbox, made from the committed scan corpus.

`sample_mail()` gives the messages with what the intake should find in each
(`SampleMail`); `build_sample_mail(out_dir)` writes them as `NNN-<slug>.eml`.
Most carry one scan each, as customers send them from Outlook, Thunderbird,
an iPhone or an office scanner; the rest are the everyday awkward ones: two
scans in one mail, a forwarded mail with the scan inside, the scan as an
inline image, a mail that forgot its attachment, an out-of-office reply, the
same scan sent twice, and a scan zipped. Senders are the people named on the
forms. The same seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path

from samples.mail import mime
from samples.mail.payloads import zip_of
from samples.scans import CORPUS_DIR, load_truth
from samples.scans.truth import FileTruth

DEFAULT_SEED = 20260120
MAILBOX = "kopplingar@example.se"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
}
FIRST_DAY = dt.datetime(2026, 1, 19, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
# Indices into the corpus's files: which scans the plan below uses.
NEEDED_FILES = 13


@dataclass(frozen=True)
class SampleMail:
    """One sample message and what reading it should give."""

    name: str  # NNN-slug, the file name without .eml
    raw: bytes
    scans: tuple[str, ...]  # corpus file names of the candidate attachments, in order
    skipped: tuple[str, ...]  # detected types of the parts the sender should hear about
    auto_reply: bool  # must never be answered automatically
    duplicate_of: str | None = None  # the earlier sample with the same scan


@dataclass(frozen=True)
class _Person:
    name: str
    address: str

    @property
    def header(self) -> str:
        return mime.address(self.name, self.address)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower())


def _domain(company: str) -> str:
    words = [w for w in company.split() if w.lower() not in ("ab", "hb", "kb", "&", "och")]
    return f"{_slug(''.join(words)) or 'exempelbolaget'}.se"


def _person(name: str | None, company: str | None) -> _Person:
    if not name or not company:
        return _Person("Anna Berg", "anna.berg@exempelbolaget.se")
    first, _, last = name.partition(" ")
    local = ".".join(p for p in (_slug(first), _slug(last)) if p)
    return _Person(name, f"{local}@{_domain(company)}")


def _sender(entry: FileTruth) -> _Person:
    """Who mails this scan: the connecting firm for a dual form, the client for a disconnection."""
    fields = entry["documents"][0]["fields"]
    if entry["documents"][0]["kind"] == "dual" and fields.get("new_firm_signatory_name"):
        return _Person(fields["new_firm_signatory_name"], fields["new_firm_email"])
    return _person(fields.get("client_signatory_name"), fields.get("client_name"))


def _subject(entry: FileTruth) -> str:
    doc = entry["documents"][0]
    client = doc["fields"].get("client_name", "")
    if doc["kind"] == "dual":
        return f"Underskriven blankett dubbelsammankoppling – {client}".strip(" –")
    return f"Bortkoppling {client}, underskriven blankett".strip()


class _Writer:
    def __init__(self, corpus: Path, mailbox: str, seed: int) -> None:
        self.corpus = corpus
        self.mailbox = mailbox
        self.random = random.Random(seed)
        self.seed = seed
        self.when = FIRST_DAY
        self.count = 0

    def scan(self, entry: FileTruth) -> bytes:
        return (self.corpus / entry["file"]).read_bytes()

    def attachment(
        self, entry: FileTruth, name: str | None = None, *, disposition: str = "attachment"
    ) -> mime.Entity:
        fmt = entry["format"]
        return mime.file(
            self.scan(entry), CONTENT_TYPES[fmt], name or entry["file"], disposition=disposition
        )

    def boundary(self) -> str:
        return f"----=_Part_{self.seed % 10000}_{self.random.getrandbits(40):010x}"

    def headers(
        self, sender: _Person, subject: str, *, agent: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> list[tuple[str, str]]:
        self.count += 1
        self.when += dt.timedelta(minutes=self.random.randint(17, 290))
        domain = sender.address.rpartition("@")[2]
        return [
            ("Return-Path", f"<{sender.address}>"),
            ("Date", format_datetime(self.when)),
            ("From", sender.header),
            ("To", self.mailbox),
            ("Subject", subject),
            ("Message-ID", f"<{self.random.getrandbits(64):016x}.{self.count}@{domain}>"),
            ("User-Agent" if "Mozilla" in agent else "X-Mailer", agent),
            *extra,
        ]

    def greeting(self, sender: _Person, text: str) -> mime.Entity:
        return mime.text(f"Hej!\n\n{text}\n\nMed vänliga hälsningar\n{sender.name}\n")


def _plan(writer: _Writer, files: list[FileTruth]) -> list[SampleMail]:
    w = writer
    mails: list[SampleMail] = []

    def add(
        slug: str,
        raw: bytes,
        scans: tuple[str, ...] = (),
        skipped: tuple[str, ...] = (),
        auto_reply: bool = False,
        duplicate_of: str | None = None,
    ) -> str:
        name = f"{len(mails) + 1:03d}-{slug}"
        mails.append(SampleMail(name, raw, scans, skipped, auto_reply, duplicate_of))
        return name

    thunderbird = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Thunderbird/128.6.0"
    outlook = "Microsoft Outlook 16.0"
    iphone = "iPhone Mail (22C152)"

    # One scan, Thunderbird: text and the PDF.
    f = files[0]
    sender = _sender(f)
    body = w.greeting(sender, "Bifogar den underskrivna blanketten.")
    first = add(
        "en-pdf",
        mime.message(
            w.headers(sender, _subject(f), agent=thunderbird),
            mime.multipart("mixed", w.boundary(), [body, w.attachment(f)]),
        ),
        (f["file"],),
    )

    # One scan, Outlook: text and HTML alternatives, then the image.
    f = files[1]
    sender = _sender(f)
    alternative = mime.multipart(
        "alternative",
        w.boundary(),
        [
            w.greeting(sender, "Här kommer blanketten, påskriven av båda parter."),
            mime.text(
                "<html><body><p>Hej!</p><p>Här kommer blanketten, påskriven av båda "
                "parter.</p></body></html>",
                subtype="html",
            ),
        ],
    )
    add(
        "outlook-bild",
        mime.message(
            w.headers(sender, _subject(f), agent=outlook),
            mime.multipart("mixed", w.boundary(), [alternative, w.attachment(f, "Skanning.jpg")]),
        ),
        (f["file"],),
    )

    # An office scanner mailing its scan (several pages in one TIFF).
    f = files[2]
    company = f["documents"][0]["fields"].get("client_name", "Exempelbolaget AB")
    scanner = _Person("Skrivare 2 vån", f"skanner@{_domain(company)}")
    add(
        "kontorsskanner",
        mime.message(
            w.headers(scanner, "Skannat dokument från MFP", agent="RICOH Network Scanner"),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    mime.text("Skannat från: RICOH IM C3000\nSidor: 3\n"),
                    w.attachment(f, "20260119_101233.tif"),
                ],
            ),
        ),
        (f["file"],),
    )

    # An iPhone: a phone photo of the form, inline.
    f = files[3]
    sender = _sender(f)
    add(
        "iphone-foto",
        mime.message(
            w.headers(sender, "Blankett", agent=iphone),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    mime.text("\n\nSkickat från min iPhone"),
                    w.attachment(f, "IMG_4711.jpeg", disposition="inline"),
                ],
            ),
        ),
        (f["file"],),
    )

    # A PNG from a screenshot tool.
    f = files[4]
    sender = _sender(f)
    add(
        "png",
        mime.message(
            w.headers(sender, _subject(f), agent=outlook),
            mime.multipart(
                "mixed", w.boundary(), [w.greeting(sender, "Blanketten bifogas."), w.attachment(f)]
            ),
        ),
        (f["file"],),
    )

    # Two scans in one mail.
    f, g = files[5], files[7]
    sender = _sender(f)
    add(
        "tva-blanketter",
        mime.message(
            w.headers(
                sender, "Två blanketter: dubbelsammankoppling och bortkoppling", agent=thunderbird
            ),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    w.greeting(sender, "Här kommer två blanketter, en för varje ärende."),
                    w.attachment(f),
                    w.attachment(g),
                ],
            ),
        ),
        (f["file"], g["file"]),
    )

    # A forward: the client mailed the firm, the firm forwards the whole mail.
    f = files[8]
    client = _person(
        f["documents"][0]["fields"].get("client_signatory_name"),
        f["documents"][0]["fields"].get("client_name"),
    )
    firm = _sender(f)
    if firm == client:
        firm = _Person("Anna Berg", "anna.berg@exempelbolaget.se")
    sent = w.when + dt.timedelta(minutes=5)
    original = mime.message(
        [
            ("Date", format_datetime(sent)),
            ("From", client.header),
            ("To", firm.header),
            ("Subject", _subject(f)),
            ("Message-ID", f"<{w.random.getrandbits(64):016x}@{client.address.split('@')[1]}>"),
        ],
        mime.multipart(
            "mixed",
            w.boundary(),
            [w.greeting(client, "Här är blanketten underskriven."), w.attachment(f)],
        ),
    )
    add(
        "vidarebefordrat",
        mime.message(
            w.headers(firm, f"VB: {_subject(f)}", agent=outlook),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    w.greeting(firm, "Vidarebefordrar blanketten från vår kund."),
                    mime.attached_message(original),
                ],
            ),
        ),
        (f["file"],),
    )

    # The scan as an inline image in HTML (multipart/related), no file name.
    f = files[9]
    sender = _sender(f)
    cid = f"image001.jpg@01DC8A2B.{w.random.getrandbits(32):08X}"
    image = mime.file(
        w.scan(f),
        CONTENT_TYPES[f["format"]],
        None,
        disposition="inline",
        extra=(("Content-ID", f"<{cid}>"),),
    )
    related = mime.multipart(
        "related",
        w.boundary(),
        [
            mime.text(
                f'<html><body><p>Hej! Se bilden nedan.</p><img src="cid:{cid}"></body></html>',
                subtype="html",
            ),
            image,
        ],
        params='; type="text/html"',
    )
    add(
        "inbaddad-bild",
        mime.message(
            w.headers(sender, _subject(f), agent=outlook),
            mime.multipart(
                "alternative", w.boundary(), [w.greeting(sender, "Se bilden nedan."), related]
            ),
        ),
        (f["file"],),
    )

    # Forgot the attachment.
    sender = _person("Karin Lindqvist", "Lindqvists Bygg AB")
    add(
        "glomd-bilaga",
        mime.message(
            w.headers(sender, "Blankett bortkoppling", agent=iphone),
            w.greeting(sender, "Här kommer blanketten."),
        ),
    )

    # An out-of-office reply to one of our mails.
    sender = _person("Erik Nyström", "Nyströms Revision AB")
    add(
        "autosvar",
        mime.message(
            w.headers(
                sender,
                "Automatiskt svar: Er blankett har tagits emot",
                agent=outlook,
                extra=(
                    ("Auto-Submitted", "auto-replied"),
                    ("X-Auto-Response-Suppress", "All"),
                    ("In-Reply-To", "<20260119.1@example.se>"),
                ),
            ),
            mime.text(
                "Jag är på semester till och med 2 februari och läser inte min e-post.\n"
                "Vid brådskande ärenden, ring växeln 08-123 45 60.\n"
            ),
        ),
        auto_reply=True,
    )

    # The first scan again, a day later.
    f = files[0]
    sender = _sender(f)
    add(
        "samma-igen",
        mime.message(
            w.headers(sender, f"SV: {_subject(f)}", agent=thunderbird),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    w.greeting(sender, "Skickar igen, osäker på om det förra kom fram."),
                    w.attachment(f),
                ],
            ),
        ),
        (f["file"],),
        duplicate_of=first,
    )

    # A zipped scan: the archive is not opened.
    f = files[11]
    sender = _sender(f)
    archive = zip_of(f["file"], w.scan(f))
    add(
        "zip",
        mime.message(
            w.headers(sender, _subject(f), agent=outlook),
            mime.multipart(
                "mixed",
                w.boundary(),
                [
                    w.greeting(sender, "Blanketten i en zip-fil."),
                    mime.file(archive, "application/x-zip-compressed", "blankett.zip"),
                ],
            ),
        ),
        skipped=("zip",),
    )

    # Two more ordinary ones: a JPEG, and a PDF with several forms.
    for f, slug in ((files[12], "en-bild"), (files[6], "flera-sidor")):
        sender = _sender(f)
        add(
            slug,
            mime.message(
                w.headers(sender, _subject(f), agent=thunderbird),
                mime.multipart(
                    "mixed",
                    w.boundary(),
                    [w.greeting(sender, "Bifogar blanketten."), w.attachment(f)],
                ),
            ),
            (f["file"],),
        )
    return mails


def sample_mail(
    *, corpus: Path = CORPUS_DIR, mailbox: str = MAILBOX, seed: int = DEFAULT_SEED
) -> list[SampleMail]:
    """The sample messages with what the intake should find in each."""
    files = load_truth(corpus)["files"]
    if len(files) < NEEDED_FILES:
        raise ValueError(f"{corpus} has {len(files)} scans; the sample mail needs {NEEDED_FILES}")
    return _plan(_Writer(corpus, mailbox, seed), files)


def sample_mail_messages(
    *, corpus: Path = CORPUS_DIR, mailbox: str = MAILBOX, seed: int = DEFAULT_SEED
) -> list[tuple[str, bytes]]:
    """(name, raw bytes) of each sample message, in order."""
    return [(m.name, m.raw) for m in sample_mail(corpus=corpus, mailbox=mailbox, seed=seed)]


def build_sample_mail(
    out_dir: Path, *, corpus: Path = CORPUS_DIR, mailbox: str = MAILBOX, seed: int = DEFAULT_SEED
) -> list[Path]:
    """Write each sample message to out_dir as NNN-<slug>.eml; return the paths in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, raw in sample_mail_messages(corpus=corpus, mailbox=mailbox, seed=seed):
        path = out_dir / f"{name}.eml"
        path.write_bytes(raw)
        paths.append(path)
    return paths
