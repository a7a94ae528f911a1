"""Digital signatures against the registry: whose signature requirement each one meets.

`esign` says what a signature is (intact, covering the file, by whom, trusted);
this module says what it is worth on our form. A signature satisfies a party's
requirement, as ink in its signature area does, when it is sound and its
signer is a signatory on record for that party's company: the client's
firmatecknare or system administrator, a firm's system administrator
(`validate.CLIENT_SIGNERS`, `FIRM_SIGNERS`). The certificate's personnummer,
where it carries one, must be the person's on record; a person on record
without one is matched by name, exactly (an e-ID's name is not an OCR reading).

Every signature is named in a finding with who, when, with what and the trust
result, so the reviewer sees it without opening the file. A broken or untrusted
signature, a file changed after signing, or a signer who may not sign for any
party blocks: each in its own Swedish words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from sqlmodel import Session

from forms import FormKind, form_spec
from intake.scan.esign import ESignature
from intake.scan.model import FieldReading, Finding, Severity, SignatureReading, SignatureState
from intake.scan.validate import CLIENT_SIGNERS, FIRM_SIGNERS, ROLE_NAMES, people_with_roles
from registry import Company, Person
from registry.linkage import company_by_orgnr

_NO_CROP = np.full((1, 1), 255, np.uint8)
TRUST_WORDS = {
    "untrusted": "utfärdat av en utgivare som inte är betrodd",
    "expired": "inte giltigt (det har gått ut eller gäller ännu inte)",
    "revoked": "spärrat av utgivaren",
}


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _same_personnummer(on_record: str | None, in_certificate: str) -> bool | None:
    """True or False when both are there, compared on their last ten digits (ÅÅMMDDNNNN:
    a certificate writes the century, the registry may not); None when either is
    missing."""
    if not on_record or len(_digits(in_certificate)) < 10:
        return None
    return _digits(on_record)[-10:] == _digits(in_certificate)[-10:]


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _matches(person: Person, sig: ESignature) -> bool:
    same = _same_personnummer(person.personnummer, sig.signer_id)
    return same if same is not None else _same_name(person.name, sig.signer)


def _when(sig: ESignature) -> str:
    moment = sig.timestamp_at or sig.signed_at
    if moment is None:
        return "vid okänd tidpunkt"
    local = moment.astimezone()
    stamp = " (tidsstämplat)" if sig.timestamp_at else ""
    return f"{local:%Y-%m-%d %H:%M}{stamp}"


def _who(sig: ESignature) -> str:
    who = sig.signer or "okänd undertecknare"
    return f"{who} ({sig.signer_id})" if sig.signer_id else who


def _party_companies(session: Session, kind: FormKind, fields: Mapping[str, FieldReading]
                     ) -> dict[str, Company]:
    """Each signing party's company, by the organisationsnummer read for it (`<party>_orgnr`)."""
    out = {}
    for sig in form_spec(kind).signatures:
        reading = fields.get(f"{sig.party}_orgnr")
        company = company_by_orgnr(session, reading.value) if reading and reading.value else None
        if company is not None:
            out[sig.party] = company
    return out


def apply_esignatures(session: Session, kind: FormKind, fields: Mapping[str, FieldReading],
                      signatures: Mapping[str, SignatureReading],
                      esignatures: Sequence[ESignature]
                      ) -> tuple[dict[str, SignatureReading], list[Finding]]:
    """The parties' signature readings with what the digital signatures satisfy, and a
    finding for every digital signature (module docstring)."""
    out = dict(signatures)
    findings: list[Finding] = []
    spec = form_spec(kind)
    companies = _party_companies(session, kind, fields)
    titles = {s.party: s.title for s in spec.signatures}
    for sig in esignatures:
        who, when = _who(sig), _when(sig)
        revocation = ("spärrstatus kontrollerad mot spärrinformationen i filen"
                      if sig.revocation_embedded else
                      "spärrstatus okänd: filen har ingen spärrinformation")
        details = f"{who}, {when}, certifikat från {sig.issuer or 'okänd utgivare'}; {revocation}"
        if not (sig.intact and sig.valid):
            findings.append(Finding(
                "esign.invalid", Severity.BLOCKING,
                f"Den digitala signaturen ({details}) är ogiltig: filen har ändrats i det "
                "signerade innehållet, eller signaturen är skadad."))
            continue
        if sig.changed_after:
            findings.append(Finding(
                "esign.modified", Severity.BLOCKING,
                f"PDF-filen har ändrats efter att den signerades digitalt ({details}): det "
                "som syns nu är inte det som signerades."))
            continue
        if sig.trust != "trusted":
            findings.append(Finding(
                f"esign.{sig.trust}", Severity.BLOCKING,
                f"Den digitala signaturen ({details}) kan inte godtas: certifikatet är "
                f"{TRUST_WORDS.get(sig.trust, 'inte betrott')}."))
            continue
        party = next((p for p, company in companies.items() if any(
            _matches(person, sig) for person, _held in people_with_roles(
                session, company, CLIENT_SIGNERS if p == "client" else FIRM_SIGNERS))), None)
        if party is None:
            names = " eller ".join(c.name for c in companies.values()) or "företagen på blanketten"
            roles = " eller ".join(ROLE_NAMES[r] for r in CLIENT_SIGNERS)
            findings.append(Finding(
                "esign.not_signatory", Severity.BLOCKING,
                f"Den digitala signaturen är giltig men gjord av {who}, som inte är {roles} "
                f"för {names} i registret."))
            continue
        before = out.get(party)
        out[party] = (dataclasses.replace(before, state=SignatureState.SIGNED)
                      if before is not None else
                      SignatureReading(party, SignatureState.SIGNED, 0.0, _NO_CROP))
        findings.append(Finding(
            "esign.valid", Severity.INFO,
            f"{titles[party]}: digitalt signerad av {details}. Signaturen är giltig, täcker "
            "filen och certifikatkedjan leder till en betrodd utgivare.", party))
    return out, findings
