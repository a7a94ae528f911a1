"""Digital signatures in a PDF (PAdES / CMS), validated with pyHanko: the one module that does.

E-signature services and PDF viewers sign the file, not the paper: a CMS
signature over a byte range of the PDF, with the signer's certificate. For
each signature in a mailed PDF this module says, without ever raising for
a customer's file:

* **integrity**: the digest matches the bytes it covers and the signature
  is cryptographically sound (`intact`, `valid`);
* **coverage**: the whole file, or an earlier revision followed only by what
  a signature may allow after it: a later signature, long-term validation
  data. pyHanko's difference analysis classifies what came after; a value
  filled in, an annotation drawn or anything else changed after signing
  means the file a person sees is not the file that was signed
  (`changed_after`), even where the signature's own permissions would
  allow form filling;
* **who**: the certificate's common name, and its serialNumber attribute,
  where Swedish e-ID certificates (BankID, Freja) carry the personnummer;
* **when**: the time the signer's software reported, and an embedded
  timestamp token's time where there is one;
* **trust**: a chain to one of the operator's roots
  (`KOPPLINGAR_SIGNATURE_TRUST_ROOTS`); an expired or revoked certificate
  is not trusted, and says so (`trust`);
* **revocation data embedded** in the file (PAdES-LT: a DSS with revocation
  lists and OCSP answers) is used to check the chain, so a certificate its
  issuer revoked is `revoked`; nothing is fetched: there is no network here
  and a reading must not depend on one. Without embedded data a
  certificate's revocation cannot be checked, which `revocation_embedded`
  says.

Whether the signer may sign for the company is the registry's question
(`esigned`), not this module's.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

log = logging.getLogger(__name__)
# pyHanko logs every failed validation with its traceback; a customer's bad signature is
# an outcome we report ourselves (`problem`, the findings), not an error of ours.
for _noisy in ("pyhanko.sign.validation", "pyhanko.sign.general", "pyhanko_certvalidator"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

# What may follow a signature without changing what was signed: nothing, validation
# data, or form filling (a second signer's signature is a form field being filled).
ALLOWED_AFTER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES,
                 ModificationLevel.FORM_FILLING)
EXPIRED_HINTS = ("EXPIRED", "OUT_OF_BOUNDS", "NOT_YET_VALID")


@dataclass(frozen=True)
class ESignature:
    """One digital signature in a PDF, as validated (module docstring)."""

    field: str  # the signature field's name
    signer: str  # the certificate's common name
    signer_id: str  # its serialNumber attribute (a personnummer on Swedish e-IDs), or ""
    issuer: str  # the issuing CA's common name
    signed_at: dt.datetime | None  # as the signer's software reported it
    timestamp_at: dt.datetime | None  # an embedded timestamp token's time
    intact: bool  # the digest matches the bytes the signature covers
    valid: bool  # and the signature over it is sound
    changed_after: bool  # the file was changed after signing beyond what signing allows
    coverage: str  # "entire_file", "entire_revision", "contiguous_block", "unclear"
    trust: str  # "trusted", "untrusted", "expired", "revoked"
    revocation_embedded: bool
    problem: str = ""  # English, for the operator's log and the details toggle

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and not self.changed_after and self.trust == "trusted"


def _name(name: asn1_x509.Name, key: str) -> str:
    value = name.native.get(key, "")
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def _coverage(level: SignatureCoverageLevel | None) -> str:
    return {
        SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
        SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
        SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "contiguous_block",
    }.get(level, "unclear") if level is not None else "unclear"


def _trust(status: object) -> str:
    if getattr(status, "trusted", False) and not getattr(status, "revoked", False):
        return "trusted"
    if getattr(status, "revoked", False):
        return "revoked"
    indication = str(getattr(status, "trust_problem_indic", "") or "")
    return "expired" if any(h in indication.upper() for h in EXPIRED_HINTS) else "untrusted"


def _dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    """The file's long-term validation data, if it has any that reads."""
    try:
        return DocumentSecurityStore.read_dss(reader) if "/DSS" in reader.root else None
    except Exception as exc:  # a damaged DSS vouches for nothing; the signature still reads
        log.info("cannot read the PDF's validation data (DSS): %s", exc)
        return None


def _field_values(root: Any) -> dict[str, str]:
    """Every terminal form field's value in a revision, by its full name."""
    out: dict[str, str] = {}

    def walk(ref: Any, prefix: str, depth: int) -> None:
        field = ref.get_object()
        own = str(field.get("/T", ""))
        name = f"{prefix}.{own}" if prefix and own else own or prefix
        kids = field.get("/Kids")
        if kids is not None and depth < 8 and any("/T" in k.get_object() for k in kids):
            for kid in kids:
                walk(kid, name, depth + 1)
        else:
            out[name] = str(field.get("/V", ""))

    form = root.get("/AcroForm")
    for ref in (form.get_object().get("/Fields", []) if form is not None else []):
        walk(ref, "", 0)
    return out


def _values_kept(reader: PdfFileReader, revision: int, signatures: set[str]) -> bool:
    """Whether every field but the signatures holds, in the latest revision, the value it
    held in the signed one. pyHanko's own analysis lets form filling after an approval
    signature pass (and counts fields whose appearances a later signer redrew as changed),
    so the values are compared here."""
    try:
        then = _field_values(reader.get_historical_root(revision))
        now = _field_values(reader.root)
    except Exception as exc:  # a structure we cannot walk vouches for nothing
        log.info("cannot compare the form's values across revisions: %s", exc)
        return False
    return all(now.get(name) == value for name, value in then.items()
               if name not in signatures) and not (set(now) - set(then) - signatures)


def is_signed(data: bytes) -> bool:
    """Cheap: whether the bytes look like a PDF with a signature dictionary at all."""
    return data[:1024].lstrip().startswith(b"%PDF") and b"/ByteRange" in data


def read_esignatures(data: bytes, trust_roots: Sequence[bytes],
                     moment: dt.datetime | None = None) -> tuple[ESignature, ...]:
    """Every digital signature in the PDF `data`, validated against `trust_roots` (DER or
    PEM certificates) at `moment` (now by default). Never raises for a customer's file:
    a signature pyHanko cannot even parse comes back invalid, with the problem said."""
    if not is_signed(data):
        return ()
    roots = [_certificate(r) for r in trust_roots]
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # pyHanko's parse errors are many; the file's fault
        log.info("cannot read the PDF's signatures: %s", exc)
        return (ESignature("", "", "", "", None, None, False, False, True, "unclear",
                           "untrusted", False, f"unreadable signature structure: {exc}"),)
    store = _dss(reader)
    dss = store is not None
    signature_fields = {sig.field_name for sig in embedded if sig.field_name}
    out = []
    for sig in embedded:
        # Revocation lists and OCSP answers embedded in the file (PAdES-LT) are used to
        # check the chain; with none, nothing can be checked offline, and soft-fail says so
        # without calling a signature revoked that nobody has revoked.
        settings: dict[str, Any] = {"trust_roots": roots, "allow_fetching": False,
                                    "moment": moment, "revocation_mode": "soft-fail"}
        context = (store.as_validation_context(settings) if store is not None
                   else ValidationContext(**settings))
        try:
            status = validate_pdf_signature(sig, context)
        except Exception as exc:  # a malformed signature is invalid, not a crash
            log.info("signature %s cannot be validated: %s", sig.field_name, exc)
            out.append(ESignature(sig.field_name or "", "", "", "", None, None, False, False,
                                  True, "unclear", "untrusted", dss, f"cannot validate: {exc}"))
            continue
        cert = status.signing_cert
        level = status.modification_level
        coverage = _coverage(status.coverage)
        # Form filling after a signature is allowed only where what was filled is another
        # signature (the second party signing); a value typed after signing is a change.
        changed = not (coverage == "entire_file" or (
            coverage == "entire_revision" and level in ALLOWED_AFTER
            and status.docmdp_ok is not False
            and _values_kept(reader, sig.signed_revision, signature_fields)))
        stamp = status.timestamp_validity
        signed_attrs = sig.signer_info["signed_attrs"].native or {}
        archive = any("revocation" in str(k).lower() for k in signed_attrs)
        out.append(ESignature(
            field=sig.field_name or "",
            signer=_name(cert.subject, "common_name"),
            signer_id=_name(cert.subject, "serial_number"),
            issuer=_name(cert.issuer, "common_name"),
            signed_at=status.signer_reported_dt,
            timestamp_at=stamp.timestamp if stamp is not None else None,
            intact=bool(status.intact),
            valid=bool(status.valid),
            changed_after=changed,
            coverage=coverage,
            trust=_trust(status),
            revocation_embedded=dss or archive,
            problem="" if status.bottom_line and not changed else
            f"intact={status.intact} valid={status.valid} trusted={status.trusted} "
            f"coverage={coverage} after={level.name if level else None} "
            f"indication={getattr(status, 'trust_problem_indic', None)}",
        ))
    return tuple(out)


def _certificate(data: bytes) -> asn1_x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        _kind, _headers, der = pem.unarmor(data)
        return asn1_x509.Certificate.load(der)
    return asn1_x509.Certificate.load(data)
