"""The reading against the registry's own values: e-mail addresses and ranked candidates.

What this module owns:

* **The firm's e-mail address against its registered ones.** Tesseract reads
  a printed address exactly only about half the time (the Swedish model has
  no "@" and reads it as "e", "Q", "e6"...), and its confidence says little.
  Once the firm's organisationsnummer names a company in the registry, what
  was read is compared with the addresses of everyone holding a role there
  (`naming.ocr_distance`: confusable characters cheap, the registered "@"
  standing for one or two of the glyphs the model makes of it, every other
  letter paid for, so the "@" never swallows the last letter of the local
  part or the first of the domain). The local part's edits and the
  domain's are counted apart (`naming.ocr_distance_parts`): a registered
  address is near when its local part is within `MATCH_BOUND` edits and
  its domain within `DOMAIN_SHARE` of its length (a long domain read by
  hand loses a letter or three without being another domain). It becomes
  the value only when it is near and every other registered address is at
  least `MATCH_MARGIN` edits further in all; the reading
  keeps what was read (`raw`) and a finding says so. Otherwise the value
  stays as read, with a confidence below the point where a person looks,
  and a warning: the confirmation mail goes to that address.
* **Ranked candidates** (`FieldReading.candidates`, at most `MAX_CANDIDATES`):
  for a signatory's name, the people who may sign for that company, by
  `naming.name_score`; for a company's name on a form that did not print it,
  where the number is unreadable, unknown or names another company, the
  registry's companies of the kind the form asks for; for an address not
  taken, the nearest registered ones. Candidates are offered to the
  reviewer and never become the value here: a name is matched only up to an
  OCR slip (`validate`), as before.

* **A printed name against the one we issued.** A text field the form was
  issued with (a company's name, a pre-printed signatory) whose print is
  read as that text up to an OCR slip (`naming.ocr_slip`: case, spacing, at
  most two confusable characters such as å/a or l/1) and without ink the
  issued print lacks (`validate.INK_CHANGED`) is the issued text: it
  becomes the value, the reading keeps what was read (`raw`) and an INFO
  finding (`value.print_slip`) says so. Anything more than a slip, or a slip
  with ink beside it, stays as read: `validate` reports it as a change
  (`value.changed`).
* **An e-mail address whose firm is not known** (the form's number names no
  firm: misread, or nobody's) cannot be compared with that firm's people. It
  stays as read, at most `UNREGISTERED_CONFIDENCE`, with a warning
  (`email.unchecked`); registered addresses at any firm on the same domain
  that it is near are its candidates.
* **A signatory's name with characters no name has** (digits, "|", "!":
  `naming.stray_characters`) is never sure: its confidence is capped at
  `STRAY_NAME_CONFIDENCE`, below `validate.LOW_CONFIDENCE`, and `validate`
  names it (`signatory.name_characters`).

`resolve` runs before `validate.validate_document`, in the same read-only
session, and returns the readings with their candidates and what it found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from sqlmodel import Session, col, select

from forms import FieldType, FormKind, InvalidValue, form_spec, parse_organisationsnummer
from intake.scan.fieldtext import AT_FALLBACKS, AT_LOOKALIKES
from intake.scan.model import Candidate, FieldReading, Finding, Severity
from intake.scan.naming import (
    field_label,
    name_score,
    ocr_distance_parts,
    ocr_slip,
    stray_characters,
)
from intake.scan.validate import (
    CLIENT_SIGNERS,
    FIRM_SIGNERS,
    INK_CHANGED,
    ROLE_NAMES,
    company_by_orgnr,
    people_with_roles,
)
from registry import Company, CompanyKind, ConnectionRole, Person, Role, RoleKind

__all__ = ["MATCH_BOUND", "MATCH_MARGIN", "EmailMatch", "match_email", "resolve"]

MAX_CANDIDATES = 3
# Every code `resolve` can raise (a test reads them off the findings below).
RESOLVE_CODES = frozenset({
    "email.ambiguous",
    "email.not_sysadmin",
    "email.registered",
    "email.unchecked",
    "email.unregistered",
    "value.print_slip",
})
# What the Swedish model reads an "@" as, one glyph or two: fieldtext's look-alikes and,
# measured on the simulator's corpus, "ä", "&" and "6" beside an "e" or a "Q" ("e6", "Q&").
AT_GLYPHS = AT_LOOKALIKES + AT_FALLBACKS + "äå&6"
# Edits (naming.ocr_distance_parts) in the local part within which a registered address may
# be taken for what was read.
# Measured on the 50 addresses of a 100-form simulated corpus (seed 11): the 45 read at all
# were 0-1.0 edits from the right address (the "@" read as "e", "Q", "e6"; "Jj" for "J";
# S for 5), every other address of the same firm at least 3.25 ("anna.jonsson@" against
# "johanna.jonsson@") and mostly 7-13; garbled readings 13 and more. Two edits (two
# letters lost or changed in a 40-character address) is twice the worst slip seen.
MATCH_BOUND = 2.0
# The domain (from the "@" on) may be this share of its length away as well, or MATCH_BOUND
# if more. Measured on the handwritten addresses of the committed and a seed-7 corpus: the
# right address was 0-1 edits away in the local part and up to 7.5 in a 29-36 character
# domain (letters run together by the hand), the next address of the firm 10 or more in all.
DOMAIN_SHARE = 0.25
# ... and only when every other registered address is this much further: an address a
# letter away from another ("anna.lund@", "anna.lunde@") is never chosen between.
MATCH_MARGIN = 1.5
# The confidence of an address taken from the registry: on the corpus every address taken
# was right (and each taken from something read differently carries a finding).
MATCHED_CONFIDENCE = 0.95
# An address that is none of the firm's: on the corpus, such a reading was always a
# misreading; below validate.LOW_CONFIDENCE, so it goes to a person's eye with its warning.
UNREGISTERED_CONFIDENCE = 0.5
# A signatory's name read with a digit or a stray symbol in it: not a name as written,
# whatever the reader's confidence; below validate.LOW_CONFIDENCE.
STRAY_NAME_CONFIDENCE = 0.5
UNRESOLVED_SCAN_LIMIT = 500  # registered addresses on one domain looked at for an unknown firm
COMPANY_FLOOR = 0.5  # a company name less alike than this is no candidate at all

FIRM_KINDS = (CompanyKind.ACCOUNTING_FIRM, CompanyKind.AUDIT_FIRM)


@dataclass(frozen=True)
class Registered:
    """One registered address of the firm, and who holds it."""

    address: str
    name: str
    roles: frozenset[RoleKind]

    @property
    def sysadmin(self) -> bool:
        return RoleKind.SYSADMIN in self.roles

    def note(self) -> str:
        held = ", ".join(ROLE_NAMES[r] for r in RoleKind if r in self.roles)
        return f"{self.name}, {held}"


@dataclass(frozen=True)
class EmailMatch:
    """What was read against the registered addresses: the ranking and the verdict."""

    ranked: tuple[tuple[float, Registered], ...]  # (edits, address), nearest first
    near: frozenset[str]  # the addresses within the bounds, local part and domain
    taken: Registered | None  # the registered address to use, if one is clearly it

    @property
    def close(self) -> list[tuple[float, Registered]]:
        """Every address within the bounds, nearest first (more than one, and none taken:
        ambiguous)."""
        return [(d, r) for d, r in self.ranked if r.address in self.near]


def _near(local: float, domain: float, address: str) -> bool:
    at = address.find("@")
    rest = len(address) - at if at >= 0 else 0
    return local <= MATCH_BOUND and domain <= max(MATCH_BOUND, DOMAIN_SHARE * rest)


def match_email(read: Iterable[str], registered: Iterable[Registered]) -> EmailMatch:
    """The registered address `read` is, if it is clearly one; `read` are the texts of one
    reading (the raw OCR text and the value with its "@" put back), the nearest counts."""
    texts = ["".join(t.split()) for t in read if t.strip()]
    stand_ins = {"@": AT_GLYPHS}
    ranked: list[tuple[float, Registered]] = []
    near: set[str] = set()
    for r in registered if texts else ():
        parts = min((ocr_distance_parts(t, r.address, stand_ins=stand_ins) for t in texts),
                    key=sum)
        ranked.append((sum(parts), r))
        if _near(*parts, r.address):
            near.add(r.address)
    # Equally near: the system administrators first, since the field asks for one.
    ranked.sort(key=lambda t: (t[0], not t[1].sysadmin, t[1].address))
    taken = None
    if ranked and ranked[0][1].address in near and (
            len(ranked) == 1 or ranked[1][0] - ranked[0][0] >= MATCH_MARGIN):
        taken = ranked[0][1]
    return EmailMatch(tuple(ranked), frozenset(near), taken)


def _similarity(edits: float, address: str) -> float:
    return max(0.0, 1.0 - edits / max(len(address), 1))


def _orgnr(fields: Mapping[str, FieldReading], prefix: str) -> str | None:
    reading = fields.get(f"{prefix}_orgnr")
    if reading is None or not reading.value.strip():
        return None
    try:
        return parse_organisationsnummer(reading.value, field=reading.name).text
    except InvalidValue:
        return None


def _registered(session: Session, company: Company) -> list[Registered]:
    return [Registered(p.email, p.name, held)
            for p, held in people_with_roles(session, company, tuple(RoleKind))]


def _email(session: Session, kind: FormKind, reading: FieldReading, company: Company,
           findings: list[Finding]) -> FieldReading:
    read = reading.value.strip()
    if not read and not reading.raw.strip():
        return reading
    registered = _registered(session, company)
    if not registered:
        return reading
    match = match_email((reading.raw, reading.value), registered)
    label = field_label(kind, reading.name)
    if match.taken is not None:
        taken = match.taken
        if taken.address != read:
            findings.append(Finding(
                "email.registered", Severity.INFO,
                f"”{label}”: lästes ”{read or reading.raw}”, registrerad adress "
                f"”{taken.address}” används ({taken.note()} på {company.name}).",
                reading.name))
        if not taken.sysadmin:
            findings.append(Finding(
                "email.not_sysadmin", Severity.WARNING,
                f"”{label}”: {taken.address} tillhör {taken.note()} på {company.name}, inte "
                "en systemadministratör. Bekräftelsen skickas till den adressen.",
                reading.name))
        return replace(reading, value=taken.address,
                       confidence=max(reading.confidence, MATCHED_CONFIDENCE))
    candidates = tuple(Candidate(r.address, round(_similarity(d, r.address), 3), r.note())
                       for d, r in match.ranked[:MAX_CANDIDATES])
    close = match.close
    if len(close) > 1:
        findings.append(Finding(
            "email.ambiguous", Severity.WARNING,
            f"”{label}”: ”{read or reading.raw}” liknar flera av {company.name}s registrerade "
            f"adresser ({', '.join(r.address for _, r in close[:MAX_CANDIDATES])}), så ingen "
            "väljs. Kontrollera adressen mot bilden.", reading.name))
    else:
        findings.append(Finding(
            "email.unregistered", Severity.WARNING,
            f"”{label}”: ”{read or reading.raw}” är ingen av {company.name}s registrerade "
            "adresser. Bekräftelsen skickas till adressen: kontrollera den mot bilden.",
            reading.name))
    return replace(reading, candidates=candidates,
                   confidence=min(reading.confidence, UNREGISTERED_CONFIDENCE))


def _addresses_at_firms(session: Session, domain: str) -> list[tuple[Registered, str]]:
    """The registered addresses at any firm on `domain`, with the firm's name.

    Only the read domain: a firm's addresses share it, and the query stays an
    index-friendly suffix match however large the registry grows.
    """
    rows = session.exec(
        select(Person, Role, Company)
        .join(Role, col(Role.person_id) == col(Person.id))
        .join(Company, col(Company.id) == col(Role.company_id))
        .where(col(Company.kind).in_(FIRM_KINDS),
               col(Person.email).endswith(f"@{domain}", autoescape=True))
        .order_by(col(Person.id))
        .limit(UNRESOLVED_SCAN_LIMIT)
    ).all()
    held: dict[tuple[int, int], tuple[Person, Company, set[RoleKind]]] = {}
    for person, role, company in rows:
        assert person.id is not None and company.id is not None
        held.setdefault((person.id, company.id), (person, company, set()))[2].add(
            RoleKind(role.role))
    return [(Registered(p.email, p.name, frozenset(kinds)), c.name)
            for p, c, kinds in held.values()]


def _unchecked_email(session: Session, kind: FormKind, reading: FieldReading, party: str,
                     findings: list[Finding]) -> FieldReading:
    """An address whose firm the form's number does not name: never sure, with a warning,
    and the registered addresses it is near (at any firm) as candidates for the reviewer."""
    read = reading.value.strip()
    if not read and not reading.raw.strip():
        return reading
    domain = "".join(read.split()).rpartition("@")[2].lower()
    found = _addresses_at_firms(session, domain) if domain else []
    firm_of = {r.address: firm for r, firm in found}
    match = match_email((reading.raw, reading.value), [r for r, _ in found])
    candidates = tuple(
        Candidate(r.address, round(_similarity(d, r.address), 3),
                  f"{r.note()} på {firm_of[r.address]}")
        for d, r in match.close[:MAX_CANDIDATES])
    number = field_label(kind, f"{party}_orgnr")
    findings.append(Finding(
        "email.unchecked", Severity.WARNING,
        f"”{field_label(kind, reading.name)}”: ”{read or reading.raw}” kan inte kontrolleras "
        f"mot byråns registrerade adresser, eftersom ”{number}” inte pekar ut någon byrå i "
        "registret. Bekräftelsen skickas till adressen: kontrollera den mot bilden.",
        reading.name))
    return replace(reading, candidates=candidates,
                   confidence=min(reading.confidence, UNREGISTERED_CONFIDENCE))


def _signatory(session: Session, reading: FieldReading, company: Company,
               signers: tuple[RoleKind, ...]) -> FieldReading:
    written = reading.value.strip()
    if not written:
        return reading
    people = people_with_roles(session, company, signers)
    scored = sorted(((name_score(written, p.name), p.name, held) for p, held in people),
                    key=lambda t: (-t[0], t[1]))
    return replace(reading, candidates=tuple(
        Candidate(name, round(score, 3), ", ".join(ROLE_NAMES[r] for r in signers if r in held))
        for score, name, held in scored[:MAX_CANDIDATES]))


def _company_kinds(fields: Mapping[str, FieldReading], prefix: str) -> tuple[CompanyKind, ...]:
    if prefix == "client":
        return (CompanyKind.CLIENT,)
    role = fields.get(f"{prefix}_role")
    try:
        return (ConnectionRole(role.value.strip()).firm_kind,) if role is not None else FIRM_KINDS
    except ValueError:
        return FIRM_KINDS


def _company_name(session: Session, reading: FieldReading, kinds: tuple[CompanyKind, ...]
                  ) -> FieldReading:
    written = reading.value.strip()
    if not written:
        return reading
    rows = session.exec(select(Company.name, Company.orgnr)
                        .where(col(Company.kind).in_(kinds))).all()
    matcher = SequenceMatcher()
    matcher.set_seq2(written.casefold())
    scored: list[tuple[float, str, str]] = []
    for name, orgnr in rows:
        matcher.set_seq1(name.casefold())
        # The bound first: most of a large registry is far from the name and costs little.
        if matcher.real_quick_ratio() < COMPANY_FLOOR or matcher.quick_ratio() < COMPANY_FLOOR:
            continue
        score = name_score(written, name)
        if score >= COMPANY_FLOOR:
            scored.append((score, name, orgnr))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    return replace(reading, candidates=tuple(
        Candidate(name, round(score, 3), orgnr) for score, name, orgnr in scored[:MAX_CANDIDATES]))


def _issued_text(kind: FormKind, reading: FieldReading, was: str,
                 findings: list[Finding]) -> FieldReading:
    """The issued text for a print read as it up to an OCR slip, with nothing written on
    it; otherwise the reading as it is (a change, for `validate` to report)."""
    read = reading.value.strip()
    if (not was or not read or read == was or not ocr_slip(read, was)
            or reading.ink_outside_print >= INK_CHANGED):
        return reading
    findings.append(Finding(
        "value.print_slip", Severity.INFO,
        f"”{field_label(kind, reading.name)}”: trycket lästes ”{read}”, vilket är det "
        f"utfärdade ”{was}” med ett läsfel (å, ä, ö, versaler, l/1 eller liknande). Trycket "
        "är oförändrat, så det utfärdade värdet används.", reading.name))
    return replace(reading, value=was, raw=reading.raw or read)


def _unsure_name(name: str, party: bool, reading: FieldReading, company: Company | None,
                 issued_values: Mapping[str, str]) -> bool:
    """A party's company name the form did not print, whose number names nobody or
    another company: the one whose candidates are ranked."""
    if not party or not name.endswith("_name") or (issued_values.get(name) or "").strip():
        return False
    return company is None or not ocr_slip(reading.value.strip(), company.name)


def resolve(session: Session, kind: FormKind, fields: Mapping[str, FieldReading],
            issued_values: Mapping[str, str]) -> tuple[dict[str, FieldReading], list[Finding]]:
    """The readings with registered addresses taken and candidates added, and the findings.

    `issued_values` are the values the form was issued with (empty for a blank
    form): a name printed on the form is compared with what was issued, not ranked.
    The session is only read.
    """
    out = dict(fields)
    findings: list[Finding] = []
    spec = form_spec(kind)
    prefixes = {f.name.removesuffix("_orgnr") for f in spec.fields if f.type is FieldType.ORGNR}
    companies: dict[str, Company | None] = {}
    for prefix in prefixes:
        orgnr = _orgnr(fields, prefix)
        companies[prefix] = company_by_orgnr(session, orgnr) if orgnr else None
    for field in spec.fields:
        reading = out.get(field.name)
        if reading is None:
            continue
        prefix = field.name.rsplit("_", 1)[0]
        company = companies.get(prefix)
        if field.type is FieldType.TEXT:
            reading = out[field.name] = _issued_text(
                kind, reading, (issued_values.get(field.name) or "").strip(), findings)
        if field.type is FieldType.EMAIL and company is not None:
            out[field.name] = _email(session, kind, reading, company, findings)
        elif field.type is FieldType.EMAIL and prefix in prefixes:
            out[field.name] = _unchecked_email(session, kind, reading, prefix, findings)
        elif _unsure_name(field.name, prefix in prefixes, reading, company, issued_values):
            out[field.name] = _company_name(session, reading, _company_kinds(fields, prefix))
    for sig in spec.signatures:
        reading = out.get(sig.name_field)
        if reading is not None and stray_characters(reading.value.strip()):
            reading = out[sig.name_field] = replace(
                reading, confidence=min(reading.confidence, STRAY_NAME_CONFIDENCE))
        company = companies.get(sig.party)
        if reading is not None and company is not None:
            signers = CLIENT_SIGNERS if sig.party == "client" else FIRM_SIGNERS
            out[sig.name_field] = _signatory(session, reading, company, signers)
    return out, findings

