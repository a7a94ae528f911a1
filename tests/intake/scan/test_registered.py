"""E-mail addresses against the firm's registered ones, and ranked candidates for names.

`match_email` on its own first (the rule and its bounds), then `resolve` on the
sample registry (SQLite and PostgreSQL), then the candidates' way out: the
JSON, the queue's rows and the reviewer's page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from sqlmodel import Session, select

from forms import FormKind, form_spec
from intake.scan.model import Candidate, DocumentResult, FieldReading, Severity
from intake.scan.naming import ocr_distance, ocr_distance_parts
from intake.scan.pipeline import FileResult, document_json, to_new_submissions
from intake.scan.registered import Registered, match_email, resolve
from registry import RoleKind
from tests.review.test_pages import (
    Site,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import SubmissionField, enqueue

NO_CROP = np.full((4, 4), 255, np.uint8)
DOMAIN = "lapplandsredovisningsbyra.example"
SYSADMIN = frozenset({RoleKind.SYSADMIN})
# Lapplands Redovisningsbyrå AB in samples/registry.json: Ingrid Sundberg is its system
# administrator, Karl Svensson firmatecknare (and consultant), three more consultants.
LAPPLANDS = "556884-8260"
INGRID = f"ingrid.sundberg@{DOMAIN}"
KARL = f"karl.svensson@{DOMAIN}"


def firm(*locals_: str, domain: str = DOMAIN) -> list[Registered]:
    return [Registered(f"{local}@{domain}", local.title(), SYSADMIN) for local in locals_]


LAPPLANDS_STAFF = firm("ingrid.sundberg", "karl.svensson", "nils.lindberg", "ulrika.oberg",
                       "gustav.lundberg")


def taken(read: str, registered: list[Registered], raw: str | None = None) -> str | None:
    found = match_email((raw if raw is not None else read, read), registered).taken
    return found.address if found else None


# -- the rule ------------------------------------------------------------------------------

def test_an_exact_registered_address_is_taken() -> None:
    assert taken(INGRID, LAPPLANDS_STAFF) == INGRID


def test_a_letter_lost_beside_the_at_is_one_edit_and_the_address_is_taken() -> None:
    # The "@" cannot swallow the "g": it is paid for as a letter of the local part.
    assert ocr_distance(f"ingrid.sundber@{DOMAIN}", INGRID) == 1.0
    assert taken(f"ingrid.sundber@{DOMAIN}", LAPPLANDS_STAFF) == INGRID
    # What Tesseract gave: "@" read as "e" after the "g"; nothing is lost at all.
    assert taken(f"ingrid.sundber@{DOMAIN}", LAPPLANDS_STAFF,
                 raw=f"ingrid.sundberge{DOMAIN}") == INGRID
    assert ocr_distance(f"ingrid.sundberge{DOMAIN}", INGRID, stand_ins={"@": "e"}) == 0.25


def test_a_doubled_letter_is_half_an_edit() -> None:
    assert ocr_distance(f"ingrid.sundbergg@{DOMAIN}", INGRID) == 0.5
    assert taken(f"ingrid.sundbergg@{DOMAIN}", LAPPLANDS_STAFF) == INGRID
    # Doubled across the "@" is not a doubled letter: a letter added to the domain.
    assert ocr_distance(f"ingrid.sundberg@g{DOMAIN}", INGRID) == 1.0


def test_a_misread_domain_costs_its_confusable_characters() -> None:
    read = "ingrid.sundberg@1applandsredovisningsbyra.exarnple"  # l as 1, m as rn
    assert ocr_distance(read, INGRID) == 0.5
    assert taken(read, LAPPLANDS_STAFF) == INGRID
    # A different letter is a whole edit: three of them in a long domain are a hand's
    # slips, not another domain (a quarter of its length may go); in the local part, where
    # the firm's people differ, they are past the bound.
    far = "ingrid.sundberg@lapplandsredovisningsbyxz.exbmple"
    assert ocr_distance_parts(far, INGRID) == (0.0, 3.0)
    assert taken(far, LAPPLANDS_STAFF) == INGRID
    assert taken(f"ingxid.sunbxerg@{DOMAIN}", LAPPLANDS_STAFF) is None
    # A short domain has no such room: another domain is not the firm's.
    assert taken("ingrid.sundberg@gmail.com", firm("ingrid.sundberg", domain="byran.se")) is None
    assert taken("ingrid.sundberg@bryan.se", firm("ingrid.sundberg", domain="byran.se")
                 ) == "ingrid.sundberg@byran.se"


def test_the_parts_of_an_address_add_up_to_its_distance() -> None:
    for read in (f"ingrid.sundber@{DOMAIN}", f"ingrid.sundbergg@{DOMAIN}",
                 "ingrid.sundberg@1applandsredovisningsbyra.exarnple", f"karl.svensson@{DOMAIN}"):
        local, domain = ocr_distance_parts(read, INGRID)
        assert local + domain == ocr_distance(read, INGRID)
    # A letter lost before the "@" is the local part's, one added after it the domain's.
    assert ocr_distance_parts(f"ingrid.sundber@{DOMAIN}", INGRID) == (1.0, 0.0)
    assert ocr_distance_parts(f"ingrid.sundberg@g{DOMAIN}", INGRID) == (0.0, 1.0)
    assert ocr_distance_parts("anna", "anna") == (0.0, 0.0)


def test_two_registered_addresses_near_each_other_are_never_chosen_between() -> None:
    staff = firm("erik.berg", "erik.borg", "anna.lund")
    # One edit from both: neither is clearly it.
    assert taken(f"erik.b3rg@{DOMAIN}", staff) is None
    match = match_email((f"erik.b3rg@{DOMAIN}",), staff)
    assert {r.address.split("@")[0] for _d, r in match.close} == {"erik.berg", "erik.borg"}
    # Read exactly as one of them, the other is still only one edit away: not taken either.
    assert taken(f"erik.berg@{DOMAIN}", staff) is None
    assert taken(f"anna.lund@{DOMAIN}", staff) == f"anna.lund@{DOMAIN}"


def test_an_address_that_is_none_of_the_firms_is_not_taken() -> None:
    assert taken("info@lapplands.se", LAPPLANDS_STAFF) is None
    assert taken(f"ingrid.sundberg@{DOMAIN}", firm("ingrid.sundberg", domain="other.example")
                 ) is None


def test_equally_near_a_system_administrator_ranks_first() -> None:
    consultant = Registered(f"eva.ek@{DOMAIN}", "Eva Ek", frozenset({RoleKind.CONSULTANT}))
    admin = Registered(f"eva.ok@{DOMAIN}", "Eva Ok", SYSADMIN)
    match = match_email((f"eva.ak@{DOMAIN}",), [consultant, admin])
    assert [r for _d, r in match.ranked] == [admin, consultant] and match.taken is None


# -- against the sample registry -----------------------------------------------------------

DUAL = {
    "client_name": "Sjöberg Fastigheter AB",
    "client_orgnr": "556969-4408",
    "client_subscription": "10040582",
    "client_signatory_name": "Karin Åberg",
    "client_signatory_role": "firmatecknare",
    "current_firm_name": "Janssons Redovisningsbyrå AB",
    "current_firm_orgnr": "559245-9605",
    "current_firm_role": "accounting",
    "new_firm_name": "Lapplands Redovisningsbyrå AB",
    "new_firm_orgnr": LAPPLANDS,
    "new_firm_role": "accounting",
    "new_firm_email": INGRID,
    "new_firm_signatory_name": "Ingrid Sundberg",
}


def readings(values: Mapping[str, str], raw: Mapping[str, str] | None = None,
             confidence: float = 0.3) -> dict[str, FieldReading]:
    return {f.name: FieldReading(f.name, values.get(f.name, ""),
                                 (raw or {}).get(f.name, values.get(f.name, "")),
                                 confidence, NO_CROP)
            for f in form_spec(FormKind.DUAL).fields}


def resolved(session: Session, values: Mapping[str, str], *, raw: Mapping[str, str] | None = None,
             issued: Mapping[str, str] | None = None
             ) -> tuple[dict[str, FieldReading], dict[str, list[tuple[str, Severity, str]]]]:
    fields, findings = resolve(session, FormKind.DUAL, readings(values, raw), issued or {})
    by_field: dict[str, list[tuple[str, Severity, str]]] = {}
    for f in findings:
        by_field.setdefault(f.field or "", []).append((f.code, f.severity, f.message))
    return fields, by_field


def test_a_misread_address_becomes_the_registered_one_and_says_so(session: Session) -> None:
    misread = f"ingrid.sundber@{DOMAIN}"
    fields, found = resolved(session, DUAL | {"new_firm_email": misread},
                             raw={"new_firm_email": f"ingrid.sundberge{DOMAIN}"})
    email = fields["new_firm_email"]
    assert email.value == INGRID and email.raw == f"ingrid.sundberge{DOMAIN}"
    assert email.confidence >= 0.9 and email.candidates == ()
    [(code, severity, message)] = found["new_firm_email"]
    assert code == "email.registered" and severity is Severity.INFO
    assert f"lästes ”{misread}”" in message and f"registrerad adress ”{INGRID}” används" in message


def test_an_exact_address_needs_no_finding(session: Session) -> None:
    fields, found = resolved(session, DUAL)
    assert fields["new_firm_email"].value == INGRID and "new_firm_email" not in found
    assert fields["new_firm_email"].confidence >= 0.9


def test_an_address_of_someone_not_system_administrator_is_a_warning(session: Session) -> None:
    fields, found = resolved(session, DUAL | {"new_firm_email": KARL})
    assert fields["new_firm_email"].value == KARL
    assert [(c, s) for c, s, _m in found["new_firm_email"]] == [
        ("email.not_sysadmin", Severity.WARNING)]
    assert "Karl Svensson" in found["new_firm_email"][0][2]


def test_an_unregistered_address_stays_as_read_with_a_warning(session: Session) -> None:
    fields, found = resolved(session, DUAL | {"new_firm_email": "admin@lapplands.example.se"},
                             raw={})
    email = fields["new_firm_email"]
    assert email.value == "admin@lapplands.example.se"
    assert email.confidence < 0.6
    [(code, severity, message)] = found["new_firm_email"]
    assert code == "email.unregistered" and severity is Severity.WARNING
    assert "Lapplands Redovisningsbyrå AB" in message and "Bekräftelsen" in message
    # The firm's nearest addresses are offered, three at most, nearest first.
    assert len(email.candidates) == 3
    scores = [c.score for c in email.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(c.value.endswith(f"@{DOMAIN}") and c.note for c in email.candidates)


def test_no_firm_no_comparison_and_the_address_is_never_sure(session: Session) -> None:
    values = DUAL | {"new_firm_orgnr": "", "new_firm_email": "x@y.example"}
    fields, findings = resolve(session, FormKind.DUAL, readings(values, confidence=0.95), {})
    email = fields["new_firm_email"]
    assert email.value == "x@y.example" and email.confidence < 0.6 and email.candidates == ()
    [f] = [f for f in findings if f.field == "new_firm_email"]
    assert (f.code, f.severity) == ("email.unchecked", Severity.WARNING)
    assert "”x@y.example” kan inte kontrolleras" in f.message
    assert "”Byrån som ska kopplas: organisationsnummer”" in f.message


def test_a_misread_firm_number_leaves_the_address_as_read_with_its_candidates(
        session: Session) -> None:
    # One letter lost beside the "@", and the firm's number misread (fails its check).
    misread = INGRID.replace("sundberg@", "sundber@")
    values = DUAL | {"new_firm_orgnr": "559043-7257", "new_firm_email": misread}
    fields, findings = resolve(session, FormKind.DUAL, readings(values, confidence=0.95), {})
    email = fields["new_firm_email"]
    assert email.value == misread  # the firm is not known, so nothing is taken
    assert email.confidence < 0.6
    assert email.candidates and email.candidates[0].value == INGRID
    assert "Lapplands Redovisningsbyrå AB" in email.candidates[0].note
    assert [f.code for f in findings if f.field == "new_firm_email"] == ["email.unchecked"]


def test_signatory_candidates_are_the_signers_ranked(session: Session) -> None:
    fields, _ = resolved(session, DUAL | {"client_signatory_name": "Karin Aberq"})
    cands = fields["client_signatory_name"].candidates
    assert cands and cands[0].value == "Karin Åberg"
    assert "firmatecknare" in cands[0].note and "systemadministratör" in cands[0].note
    assert len(cands) <= 3 and [c.score for c in cands] == sorted(
        (c.score for c in cands), reverse=True)
    # The value itself is what was read: a candidate is never taken.
    assert fields["client_signatory_name"].value == "Karin Aberq"
    # A firm's signers are its system administrators only.
    fields, _ = resolved(session, DUAL | {"new_firm_signatory_name": "Karl Svensson"})
    assert [c.value for c in fields["new_firm_signatory_name"].candidates] == ["Ingrid Sundberg"]


def test_company_name_candidates_on_a_blank_form(session: Session) -> None:
    # The number unreadable: the clients most like the name, three at most.
    fields, _ = resolved(session, DUAL | {"client_orgnr": "55696?-4408",
                                          "client_name": "Sjöberg Fastiheter AB"})
    cands = fields["client_name"].candidates
    assert cands[0] == Candidate("Sjöberg Fastigheter AB", cands[0].score, "556969-4408")
    assert 1 <= len(cands) <= 3 and cands[0].score > 0.9
    assert fields["client_name"].value == "Sjöberg Fastiheter AB"
    # The number names another company: its kind's companies are ranked too.
    fields, _ = resolved(session, DUAL | {"new_firm_name": "Lapplands Redovisningsbyra AB"})
    assert fields["new_firm_name"].candidates == ()  # an OCR slip of the registry's name
    fields, _ = resolved(session, DUAL | {"new_firm_name": "Janssons Redovisningsbyrå"})
    assert fields["new_firm_name"].candidates[0].value == "Janssons Redovisningsbyrå AB"
    # Printed on the form: compared with what was issued, not ranked.
    fields, _ = resolved(session, DUAL | {"client_orgnr": ""},
                         issued={"client_name": "Sjöberg Fastigheter AB"})
    assert fields["client_name"].candidates == ()


# -- out to the JSON, the queue and the reviewer -------------------------------------------

def test_candidates_reach_the_json_the_queue_and_the_reviewers_page(site: Site) -> None:
    with site.session() as s:
        values = DUAL | {"client_signatory_name": "Karin Aberq",
                         "new_firm_email": "admin@lapplands.example.se"}
        fields, findings = resolve(s, FormKind.DUAL, readings(values), {})
    doc = DocumentResult(kind=FormKind.DUAL, form_id=None, fields=fields, findings=findings)
    shaped = document_json(doc)["fields"]
    assert isinstance(shaped, dict)
    signer = shaped["client_signatory_name"]["candidates"]
    assert signer[0]["value"] == "Karin Åberg" and len(signer) <= 3
    assert len(shaped["new_firm_email"]["candidates"]) == 3
    assert shaped["client_orgnr"]["candidates"] == []

    result = FileResult("test.pdf", "0" * 64, [doc], {}, {}, [])
    [new] = to_new_submissions(result, source_kind="file")
    with site.session() as s:
        submission = enqueue(s, site.images, new)
        s.commit()
        sid = submission.id
        rows = {f.name: f for f in s.exec(
            select(SubmissionField).where(SubmissionField.submission_id == sid))}
    stored = rows["client_signatory_name"].candidates
    assert stored is not None and stored[0]["value"] == "Karin Åberg"
    assert stored[0]["note"] == "firmatecknare, systemadministratör"
    assert rows["client_orgnr"].candidates is None

    html = site.logged_in("alice").get(f"/granskning/{sid}").text
    offers = re.search(r'<div class="offers" id="offers-client_signatory_name">(.*?)</div>',
                       html, re.S)
    assert offers is not None
    score = round(fields["client_signatory_name"].candidates[0].score * 100)
    assert (f'data-value="Karin Åberg">1 Karin Åberg (firmatecknare, systemadministratör, '
            f'{score} %)</button>') in offers.group(1)
    assert offers.group(1).startswith("Förslag:")
    # Keys 1-3 in a name field; not in an e-mail field, where a digit may be typed.
    name_input = re.search(r'<input id="field-client_signatory_name"[^>]*>', html)
    email_input = re.search(r'<input id="field-new_firm_email"[^>]*>', html)
    assert name_input and 'data-offer-keys="1"' in name_input.group(0)
    assert email_input and "data-offer-keys" not in email_input.group(0)
    assert 'id="offers-new_firm_email"' in html
    assert 'id="offers-client_orgnr"' not in html
