"""Swedish mail templates: every template with a full context, one-line subjects, clean bodies."""

from __future__ import annotations

import datetime as dt

import pytest

from render import RenderError
from render.mail import datum, mail_templates, one_line, render_mail, sidor
from tests.render import (
    mail_cases_portal_grants,
    mail_cases_portal_requests,
    mail_cases_portal_signin,
)

RECEIVED = dt.datetime(2025, 3, 3, 23, 30, tzinfo=dt.UTC)  # 4 March in Sweden
FORM_URL = "https://kopplingar.example.se/blanketter"
MAILBOX = "kopplingar@example.se"


def receipt_context(**changes: object) -> dict[str, object]:
    return {
        "reference": "M-41",
        "received_at": RECEIVED,
        "attachments": 5,
        "mailbox": MAILBOX,
        "queued": [
            {
                "number": 1,
                "type": "PDF",
                "forms": [
                    {
                        "kind": "dual",
                        "form_id": "7K3QX9P2MD",
                        "pages": [0],
                        "digital_signatures": ["valid", "not_signatory"],
                    },
                    {"kind": "disconnect", "form_id": None, "pages": [1, 2]},
                ],
            },
            {
                "number": 2,
                "type": "JPEG-bild",
                "forms": [{"kind": None, "form_id": None, "pages": [0]}],
            },
        ],
        "unreadable": [
            {"number": 3, "type": "JPEG-bild", "reason": "Bilden är för suddig för att läsas."}
        ],
        "duplicates": [{"number": 4, "type": "PDF", "received_on": dt.date(2025, 2, 28)}],
        "skipped": [{"number": 5, "type": "zip-fil", "reason": "Vi öppnar inte zip-filer."}],
        "review_days": 2,
        "form_url": FORM_URL,
    } | changes


CONTEXTS: dict[str, dict[str, object]] = {
    "receipt": receipt_context(),
    "no_attachment": {
        "reference": "M-42",
        "received_at": RECEIVED,
        "mailbox": MAILBOX,
        "form_url": FORM_URL,
    },
    "message_rejected": {
        "reference": "M-43",
        "received_at": RECEIVED,
        "mailbox": MAILBOX,
        "reason": "Mejlet är 48 MB, och vi tar emot högst 25 MB.",
        "max_size_mb": 25,
        "max_files": 20,
        "form_url": FORM_URL,
    },
}

# What each mail must say, in the customer's words.
MUST_SAY = {
    "receipt": [
        "Hej!",
        "Tack för ditt mejl till kopplingar@example.se som kom in den 4 mars 2025.",
        "Vårt referensnummer för det är M-41",
        "Det hade 5 bifogade filer",
        "Bilaga 1 (PDF)\n- Dubbelsammankoppling, blankett-id 7K3Q-X9P2-MD, sida 1\n"
        "  Digital signatur: giltig, och den som signerade får skriva under för företaget.\n"
        "  Digital signatur: giltig, men den som signerade får inte skriva under för företaget "
        "enligt vårt register.\n"
        "- Bortkoppling, utan blankett-id, sidorna 2–3",
        "Bilaga 2 (JPEG-bild)\n- Blankett av okänd sort, utan blankett-id, sida 1",
        "- Bilaga 3 (JPEG-bild): Bilden är för suddig för att läsas.",
        "200–300 dpi",
        "alla fyra hörnmarkeringarna syns",
        "PDF eller JPEG till kopplingar@example.se",
        "- Bilaga 4 (PDF): redan mottagen den 28 februari 2025",
        "Du behöver inte skicka den igen.",
        "- Bilaga 5 (zip-fil): Vi öppnar inte zip-filer.",
        "oftast inom 2 arbetsdagar",
        "Du får ett mejl när ändringen är genomförd, eller om något behöver rättas.",
        FORM_URL,
    ],
    "no_attachment": [
        "Ditt mejl till kopplingar@example.se den 4 mars 2025 (vårt referensnummer M-42)",
        "ingen skannad blankett bifogad",
        "som PDF eller bild",
        "200–300 dpi",
        f"förifylld blankett på {FORM_URL}",
    ],
    "message_rejected": [
        "Vi kunde tyvärr inte ta emot ditt mejl till kopplingar@example.se den 4 mars 2025 "
        "(vårt referensnummer M-43).",
        "Mejlet är 48 MB, och vi tar emot högst 25 MB.",
        "högst 20 filer och högst 25 MB i varje mejl",
        "inte i en zip-fil",
        FORM_URL,
    ],
}

SUBJECTS = {
    "receipt": "Vi har tagit emot ditt mejl (M-41)",
    "no_attachment": "Ingen blankett bifogad (M-42)",
    "message_rejected": "Vi kunde inte ta emot ditt mejl (M-43)",
}

HOSTILE = [
    "Hej\r\nBcc: evil@example.com",
    "Hej\nX-Injected: 1",
    "Hej\u2028Bcc: evil@example.com",
    "Hej\x00\x1b[31m\x7f\u202edold",
    "\r\n\r\n",
    "Å" * 1000,
]


# The customer pages' mails keep their cases beside their own tests.
for _cases in (mail_cases_portal_signin, mail_cases_portal_requests, mail_cases_portal_grants):
    CONTEXTS.update(_cases.CONTEXTS)
    MUST_SAY.update(_cases.MUST_SAY)
    SUBJECTS.update(_cases.SUBJECTS)


def test_every_template_has_a_test_context() -> None:
    assert mail_templates() == sorted(CONTEXTS)


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_template_renders_natural_swedish(template: str) -> None:
    mail = render_mail(template, CONTEXTS[template])
    assert mail.subject == SUBJECTS[template]
    for text in MUST_SAY[template]:
        assert text in mail.body
    assert mail.body.endswith("Vänliga hälsningar\nKundservice, kopplingar\n")
    assert "\n\n\n" not in mail.body
    assert all(line == line.rstrip() for line in mail.body.split("\n"))


@pytest.mark.parametrize("template", sorted(CONTEXTS))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_subject_is_one_clean_line_whatever_the_context(template: str, hostile: str) -> None:
    mail = render_mail(template, CONTEXTS[template] | {"original_subject": hostile})
    assert mail.subject.isprintable()  # no CR, LF, NUL, escape or bidi override
    assert mail.subject == " ".join(mail.subject.split())
    assert len(mail.subject) <= 200
    assert mail.subject == SUBJECTS[template]  # the sender's subject is never echoed
    for line in mail.body.split("\n"):
        assert not line.startswith(("Bcc", "X-Injected")), line
        assert line.isprintable()


SPAM = "Vinn pengar http://evil.example"


@pytest.mark.parametrize("template", ["receipt", "no_attachment", "message_rejected"])
def test_automatic_replies_quote_nothing_the_sender_wrote(template: str) -> None:
    # Whatever a caller slips in under the old keys, the automatic mails print none of it.
    context = CONTEXTS[template] | {"original_subject": SPAM, "subject": SPAM, "file": SPAM}
    if template == "receipt":
        context["queued"] = [
            {"number": 1, "type": "PDF", "file": SPAM, "forms": [{"kind": "dual",
             "form_id": None, "pages": [0]}]}
        ]  # fmt: skip
    mail = render_mail(template, context)
    assert "evil" not in mail.subject and "evil" not in mail.body
    assert "Vinn pengar" not in mail.subject + mail.body


def test_our_own_reasons_in_the_body_stay_on_their_line() -> None:
    context = receipt_context(
        skipped=[{"number": 5, "type": "zip-fil", "reason": "Öppnas inte.\r\nBcc: x" + "x" * 500}],
    )
    body = render_mail("receipt", context).body
    assert "Öppnas inte. Bcc: x" in body
    assert not any(line.startswith("Bcc") for line in body.split("\n"))
    assert max(len(line) for line in body.split("\n")) < 450


def test_receipt_without_queued_forms_promises_no_review() -> None:
    body = render_mail(
        "receipt",
        receipt_context(
            queued=[],
            duplicates=[],
            skipped=[],
            unreadable=[
                {"number": 1, "type": "JPEG-bild", "reason": "Sidan är tom."},
                {"number": 2, "type": "JPEG-bild", "reason": "Hörnmarkeringarna syns inte."},
            ],
        ),
    ).body
    assert "väntar på granskning" not in body
    assert "Vad händer nu?" not in body
    assert "skicka dem som PDF eller JPEG" in body
    assert FORM_URL in body


def test_receipt_counts_in_singular() -> None:
    body = render_mail(
        "receipt",
        receipt_context(
            queued=[
                {
                    "number": 1,
                    "type": "PDF",
                    "forms": [{"kind": "dual", "form_id": None, "pages": [3]}],
                }
            ],
            attachments=1,
            review_days=1,
            received_at=None,
            unreadable=[],
            duplicates=[],
            skipped=[],
        ),
    ).body
    assert "Tack för ditt mejl till kopplingar@example.se. Vårt referensnummer" in body
    assert "Det hade en bifogad fil, och här är vad vi hittade." in body
    assert "kontrollerar blanketten, oftast inom 1 arbetsdag." in body
    assert "sida 4" in body


def test_message_rejected_without_a_file_limit() -> None:
    body = render_mail("message_rejected", CONTEXTS["message_rejected"] | {"max_files": None}).body
    assert "- Skicka högst 25 MB i varje mejl." in body
    assert "filer" not in body.split("- Skicka")[1].split("\n")[0]


def test_a_missing_context_key_is_named() -> None:
    context = dict(CONTEXTS["receipt"])
    del context["review_days"]
    with pytest.raises(RenderError, match="review_days"):
        render_mail("receipt", context)


@pytest.mark.parametrize("name", ["nonexistent", "../templates/base", "_layout", "Receipt", ""])
def test_only_existing_mail_templates_render(name: str) -> None:
    with pytest.raises(RenderError):
        render_mail(name, CONTEXTS["receipt"])


def test_swedish_dates() -> None:
    assert datum(dt.date(2025, 12, 31)) == "31 december 2025"
    assert datum(dt.datetime(2025, 6, 30, 22, 30, tzinfo=dt.UTC)) == "1 juli 2025"  # CEST
    assert datum(dt.datetime(2025, 1, 31, 22, 30, tzinfo=dt.UTC)) == "31 januari 2025"  # CET
    with pytest.raises(RenderError, match="naive"):
        datum(dt.datetime(2025, 1, 1, 12, 0))


@pytest.mark.parametrize(
    ("pages", "text"),
    [
        ([0], "sida 1"),
        ([2, 1], "sidorna 2–3"),
        ([0, 2, 3], "sidorna 1, 3 och 4"),
        ([0, 2], "sidorna 1 och 3"),
        ([], ""),
    ],
)
def test_page_lists(pages: list[int], text: str) -> None:
    assert sidor(pages) == text


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("  a\r\n b\t c  ") == "a b c"
    cut = one_line("ord " * 100, 20)
    assert len(cut) <= 20 and cut.endswith("…")


# The decision mails (review.decide): approved for the client and for each firm, rejected.

DECISION_CONTEXTS: dict[str, dict[str, object]] = {
    "approved_client": {
        "kind": "dual",
        "client_name": "Sundberg Snickeri AB",
        "client_orgnr": "559485-5057",
        "firm_name": "Hallands Revisionsbyrå AB",
        "firm_orgnr": "559043-7256",
        "role": "audit",
        "on": dt.date(2026, 3, 14),
        "takeover": False,
        "payer_from": None,
        "form_id": "7K3QX9P2MD",
        "form_url": FORM_URL,
    },
    "approved_firm": {
        "kind": "dual",
        "client_name": "Sundberg Snickeri AB",
        "client_orgnr": "559485-5057",
        "firm_name": "Hallands Revisionsbyrå AB",
        "role": "audit",
        "on": dt.date(2026, 3, 14),
        "payer_from": None,
        "new_firm_name": None,
        "form_id": None,
        "form_url": FORM_URL,
    },
    "rejected": {
        "original_subject": "Dubbelsammankoppling",
        "received_at": RECEIVED,
        "kind": "dual",
        "form_id": "7K3QX9P2MD",
        "client_name": "Sundberg Snickeri AB",
        "reason": "En underskrift saknas. Den nya byrån har inte skrivit under.",
        "form_url": FORM_URL,
    },
}
CONTEXTS.update(DECISION_CONTEXTS)
MUST_SAY.update(
    {
        "approved_client": [
            "Nu har vi kopplat Hallands Revisionsbyrå AB (559043-7256) till Sundberg Snickeri AB "
            "(559485-5057) som revisionsbyrå, från och med den 14 mars 2026.",
            "enligt blanketten Dubbelsammankoppling med blankett-id 7K3Q-X9P2-MD",
            "i byråns klienthantering",
            "Administrera användare",
            "Under Konsulter finns byråns konsulter",
        ],
        "approved_firm": [
            "Nu har vi kopplat klienten Sundberg Snickeri AB (559485-5057) till Hallands "
            "Revisionsbyrå AB som revisionsbyrå, från och med den 14 mars 2026.",
            "Byråns administratör fördelar klienten till konsulterna i byråns klienthantering",
            "markera Sundberg Snickeri AB och spara",
            "ger klientens administratör konsulterna behörighet",
        ],
        "rejected": [
            "Vi har granskat blanketten Dubbelsammankoppling med blankett-id 7K3Q-X9P2-MD för "
            "Sundberg Snickeri AB som du skickade i mejlet ”Dubbelsammankoppling” den 4 mars 2025.",
            "Tyvärr kan vi inte godkänna den, så ingen ändring är gjord.",
            "Det här var fel:\nEn underskrift saknas. Den nya byrån har inte skrivit under.\n",
            f"förifylld blankett på {FORM_URL}",
            "klientens firmatecknare eller systemadministratör och systemadministratören på byrån",
            "200–300 dpi",
        ],
    }
)
SUBJECTS.update(
    {
        "approved_client": (
            "Klart: Hallands Revisionsbyrå AB har kopplats till Sundberg Snickeri AB"
        ),
        "approved_firm": "Klart: Sundberg Snickeri AB har kopplats till Hallands Revisionsbyrå AB",
        "rejected": "Blanketten kunde inte godkännas: Dubbelsammankoppling",
    }
)
DISCONNECTED = {
    "kind": "disconnect",
    "client_name": "Lundgren Optik AB",
    "client_orgnr": "556815-5575",
    "firm_name": "Janssons Redovisningsbyrå AB",
    "firm_orgnr": "559245-9605",
    "role": "accounting",
    "on": dt.date(2026, 3, 31),
    "payer_from": dt.date(2026, 4, 1),
    "form_id": None,
    "form_url": FORM_URL,
}


@pytest.mark.parametrize("template", sorted(DECISION_CONTEXTS))
def test_decision_mail_renders_natural_swedish(template: str) -> None:
    test_template_renders_natural_swedish(template)


@pytest.mark.parametrize("template", sorted(DECISION_CONTEXTS))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_decision_mail_keeps_names_on_their_line(template: str, hostile: str) -> None:
    names = dict.fromkeys(("client_name", "firm_name", "original_subject", "reason"), hostile)
    mail = render_mail(template, DECISION_CONTEXTS[template] | names)
    assert mail.subject.isprintable() and len(mail.subject) <= 200
    assert mail.subject.startswith(SUBJECTS[template].partition(":")[0])
    for line in mail.body.split("\n"):
        assert not line.startswith(("Bcc", "X-Injected")), line
        assert line.isprintable()


def test_approved_disconnect_tells_the_client_from_when_it_pays() -> None:
    mail = render_mail("approved_client", DISCONNECTED | {"takeover": True})
    assert (
        mail.subject
        == "Klart: Lundgren Optik AB har kopplats bort från Janssons Redovisningsbyrå AB"
    )
    assert (
        "Nu har vi kopplat bort Lundgren Optik AB (556815-5575) från Janssons Redovisningsbyrå AB "
        "(559245-9605), från och med den 31 mars 2026." in mail.body
    )
    assert "Från och med den 1 april 2026 tar företaget över abonnemanget" in mail.body
    assert "blankett-id" not in mail.body
    unchanged = render_mail(
        "approved_client", DISCONNECTED | {"takeover": True, "payer_from": None}
    )
    assert "betalningen ändras inte" in unchanged.body
    access_only = render_mail(
        "approved_client", DISCONNECTED | {"takeover": False, "payer_from": None}
    ).body
    assert "betal" not in access_only


def test_approved_disconnect_tells_the_firm_it_stops_paying() -> None:
    context = {k: v for k, v in DISCONNECTED.items() if k != "firm_orgnr"}
    body = render_mail("approved_firm", context | {"new_firm_name": None}).body
    assert "Klienten finns inte längre i byråns klientlista" in body
    assert "Från och med den 1 april 2026 tar företaget över betalningsansvaret" in body
    assert "Ni behöver inte göra något mer." in body
    assert "klienthantering" not in body
    quiet = render_mail("approved_firm", context | {"new_firm_name": None, "payer_from": None})
    assert "betalningsansvaret" not in quiet.body


def test_approved_dual_to_the_firm_already_connected() -> None:
    mail = render_mail(
        "approved_firm",
        DECISION_CONTEXTS["approved_firm"]
        | {
            "firm_name": "Sifferbalans Redovisning AB",
            "new_firm_name": "Hallands Revisionsbyrå AB",
        },
    )
    assert (
        mail.subject
        == "Klart: Hallands Revisionsbyrå AB har också kopplats till Sundberg Snickeri AB"
    )
    assert "Nu har vi kopplat Hallands Revisionsbyrå AB till er klient Sundberg Snickeri AB" in (
        mail.body
    )
    assert "Er egen koppling till klienten ändras inte." in mail.body
    assert "konsulterna från Hallands Revisionsbyrå AB behörighet" in mail.body


@pytest.mark.parametrize(
    ("kind", "who"),
    [
        ("disconnect", "både företagets firmatecknare eller systemadministratör och byråns"),
        (None, "de personer som blanketten anger"),
    ],
)
def test_rejected_names_who_signs_and_leaves_out_what_is_unknown(
    kind: str | None, who: str
) -> None:
    mail = render_mail(
        "rejected",
        DECISION_CONTEXTS["rejected"]
        | {
            "kind": kind,
            "form_id": None,
            "client_name": None,
            "original_subject": None,
            "received_at": None,
        },
    )
    assert mail.subject == "Blanketten kunde inte godkännas"
    assert "Vi har granskat blanketten" in mail.body
    assert "som du skickade. Tyvärr" in mail.body
    assert "blankett-id" not in mail.body
    assert who in mail.body


# The mails of a case waiting for the customer (review.waiting).
INFO_REQUEST = {
    "case": 17,
    "kind": "dual",
    "form_id": "7K3QX9P2MD",
    "client_name": "Sundberg Snickeri AB",
    "received_at": RECEIVED,
    "reason_code": "signature",
    "party": "systemadministratör på byrån som ska kopplas",
    "reason": "Blanketten saknar underskrift av systemadministratör på byrån som ska kopplas.",
    "note": "Underskriften längst ner till höger saknas.",
    "deadline": dt.date(2025, 3, 14),
    "form_url": FORM_URL,
}
INFO_CONTEXTS: dict[str, dict[str, object]] = {
    "info_request": INFO_REQUEST,
    "info_reminder": INFO_REQUEST | {"asked_at": RECEIVED},
    "info_closed": {
        key: INFO_REQUEST[key]
        for key in ("case", "kind", "form_id", "client_name", "reason", "form_url")
    }
    | {"asked_at": RECEIVED, "reminded_at": dt.datetime(2025, 3, 9, 8, 0, tzinfo=dt.UTC)},
}
CONTEXTS.update(INFO_CONTEXTS)
MUST_SAY.update(
    {
        "info_request": [
            "Vi har börjat granska blanketten Dubbelsammankoppling med blankett-id 7K3Q-X9P2-MD "
            "för Sundberg Snickeri AB som du skickade till oss den 4 mars 2025.",
            "Det här saknas:\nBlanketten saknar underskrift av systemadministratör på byrån som "
            "ska kopplas.\n",
            "Handläggarens kommentar:\nUnderskriften längst ner till höger saknas.\n",
            "Låt systemadministratör på byrån som ska kopplas skriva under blanketten",
            "Svara på det här mejlet, så hamnar ditt svar direkt i ärende 17.",
            "senast den 14 mars 2025",
            "Vi påminner dig en gång innan dess.",
        ],
        "info_reminder": [
            "Den 4 mars 2025 bad vi dig om en komplettering av blanketten Dubbelsammankoppling",
            "Svara på det här mejlet, så hamnar ditt svar direkt i ärende 17.",
            "Det här är den enda påminnelsen.",
            "senast den 14 mars 2025 avslutar vi ärendet",
        ],
        "info_closed": [
            "och den 9 mars 2025 påminde vi dig",
            "så vi har nu avslutat ärende 17. Ingen ändring är gjord.",
            f"förifylld blankett på {FORM_URL}",
        ],
    }
)
SUBJECTS.update(
    {
        "info_request": "Komplettering behövs: ärende 17, blankett 7K3Q-X9P2-MD",
        "info_reminder": "Påminnelse: komplettering behövs för ärende 17, blankett 7K3Q-X9P2-MD",
        "info_closed": "Ärende 17 avslutat: ingen komplettering inkom",
    }
)


@pytest.mark.parametrize("template", sorted(INFO_CONTEXTS))
def test_info_mail_renders_natural_swedish(template: str) -> None:
    test_template_renders_natural_swedish(template)


@pytest.mark.parametrize("reason_code", ["page_unreadable", "value_unclear", "other"])
def test_info_request_says_what_to_send_for_each_reason(reason_code: str) -> None:
    context = INFO_REQUEST | {
        "reason_code": reason_code,
        "party": None,
        "note": None,
        "form_id": None,
        "kind": None,
    }
    mail = render_mail("info_request", context)
    assert mail.subject == "Komplettering behövs: ärende 17"
    assert "Handläggarens kommentar" not in mail.body
    expected = {
        "page_unreadable": "Skanna sidan igen",
        "value_unclear": "Skriv den rätta uppgiften",
        "other": "Bifoga det som saknas",
    }[reason_code]
    assert expected in mail.body


@pytest.mark.parametrize("hostile", HOSTILE)
def test_info_request_keeps_the_reviewers_words_on_their_line(hostile: str) -> None:
    mail = render_mail("info_request", INFO_REQUEST | {"note": hostile, "client_name": hostile})
    for line in mail.body.split("\n"):
        assert not line.startswith(("Bcc", "X-Injected")), line
        assert line.isprintable()


def test_a_joined_reply_is_told_which_case_it_completed() -> None:
    receipt = render_mail("receipt", receipt_context(joined_case=17))
    assert "Vi har lagt det du skickade till ärende 17" in receipt.body
    text_only = render_mail(
        "no_attachment", CONTEXTS["no_attachment"] | {"joined_case": 17, "review_days": 2}
    )
    assert text_only.subject == "Vi har tagit emot ditt svar (M-42)"
    assert "Vi har lagt det till ärende 17" in text_only.body
    assert "ingen skannad blankett" not in text_only.body
