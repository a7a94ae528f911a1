"""Every finding code in the reviewer's words: the queue's filter, the details, four eyes.

The codes are stable identifiers for scripts and the audit log; a reviewer
reads these labels instead. `tests/review/test_finding_labels.py` fails when
the intake can raise a code that has no label here.
"""

from __future__ import annotations

FINDING_LABELS: dict[str, str] = {
    # The form as a whole
    "form.blank": "Blanketten är inte förifylld",
    "form.unknown_id": "Blankett-id:t har aldrig utfärdats",
    "form.kind_mismatch": "Blanketten är av en annan typ än den som utfärdades",
    "form.duplicate": "Blanketten har skickats in förut",
    "form.id_unread": "Blankett-id:t kunde inte läsas",
    "form.issued": "Blanketten känns igen som utfärdad",
    "qr.invalid": "QR-koden har fel kontrollsumma",
    "qr.unreadable": "QR-koden kunde inte läsas",
    "file.blank": "Filen har bara tomma sidor",
    "file.rejected": "Filen kunde inte öppnas",
    "file.reader_stopped": "Läsningen avbröts",
    "file.resent": "Samma fil har skickats förut",
    "page.unreadable": "En sida kunde inte läsas",
    # Values
    "field.missing": "Ett nödvändigt fält saknas",
    "ocr.low_confidence": "Ett värde lästes med låg säkerhet",
    "orgnr.format": "Organisationsnumret har fel form",
    "orgnr.luhn": "Organisationsnumrets kontrollsiffra stämmer inte",
    "subscription.format": "Abonnemangsnumret har fel form",
    "subscription.luhn": "Abonnemangsnumrets kontrollsiffra stämmer inte",
    "value.changed": "Ett värde skiljer sig från det utfärdade",
    "value.print_slip": "Trycket lästes med ett läsfel",
    "name.mismatch": "Företagsnamnet är inte registrets",
    "name.spelling": "Företagsnamnet är stavat annorlunda",
    "email.registered": "Registrerad e-postadress används",
    "email.not_sysadmin": "E-postadressen tillhör ingen systemadministratör",
    "email.ambiguous": "E-postadressen liknar flera registrerade",
    "email.unregistered": "E-postadressen är inte registrerad",
    "email.unchecked": "E-postadressen kan inte kontrolleras",
    "pdf.digital": "Ifylld digitalt",
    "pdf.field_unclear": "PDF-fältet stämmer inte med det som syns",
    "pdf.text_box": "En textruta ligger över blanketten",
    # The registry
    "client.unknown": "Klienten finns inte i registret",
    "subscription.unknown": "Abonnemanget finns inte i registret",
    "subscription.mismatch": "Abonnemanget hör inte till klienten",
    "firm.unknown": "Byrån finns inte i registret",
    "firm.kind_mismatch": "Byrån är av fel slag",
    "firm.same_company": "Byrån och klienten är samma företag",
    "connection.exists": "Byrån är redan kopplad till klienten",
    "connection.missing": "Byrån och företaget är inte kopplade",
    "connection.current_missing": "Nuvarande byrå är inte kopplad till klienten",
    # Signatures
    "signature.missing": "En underskrift saknas",
    "signature.unsure": "Osäkert om det finns en underskrift",
    "signatory.matched": "Den som skrivit under finns i registret",
    "signatory.uncertain": "Den som skrivit under känns inte säkert igen",
    "signatory.not_authorised": "Den som skrivit under får inte teckna för företaget",
    "signatory.name_missing": "Namnförtydligande saknas",
    "signatory.role_mismatch": "Den som skrivit under har en annan roll",
    "signatory.name_characters": "Namnförtydligandet har tecken som inget namn har",
    "signatory.unchecked": "Den som skrivit under kan inte kontrolleras",
    "esign.valid": "Giltig digital underskrift",
    "esign.invalid": "Den digitala underskriften är ogiltig",
    "esign.modified": "Filen ändrades efter den digitala underskriften",
    "esign.untrusted": "Den digitala underskriften kommer från en okänd utfärdare",
    "esign.expired": "Certifikatet för den digitala underskriften har gått ut",
    "esign.revoked": "Certifikatet för den digitala underskriften är spärrat",
    "esign.not_signatory": "Den som skrev under digitalt är ingen behörig firmatecknare",
    "date.missing": "Underskriften saknar datum",
    "date.unreadable": "Datumet kunde inte läsas",
    "date.future": "Datumet ligger i framtiden",
    "date.too_old": "Datumet är för gammalt",
    "date.before_issue": "Datumet är före utfärdandet",
    # What the back office did
    "review.keyed": "Inskrivet av en granskare",
    "review.joined": "Sammanslaget med ett annat ärende",
    "review.split": "Uppdelat från ett annat ärende",
    "customer.replied": "Kunden har kompletterat",
}


def finding_label(code: str) -> str:
    """The Swedish label of `code`; the code itself only for one nobody has labelled yet."""
    return FINDING_LABELS.get(code, code)
