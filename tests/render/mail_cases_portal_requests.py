"""Sample contexts, subjects and required phrases of the customer pages' requests mails."""

from __future__ import annotations

import datetime as dt

CLIENT: dict[str, object] = {"client_name": "Nyström Musik AB", "client_orgnr": "556200-0019"}
FIRM: dict[str, object] = {"firm_name": "Berg & Dal Redovisning AB", "firm_orgnr": "559100-0012"}
SENT = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)  # 10:00 in Sweden
LINK = "https://kopplingar.example.se/mina-sidor/forfragan/Zm9vYmFy"
FORM_URL = "https://kopplingar.example.se/"

REQUEST = CLIENT | FIRM | {
    "kind": "disconnect",
    "name": "Sara Nyström",
    "role": "accounting",
    "requester_name": "Anna Berg",
    "payer_from": dt.date(2027, 1, 1),
    "link": LINK,
    "days": 7,
    "valid_until": UNTIL,
    "admins": 2,
}

CONTEXTS: dict[str, dict[str, object]] = {
    "digital_request": REQUEST,
    "digital_declined": CLIENT | {
        "kind": "disconnect",
        "firm_name": FIRM["firm_name"],
        "requested_at": SENT,
        "decided_at": SENT + dt.timedelta(days=1),
        "form_url": FORM_URL,
    },
    "digital_withdrawn": FIRM | {
        "kind": "disconnect",
        "client_name": CLIENT["client_name"],
        "requested_at": SENT,
    },
    "invitation_request": CLIENT | FIRM | {
        "name": "Gustav Lindqvist",
        "inviter_name": "Anna Berg",
        "invitee_name": "Maja Lindqvist",
        "invitee_email": "maja@lindqvistbygg.example",
        "link": "https://kopplingar.example.se/mina-sidor/inbjudan/YmFyYmF6",
        "days": 7,
        "valid_until": UNTIL,
    },
    "invitation_welcome": CLIENT | {
        "name": "Maja Lindqvist",
        "firm_name": FIRM["firm_name"],
        "sign_in_url": "https://kopplingar.example.se/mina-sidor/logga-in",
    },
    "invitation_confirmed": {
        "client_name": CLIENT["client_name"],
        "invitee_name": "Maja Lindqvist",
        "next_url": "https://kopplingar.example.se/mina-sidor/byra/559100-0012/klienter/"
        "556200-0019/koppla-bort",
    },
    "invitation_declined": {
        "client_name": CLIENT["client_name"],
        "invitee_name": "Maja Lindqvist",
        "form_url": FORM_URL,
    },
}  # fmt: skip

MUST_SAY: dict[str, list[str]] = {
    "digital_request": [
        "Hej Sara Nyström!\n\nBerg & Dal Redovisning AB (559100-0012) vill koppla bort "
        "Nyström Musik AB (556200-0019) från byrån. Förfrågan skickades av Anna Berg, "
        "systemadministratör på byrån.",
        "- kopplingen till byrån som redovisningsbyrå upphör i dag",
        "- byråns konsulter når inte längre företagets program",
        "från och med den 1 januari 2027 tar företaget över abonnemanget och betalningsansvaret",
        f"godkänna eller avböja den:\n\n{LINK}\n",
        "gäller i 7 dagar, till den 10 december 2026 klockan 10:00. Ingenting ändras förrän "
        "någon godkänner.",
        "Båda systemadministratörerna hos företaget har fått samma förfrågan; det räcker att en "
        "av er svarar.",
    ],
    "digital_declined": [
        "Nyström Musik AB (556200-0019) har avböjt förfrågan om bortkoppling som Berg & Dal "
        "Redovisning AB skickade den 3 december 2026. Den avböjdes den 4 december 2026, och "
        "ingenting har ändrats.",
        f"Blanketten Bortkoppling, som både företaget och byrån skriver under, finns på {FORM_URL}",
    ],
    "digital_withdrawn": [
        "Berg & Dal Redovisning AB (559100-0012) har dragit tillbaka förfrågan om bortkoppling "
        "för Nyström Musik AB som skickades den 3 december 2026.",
        "Länken i det tidigare mejlet fungerar inte längre, och ingenting har ändrats.",
    ],
    "invitation_request": [
        "Hej Gustav Lindqvist!\n\nAnna Berg på Berg & Dal Redovisning AB (559100-0012) vill att "
        "Maja Lindqvist (maja@lindqvistbygg.example) blir systemadministratör för Nyström Musik "
        "AB (556200-0019).",
        "eftersom du är firmatecknare för företaget",
        "Ingen blir systemadministratör förrän en firmatecknare har bekräftat.",
        "https://kopplingar.example.se/mina-sidor/inbjudan/YmFyYmF6\n",
        "till den 10 december 2026 klockan 10:00",
    ],
    "invitation_welcome": [
        "Hej Maja Lindqvist!\n\nFöretagets firmatecknare har bekräftat att du är "
        "systemadministratör för Nyström Musik AB (556200-0019). Berg & Dal Redovisning AB bad "
        "om det.",
        "utan lösenord: https://kopplingar.example.se/mina-sidor/logga-in",
    ],
    "invitation_confirmed": [
        "En firmatecknare för Nyström Musik AB har bekräftat inbjudan: Maja Lindqvist är nu "
        "företagets systemadministratör.",
        "Nu kan du skicka förfrågan om bortkoppling digitalt: https://kopplingar.example.se/"
        "mina-sidor/byra/559100-0012/klienter/556200-0019/koppla-bort",
    ],
    "invitation_declined": [
        "En firmatecknare för Nyström Musik AB har avböjt inbjudan av Maja Lindqvist som "
        "systemadministratör. Ingenting har ändrats.",
        f"skriver under: {FORM_URL}",
    ],
}

SUBJECTS: dict[str, str] = {
    "digital_request": "Förfrågan om bortkoppling från Berg & Dal Redovisning AB",
    "digital_declined": "Nyström Musik AB avböjde bortkopplingen",
    "digital_withdrawn": "Berg & Dal Redovisning AB har dragit tillbaka sin förfrågan",
    "invitation_request": "Bekräfta en ny systemadministratör för Nyström Musik AB",
    "invitation_welcome": "Du är nu systemadministratör för Nyström Musik AB",
    "invitation_confirmed": "Nyström Musik AB har en systemadministratör",
    "invitation_declined": "Inbjudan till Nyström Musik AB avböjdes",
}
