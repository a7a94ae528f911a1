"""Checking a read form against the registry and its issued form: the findings.

Every finding has a stable code, a severity and a Swedish message for the
reviewer (names, numbers and scores spelled out, so the message stands on
its own). The registry is only read here; nothing is changed.

Severity policy:

* BLOCKING: the request cannot be carried out as read. A person must
  correct a value or reject the form: a number that is not valid, a company
  or subscription the registry does not know or that do not belong
  together, a firm of the wrong kind, a connection that already exists (or,
  to disconnect, does not), a required signature missing, a form id that
  was never issued or a QR code whose seal does not match.
* WARNING: probably fine, but a person must look before approving: a value
  changed by hand (or read differently from what was issued; a name differs
  only when it is more than an OCR slip, see `intake.scan.naming.ocr_slip`), a company name that
  is not the registry's for its number, a signature the reader is unsure of, a signatory whose
  name matches nobody authorised well enough, a signatory's name with characters no name
  has (digits, "|", ...), a signatory's name that cannot be checked at all because its
  company's number names no company, an implausible or missing
  date, a form submitted before, a key number read with low confidence, the
  "current" firm of a dual connection not actually connected.
* INFO: context for the reviewer: who the signatory matched and how well,
  a blank (not pre-filled) form, a non-key field read with low confidence.

Codes: `form.unknown_id`, `form.kind_mismatch`, `form.duplicate`,
`form.blank`, `qr.invalid`, `field.missing`, `ocr.low_confidence`,
`orgnr.format`, `orgnr.luhn`, `subscription.format`, `subscription.luhn`,
`subscription.unknown`, `subscription.mismatch`, `client.unknown`,
`firm.unknown`, `firm.kind_mismatch`, `firm.same_company`,
`connection.exists`, `connection.current_missing`, `connection.missing`,
`signature.missing`, `signature.unsure`, `signatory.matched`,
`signatory.uncertain`, `signatory.not_authorised`, `signatory.name_missing`,
`signatory.role_mismatch`, `signatory.name_characters`, `signatory.unchecked`,
`date.missing`, `date.unreadable`, `date.future`,
`date.too_old`, `date.before_issue`, `value.changed`, `name.mismatch`,
`name.spelling`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from forms import (
    SURE_CONFIDENCE,
    FieldSpec,
    FieldType,
    FormKind,
    InvalidValue,
    display_form_id,
    form_spec,
    luhn_checksum_ok,
    parse_date,
    parse_organisationsnummer,
    parse_subscription_number,
)
from intake.scan.model import FieldReading, Finding, Severity, SignatureReading, SignatureState
from intake.scan.naming import (
    PARTY_LABELS,
    doubt_text,
    near_numbers,
    shown_number,
    stray_characters,
)
from intake.scan.naming import field_label as field_label
from intake.scan.naming import name_score as name_score
from intake.scan.naming import ocr_slip as ocr_slip
from intake.scan.naming import percent as percent
from registry import (
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    IssuedForm,
    Person,
    Role,
    RoleKind,
    Subscription,
)

KEY_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
# The linkage is made from these, and the confirmation mail goes to the e-mail address.
CONSEQUENTIAL_TYPES = (*KEY_TYPES, FieldType.CHOICE, FieldType.EMAIL)
LOW_CONFIDENCE = SURE_CONFIDENCE  # below this a value goes to a person's eye
NAME_MATCH = 0.85  # a signatory's name this close to a person on record is that person
NAME_UNRELATED = 0.6  # below this, and read with confidence, the name is nobody authorised
NAME_READ_SURE = 0.8  # OCR confidence above which a name is taken as what is written
MAX_DATE_AGE_DAYS = 90  # a signature older than this is stale
MAX_SUGGESTIONS = 3  # numbers offered to the reviewer for a number that fails its check
INK_CHANGED = 0.005  # share of a field's box with ink the issued print lacks: written on

# Every code validate_document can raise (a test reads them off the checks below).
VALIDATION_CODES = frozenset({
    "client.unknown",
    "connection.current_missing",
    "connection.exists",
    "connection.missing",
    "date.before_issue",
    "date.future",
    "date.missing",
    "date.too_old",
    "date.unreadable",
    "field.missing",
    "firm.kind_mismatch",
    "firm.same_company",
    "firm.unknown",
    "form.blank",
    "form.duplicate",
    "form.kind_mismatch",
    "form.unknown_id",
    "name.mismatch",
    "name.spelling",
    "ocr.low_confidence",
    "orgnr.format",
    "orgnr.luhn",
    "qr.invalid",
    "signatory.matched",
    "signatory.name_characters",
    "signatory.name_missing",
    "signatory.not_authorised",
    "signatory.role_mismatch",
    "signatory.uncertain",
    "signatory.unchecked",
    "signature.missing",
    "signature.unsure",
    "subscription.format",
    "subscription.luhn",
    "subscription.mismatch",
    "subscription.unknown",
    "value.changed",
})

# Who may sign for each party: the client's firmatecknare or system administrator,
# a firm's system administrator (DESIGN.md, "The registry rules").
CLIENT_SIGNERS = (RoleKind.FIRMATECKNARE, RoleKind.SYSADMIN)
FIRM_SIGNERS = (RoleKind.SYSADMIN,)
ROLE_NAMES = {
    RoleKind.FIRMATECKNARE: "firmatecknare",
    RoleKind.SYSADMIN: "systemadministratör",
    RoleKind.PROGRAM_ADMIN: "programadministratör",
    RoleKind.CONSULTANT: "konsult",
}
KIND_NAMES = {
    CompanyKind.CLIENT: "ett klientföretag",
    CompanyKind.ACCOUNTING_FIRM: "en redovisningsbyrå",
    CompanyKind.AUDIT_FIRM: "en revisionsbyrå",
}


# -- registry look-ups (read only) -----------------------------------------------------------

def company_by_orgnr(session: Session, orgnr: str) -> Company | None:
    return session.exec(select(Company).where(Company.orgnr == orgnr)).first()


def subscription_by_number(session: Session, number: str) -> Subscription | None:
    return session.exec(select(Subscription).where(Subscription.number == number)).first()


def open_connection(session: Session, client: Company, firm: Company,
                    role: ConnectionRole | None) -> Connection | None:
    """The open connection between client and firm (in `role`, or any role when None)."""
    statement = select(Connection).where(
        Connection.client_id == client.id,
        Connection.firm_id == firm.id,
        col(Connection.until).is_(None),
    )
    if role is not None:
        statement = statement.where(Connection.role == role)
    return session.exec(statement).first()


def people_with_roles(session: Session, company: Company, roles: tuple[RoleKind, ...]
                      ) -> list[tuple[Person, frozenset[RoleKind]]]:
    """Everyone holding one of `roles` at `company`, with the roles they hold there."""
    rows = session.exec(
        select(Person, Role)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(Role.company_id == company.id, col(Role.role).in_(roles))
        .order_by(col(Person.name), col(Person.id))
    ).all()
    held: dict[int, tuple[Person, set[RoleKind]]] = {}
    for person, role in rows:
        assert person.id is not None
        held.setdefault(person.id, (person, set()))[1].add(RoleKind(role.role))
    return [(person, frozenset(kinds)) for person, kinds in held.values()]


def _value(fields: Mapping[str, FieldReading], name: str) -> str:
    reading = fields.get(name)
    return reading.value.strip() if reading is not None else ""


@dataclass
class _Checks:
    """The findings so far, and what later checks need from earlier ones."""

    findings: list[Finding]
    companies: dict[str, Company]  # by party prefix ("client", "new_firm", ...)
    kind: FormKind
    session: Session
    issued: IssuedForm | None

    def add(self, code: str, severity: Severity, message: str, field: str | None = None) -> None:
        self.findings.append(Finding(code, severity, message, field))

    def label(self, field: FieldSpec) -> str:
        return field_label(self.kind, field.name)

    def issued_value(self, name: str) -> str:
        if self.issued is None or FormKind(self.issued.kind) is not self.kind:
            return ""
        return (self.issued.values.get(name) or "").strip()

    def suggestion(self, field: FieldSpec, digits: str) -> str:
        """" Menade du 556969-4408, Sjöberg Fastigheter AB?": numbers one slip away from
        `digits` that the issued form or the registry knows; a suggestion, never a value."""
        near = near_numbers(digits)
        offers: list[str] = []
        issued = "".join(ch for ch in self.issued_value(field.name) if ch.isdigit())
        if field.type is FieldType.ORGNR:
            shown = [f"{n[:6]}-{n[6:]}" for n in near]
            known = {co.orgnr: co.name for co in self.session.exec(
                select(Company).where(col(Company.orgnr).in_(shown))).all()} if shown else {}
            if issued and issued != digits:
                number = f"{issued[:6]}-{issued[6:]}"
                name = known.pop(number, None)
                offers.append(f"{number}{f', {name}' if name else ''} (som blanketten "
                              "utfärdades med)")
            offers += [f"{n}, {name}" for n, name in sorted(known.items())]
        else:
            rows = self.session.exec(
                select(Subscription, Company)
                .join(Company, col(Company.id) == col(Subscription.company_id))
                .where(col(Subscription.number).in_(near))).all() if near else []
            known = {sub.number: co.name for sub, co in rows}
            if issued and issued != digits:
                name = known.pop(issued, None)
                offers.append(f"{issued}{f', {name}' if name else ''} (som blanketten "
                              "utfärdades med)")
            offers += [f"{n}, {name}" for n, name in sorted(known.items())]
        offers = offers[:MAX_SUGGESTIONS]
        if not offers:
            return ""
        return f" Menade du {' eller '.join(offers)}?"


# -- the form as a whole ---------------------------------------------------------------------

def _check_form(c: _Checks, kind: FormKind, issued: IssuedForm | None, form_id: str | None,
                qr_valid: bool, already_submitted: bool) -> None:
    if form_id is None:
        c.add("form.blank", Severity.INFO,
              "Blanketten är inte förifylld (inget blankett-id), så den kan inte jämföras "
              "med en utfärdad blankett. Alla värden är lästa från sidan.")
        return
    shown = display_form_id(form_id)
    if not qr_valid:
        c.add("qr.invalid", Severity.BLOCKING,
              f"QR-koden för blankett {shown} har fel kontrollsumma: blanketten kan vara "
              "ändrad eller förfalskad.")
    if issued is None:
        c.add("form.unknown_id", Severity.BLOCKING,
              f"Blankett-id {shown} har aldrig utfärdats av oss.")
        return
    if FormKind(issued.kind) is not kind:
        c.add("form.kind_mismatch", Severity.BLOCKING,
              f"Blankett {shown} utfärdades som {form_spec(issued.kind).title}, men sidan är en "
              f"{form_spec(kind).title}.")
    if already_submitted:
        c.add("form.duplicate", Severity.WARNING,
              f"Blankett {shown} har redan skickats in tidigare. Kontrollera att det inte är "
              "en dubblett.")


def _check_present(c: _Checks, field: FieldSpec, reading: FieldReading | None) -> bool:
    """Required fields that are empty; low confidence. True when there is a value."""
    value = reading.value.strip() if reading is not None else ""
    if not value:
        if field.required:
            key = field.type in KEY_TYPES or field.type is FieldType.CHOICE
            unreadable = reading is not None and reading.confidence < LOW_CONFIDENCE
            what = "kunde inte läsas" if unreadable else "är tomt"
            c.add("field.missing", Severity.BLOCKING if key else Severity.WARNING,
                  f"Fältet ”{c.label(field)}” {what}.", field.name)
        return False
    assert reading is not None
    if reading.confidence < LOW_CONFIDENCE:
        # What the linkage or the outgoing mail depends on warns; the rest is context.
        key = field.type in CONSEQUENTIAL_TYPES
        c.add("ocr.low_confidence", Severity.WARNING if key else Severity.INFO,
              f"”{c.label(field)}” lästes som ”{value}” med låg säkerhet "
              f"({percent(reading.confidence)}).{doubt_text(reading)} Kontrollera mot bilden.",
              field.name)
    return True


def _check_orgnr(c: _Checks, field: FieldSpec, reading: FieldReading) -> str | None:
    """The canonical organisationsnummer, or None after a finding."""
    value = reading.value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 12 and digits[:2] in ("16", "19", "20"):
        digits = digits[2:]
    if len(digits) != 10 or len(digits) != sum(ch.isalnum() for ch in value):
        c.add("orgnr.format", Severity.BLOCKING,
              f"”{c.label(field)}”: ”{value}” är inget organisationsnummer (10 siffror, "
              "NNNNNN-NNNN).", field.name)
        return None
    if not luhn_checksum_ok(digits):
        c.add("orgnr.luhn", Severity.BLOCKING,
              f"”{c.label(field)}”: på blanketten lästes {digits[:6]}-{digits[6:]}, och dess "
              "kontrollsiffra stämmer inte: numret är felskrivet eller felläst."
              f"{doubt_text(reading)}{c.suggestion(field, digits)}", field.name)
        return None
    try:
        return parse_organisationsnummer(value, field=field.name).text
    except InvalidValue as exc:
        c.add("orgnr.format", Severity.BLOCKING, f"”{c.label(field)}”: {exc.message}",
              field.name)
        return None


def _check_subscription(c: _Checks, field: FieldSpec, reading: FieldReading) -> str | None:
    value = reading.value.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) != 8 or len(digits) != sum(ch.isalnum() for ch in value):
        c.add("subscription.format", Severity.BLOCKING,
              f"”{c.label(field)}”: ”{value}” är inget abonnemangsnummer (8 siffror).",
              field.name)
        return None
    if not luhn_checksum_ok(digits):
        c.add("subscription.luhn", Severity.BLOCKING,
              f"”{c.label(field)}”: på blanketten lästes {digits}, och dess kontrollsiffra "
              "stämmer inte: numret är felskrivet eller felläst."
              f"{doubt_text(reading)}{c.suggestion(field, digits)}", field.name)
        return None
    return parse_subscription_number(digits, field=field.name)


# -- the registry ----------------------------------------------------------------------------

def _check_client(c: _Checks, session: Session, orgnr: str | None,
                  subscription: str | None) -> None:
    client = company_by_orgnr(session, orgnr) if orgnr else None
    if orgnr and client is None:
        c.add("client.unknown", Severity.BLOCKING,
              f"Företaget med organisationsnummer {orgnr} finns inte i registret.",
              "client_orgnr")
    if client is not None:
        c.companies["client"] = client
    if subscription is None:
        return
    sub = subscription_by_number(session, subscription)
    if sub is None:
        c.add("subscription.unknown", Severity.BLOCKING,
              f"Abonnemangsnummer {subscription} finns inte i registret.",
              "client_subscription")
    elif client is not None and sub.company_id != client.id:
        owner = session.get(Company, sub.company_id)
        whose = f"{owner.name} ({owner.orgnr})" if owner else "ett annat företag"
        c.add("subscription.mismatch", Severity.BLOCKING,
              f"Abonnemangsnummer {subscription} tillhör {whose}, inte {client.name} "
              f"({client.orgnr}).", "client_subscription")


def _check_firm(c: _Checks, session: Session, prefix: str, label: str, orgnr: str | None,
                role: ConnectionRole | None) -> None:
    if orgnr is None:
        return
    firm = company_by_orgnr(session, orgnr)
    if firm is None:
        c.add("firm.unknown", Severity.BLOCKING,
              f"{label} med organisationsnummer {orgnr} finns inte i registret.",
              f"{prefix}_orgnr")
        return
    c.companies[prefix] = firm
    kind = CompanyKind(firm.kind)
    wanted = role.firm_kind if role is not None else None
    if not kind.is_firm or (wanted is not None and kind is not wanted):
        stated = f", men blanketten anger {KIND_NAMES[wanted]}" if wanted else ""
        c.add("firm.kind_mismatch", Severity.BLOCKING,
              f"{firm.name} ({firm.orgnr}) är {KIND_NAMES[kind]} i registret{stated}.",
              f"{prefix}_role" if kind.is_firm else f"{prefix}_orgnr")


def _role(fields: Mapping[str, FieldReading], name: str) -> ConnectionRole | None:
    try:
        return ConnectionRole(_value(fields, name))
    except ValueError:
        return None


def _check_same(c: _Checks, orgnrs: Mapping[str, str | None], kind: FormKind) -> None:
    pairs = ((("new_firm", "current_firm"), ("new_firm", "client")) if kind is FormKind.DUAL
             else (("firm", "client"),))
    for a, b in pairs:
        if orgnrs.get(a) and orgnrs.get(a) == orgnrs.get(b):
            c.add("firm.same_company", Severity.BLOCKING,
                  f"Samma organisationsnummer ({orgnrs[a]}) står för två parter på blanketten.",
                  f"{a}_orgnr")


def _check_connections(c: _Checks, session: Session, kind: FormKind,
                       fields: Mapping[str, FieldReading]) -> None:
    client = c.companies.get("client")
    if client is None:
        return
    if kind is FormKind.DUAL:
        new, current = c.companies.get("new_firm"), c.companies.get("current_firm")
        new_role = _role(fields, "new_firm_role")
        if new is not None and new_role is not None and open_connection(
                session, client, new, new_role):
            c.add("connection.exists", Severity.BLOCKING,
                  f"{new.name} är redan kopplad till {client.name} som "
                  f"{KIND_NAMES[new_role.firm_kind].split(' ', 1)[1]}.", "new_firm_orgnr")
        if current is not None and open_connection(
                session, client, current, _role(fields, "current_firm_role")) is None:
            c.add("connection.current_missing", Severity.WARNING,
                  f"{current.name} är inte kopplad till {client.name} i registret, fast "
                  "blanketten anger den som redan kopplad byrå.", "current_firm_orgnr")
        return
    firm = c.companies.get("firm")
    role = _role(fields, "firm_role")
    if firm is not None and open_connection(session, client, firm, role) is None:
        as_role = f" som {KIND_NAMES[role.firm_kind].split(' ', 1)[1]}" if role else ""
        c.add("connection.missing", Severity.BLOCKING,
              f"{client.name} är inte kopplad till {firm.name}{as_role}, så det finns ingen "
              "koppling att ta bort.", "firm_orgnr")


# -- signatures, signatories and dates ------------------------------------------------------

def _check_signatory(c: _Checks, session: Session, party: str, title: str,
                     name: FieldReading | None, chosen_role: str) -> None:
    company = c.companies.get(party)
    written = name.value.strip() if name is not None else ""
    if not written:
        c.add("signatory.name_missing", Severity.WARNING,
              f"{title}: namnförtydligande saknas eller kunde inte läsas, så behörigheten "
              "kan inte kontrolleras.", name.name if name else None)
        return
    if company is None:
        return  # nothing to compare with: `_check_signatory_name` says so, on the name
    assert name is not None
    signers = CLIENT_SIGNERS if party == "client" else FIRM_SIGNERS
    allowed = " eller ".join(ROLE_NAMES[r] for r in signers)
    people = people_with_roles(session, company, signers)
    if not people:
        c.add("signatory.not_authorised", Severity.BLOCKING,
              f"{company.name} har ingen {allowed} i registret, så ingen kan skriva under "
              "för företaget.", name.name)
        return
    scored = sorted(((name_score(written, p.name), p, held) for p, held in people),
                    key=lambda t: t[0], reverse=True)
    score, person, held = scored[0]
    roles = ", ".join(ROLE_NAMES[r] for r in signers if r in held)
    # The same ranking the reviewer is offered as candidates (`registered`), top three.
    match = "förslag: " + ", ".join(
        f"{i} {p.name} ({', '.join(ROLE_NAMES[r] for r in signers if r in h)}, "
        f"{percent(sc)})" for i, (sc, p, h) in enumerate(scored[:MAX_SUGGESTIONS], 1))
    if score >= NAME_MATCH and ocr_slip(written, person.name):
        c.add("signatory.matched", Severity.INFO,
              f"{title}: ”{written}” är {person.name}, {roles} på {company.name} "
              f"(likhet {percent(score)}).", name.name)
        try:
            wanted = RoleKind(chosen_role) if chosen_role else None
        except ValueError:
            wanted = None
        if wanted is not None and wanted not in held:
            c.add("signatory.role_mismatch", Severity.WARNING,
                  f"{title}: {person.name} är markerad som {ROLE_NAMES[wanted]} men är "
                  f"{roles} på {company.name}.", name.name)
    elif score < NAME_UNRELATED and name.confidence >= NAME_READ_SURE:
        c.add("signatory.not_authorised", Severity.BLOCKING,
              f"{title}: ”{written}” är ingen {allowed} på {company.name} ({match}).",
              name.name)
    else:
        c.add("signatory.uncertain", Severity.WARNING,
              f"{title}: ”{written}” kan inte säkert kopplas till en {allowed} på "
              f"{company.name} ({match}). Kontrollera namnet mot bilden.", name.name)


def _check_signatory_name(c: _Checks, party: str, title: str,
                          name: FieldReading | None) -> None:
    """What a signatory's name says on its own, signed or not: characters no name has, and
    a name no registry check can reach because its company's number names no company."""
    written = name.value.strip() if name is not None else ""
    if name is None or not written:
        return
    stray = stray_characters(written)
    if stray:
        shown = ", ".join(f"”{ch}”" for ch in stray)
        c.add("signatory.name_characters", Severity.WARNING,
              f"{title}: namnförtydligandet lästes ”{written}”, som innehåller tecken som inte "
              f"hör till ett namn ({shown}). Troligen en felläsning: kontrollera namnet mot "
              "bilden.", name.name)
    if party not in c.companies:
        number = field_label(c.kind, f"{party}_orgnr")
        party_label = PARTY_LABELS[c.kind].get(party, party)
        c.add("signatory.unchecked", Severity.WARNING,
              f"{title}: ”{written}” kan inte kontrolleras mot registret, eftersom "
              f"”{number}” inte pekar ut något företag där. Vem som får skriva under för "
              f"{party_label.lower()} är alltså okontrollerat: kontrollera namnet mot bilden "
              "och behörigheten när numret är rättat.", name.name)


def _check_date(c: _Checks, title: str, reading: FieldReading | None, signed: bool,
                issued: IssuedForm | None, today: dt.date) -> None:
    field = reading.name if reading is not None else None
    if reading is None or not reading.value:
        # A signature is only as good as its date: approving without one needs a reason.
        if reading is not None and reading.confidence < LOW_CONFIDENCE:
            c.add("date.unreadable", Severity.BLOCKING if signed else Severity.WARNING,
                  f"{title}: datumet kunde inte läsas. Skriv in det från bilden.", field)
        elif signed:
            c.add("date.missing", Severity.BLOCKING,
                  f"{title}: underskriften har inget datum.", field)
        return
    try:
        day = parse_date(reading.value)
    except InvalidValue:
        c.add("date.unreadable", Severity.BLOCKING if signed else Severity.WARNING,
              f"{title}: ”{reading.value}” är inget giltigt datum. Skriv in datumet från "
              "bilden.", field)
        return
    if day > today:
        c.add("date.future", Severity.WARNING,
              f"{title}: datumet {day.isoformat()} ligger efter dagens datum.", field)
    elif (today - day).days > MAX_DATE_AGE_DAYS:
        c.add("date.too_old", Severity.WARNING,
              f"{title}: datumet {day.isoformat()} är mer än {MAX_DATE_AGE_DAYS} dagar gammalt.",
              field)
    if issued is not None and day < issued.created_at.date():
        c.add("date.before_issue", Severity.WARNING,
              f"{title}: datumet {day.isoformat()} är före den dag blanketten utfärdades "
              f"({issued.created_at.date().isoformat()}).", field)


def _check_signatures(c: _Checks, session: Session, kind: FormKind,
                      fields: Mapping[str, FieldReading],
                      signatures: Mapping[str, SignatureReading],
                      issued: IssuedForm | None, today: dt.date) -> None:
    for sig in form_spec(kind).signatures:
        reading = signatures.get(sig.party)
        state = reading.state if reading is not None else SignatureState.EMPTY
        if state is SignatureState.EMPTY:
            c.add("signature.missing", Severity.BLOCKING,
                  f"Underskrift saknas: {sig.title}.", sig.party)
        elif state is SignatureState.UNSURE:
            c.add("signature.unsure", Severity.WARNING,
                  f"Osäkert om det finns en underskrift: {sig.title}. Kontrollera bilden.",
                  sig.party)
        signed = state is not SignatureState.EMPTY
        _check_signatory_name(c, sig.party, sig.title, fields.get(sig.name_field))
        if signed:
            chosen = _value(fields, sig.role_field) if sig.role_field else ""
            _check_signatory(c, session, sig.party, sig.title, fields.get(sig.name_field),
                             chosen)
        _check_date(c, sig.title, fields.get(sig.date_field), signed, issued, today)


# -- against the issued form -----------------------------------------------------------------

def _check_issued(c: _Checks, kind: FormKind, fields: Mapping[str, FieldReading],
                  issued: IssuedForm) -> None:
    for field in form_spec(kind).fields:
        was = (issued.values.get(field.name) or "").strip()
        reading = fields.get(field.name)
        if not was or reading is None or not reading.value:
            continue  # nothing issued to compare with, or nothing read (found elsewhere)
        now = reading.value.strip()
        # Text: only an OCR slip (confusable characters, spacing) is the same name.
        differs = not ocr_slip(now, was) if field.type is FieldType.TEXT else now != was
        label = c.label(field)
        # No ink beyond the issued print: nobody wrote on it, so the difference is ours.
        # (A choice's new cross is small beside its whole box: never taken as untouched.)
        untouched = (field.type is not FieldType.CHOICE and reading.read_by == "print"
                     and reading.ink_outside_print < INK_CHANGED)
        if differs and untouched:
            c.add("value.changed", Severity.WARNING,
                  f"”{label}” lästes {shown_number(now) if field.type in KEY_TYPES else f'”{now}”'}"
                  f", men blanketten utfärdades med ”{was}”. Ingen handskrift syns i rutan, så "
                  "det är troligen ett läsfel. Kontrollera mot bilden.", field.name)
        elif differs and field.type in KEY_TYPES and not _valid_number(field, now):
            c.add("value.changed", Severity.WARNING,
                  f"”{label}”: på blanketten lästes {shown_number(now)}, men blanketten "
                  f"utfärdades med {was}. Det lästa numret klarar inte kontrollsiffran: en "
                  "siffra är ändrad för hand eller felläst. Kontrollera mot bilden.",
                  field.name)
        elif differs:
            c.add("value.changed", Severity.WARNING,
                  f"”{label}”: på blanketten lästes ”{now}”, men blanketten utfärdades med "
                  f"”{was}”. Ändrat för hand eller felläst; kontrollera mot bilden.",
                  field.name)
        elif reading.ink_outside_print >= INK_CHANGED:
            c.add("value.changed", Severity.WARNING,
                  f"”{label}” har handskrivna tillägg eller överstrykningar "
                  f"({percent(reading.ink_outside_print, 1)} av rutan): utfärdat ”{was}”, läst "
                  f"”{now}”. Kontrollera mot bilden.", field.name)


def _valid_number(field: FieldSpec, value: str) -> bool:
    digits = "".join(ch for ch in value if ch.isdigit())
    return len(digits) == len(field.cells) and luhn_checksum_ok(digits)


def _check_names(c: _Checks, fields: Mapping[str, FieldReading]) -> None:
    """A company's name as read against the registry's, for the company its number names.

    Only where no issued value was printed (a blank form, or a name left empty on
    it): a pre-filled name is compared with what was issued (`_check_issued`).
    """
    for prefix, company in c.companies.items():
        name = f"{prefix}_name"
        reading = fields.get(name)
        if reading is None or not reading.value.strip() or c.issued_value(name):
            continue
        written = reading.value.strip()
        if not ocr_slip(written, company.name):
            label = field_label(c.kind, name)
            c.add("name.mismatch", Severity.WARNING,
                  f"”{label}”: på blanketten lästes ”{written}”, men organisationsnumret "
                  f"{company.orgnr} tillhör ”{company.name}” i registret. Kontrollera namnet "
                  "mot bilden.", name)
        elif written != company.name:
            # The same name up to a slip, so no warning; but the value as read is not the
            # registry's spelling, and nothing read differently may pass unmentioned.
            c.add("name.spelling", Severity.INFO,
                  f"”{field_label(c.kind, name)}” lästes ”{written}”; registret stavar "
                  f"”{company.name}”. Samma företag, troligen en läsning av å, ä, ö eller "
                  "versaler.", name)


FIRM_LABELS = {
    "current_firm": "Byrån som redan är kopplad",
    "new_firm": "Byrån som ska kopplas",
    "firm": "Byrån",
}


def validate_document(
    session: Session,
    kind: FormKind,
    fields: Mapping[str, FieldReading],
    signatures: Mapping[str, SignatureReading],
    *,
    issued: IssuedForm | None,
    form_id: str | None,
    qr_valid: bool,
    already_submitted: bool,
    today: dt.date,
) -> list[Finding]:
    """Every finding for one read form, in the order a reviewer reads the form.

    `form_id` is the id from the QR code (None for a blank form), `qr_valid`
    whether its seal matched, `issued` the issued form with that id (None if
    there is none), `already_submitted` whether a submission with that id is
    already queued. The session is only read.
    """
    spec = form_spec(kind)
    c = _Checks([], {}, kind, session, issued)
    _check_form(c, kind, issued, form_id, qr_valid, already_submitted)

    orgnrs: dict[str, str | None] = {}
    subscription: str | None = None
    for field in spec.fields:
        reading = fields.get(field.name)
        present = _check_present(c, field, reading)
        if field.type is FieldType.ORGNR:
            prefix = field.name.removesuffix("_orgnr")
            orgnrs[prefix] = _check_orgnr(c, field, reading) if present and reading else None
        elif field.type is FieldType.SUBSCRIPTION and present and reading is not None:
            subscription = _check_subscription(c, field, reading)

    _check_same(c, orgnrs, kind)
    _check_client(c, session, orgnrs.get("client"), subscription)
    for prefix, label in FIRM_LABELS.items():
        if prefix in orgnrs:
            _check_firm(c, session, prefix, label, orgnrs[prefix],
                        _role(fields, f"{prefix}_role"))
    _check_names(c, fields)
    _check_connections(c, session, kind, fields)
    _check_signatures(c, session, kind, fields, signatures, issued, today)
    if issued is not None and FormKind(issued.kind) is kind:
        _check_issued(c, kind, fields, issued)
    return c.findings
