"""Generate the demo registry: fictional Swedish companies, firms, people, connections.

Deterministic (a fixed seed), so the committed samples/registry.json is
reproducible::

    python -m samples.make_registry > samples/registry.json

Every organisationsnummer and personnummer passes the Luhn check, legal
entities have a third digit of 2 or more, every subscription number comes
from `forms.make_subscription_number`. E-mail addresses use the reserved
``.example`` top-level domain, so a demo can never mail a real person.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from forms import luhn_check_digit, make_subscription_number

SEED = 20260112
N_CLIENT_AB = 34
N_CLIENT_HB = 6
N_CLIENT_EF = 5
N_ACCOUNTING = 10
N_AUDIT = 5
LATEST = dt.date(2025, 11, 1)

FIRST_NAMES = (
    "Anna", "Eva", "Maria", "Karin", "Sara", "Lena", "Emma", "Kerstin", "Ingrid", "Malin",
    "Johanna", "Linnéa", "Elin", "Sofia", "Helena", "Åsa", "Ulrika", "Annika", "Frida", "Ida",
    "Lars", "Mikael", "Anders", "Johan", "Erik", "Per", "Karl", "Peter", "Magnus", "Jonas",
    "Fredrik", "Mattias", "Björn", "Henrik", "Oskar", "Gustav", "Nils", "Olof", "Stefan", "Örjan",
)
SURNAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson",
    "Lindberg", "Lindström", "Lindqvist", "Lindgren", "Berg", "Bergström", "Lundberg", "Lundgren",
    "Sandberg", "Forsberg", "Sjöberg", "Wallin", "Engström", "Ekström", "Holm", "Nyström",
    "Åberg", "Hedlund", "Sundberg", "Öberg", "Falk", "Strand", "Björk", "Lund", "Ek",
)
PLACES = (
    "Norrlands", "Mälardalens", "Skånska", "Västkustens", "Dalarnas", "Smålands", "Värmlands",
    "Gotlands", "Roslagens", "Hallands", "Upplands", "Jämtlands", "Bohusläns", "Östgöta",
    "Sörmlands", "Lapplands", "Blekinge", "Ångermanlands", "Medelpads", "Hälsinge",
)
TRADES = (
    "Bygg", "Måleri", "El", "VVS", "Trädgård", "Transport", "Fastigheter", "Konsult", "Design",
    "Café", "Bageri", "Frisör", "Snickeri", "Plåtslageri", "Städ", "Data", "Reklam", "Juridik",
    "Tandvård", "Fiske", "Skog", "Åkeri", "Golv", "Optik", "Blommor", "Cykel", "Mekaniska",
    "Livsmedel", "Hälsa", "Smide", "Textil", "Musik", "Foto", "Bilvård",
)
ACCOUNTING_NAMES = (
    "{place} Redovisningsbyrå AB", "{surname}s Redovisningsbyrå AB",
    "Redovisningsbyrån {place2} AB", "Siffer{trade_word} Redovisning AB",
    "{surname} & {surname2} Redovisningsbyrå AB",
)
AUDIT_NAMES = ("{place} Revisionsbyrå AB", "{surname}s Revisionsbyrå AB", "Revisorerna i {city} AB")
CITIES = ("Umeå", "Luleå", "Sundsvall", "Gävle", "Västerås", "Örebro", "Karlstad", "Växjö",
          "Kalmar", "Halmstad", "Borås", "Jönköping", "Norrköping", "Visby", "Östersund")
TRADE_WORDS = ("kollen", "hjälpen", "kraft", "ordning", "balans")

Row = dict[str, str | None]


@dataclass
class Registry:
    companies: list[Row] = field(default_factory=list)
    subscriptions: list[Row] = field(default_factory=list)
    people: list[Row] = field(default_factory=list)
    roles: list[Row] = field(default_factory=list)
    connections: list[Row] = field(default_factory=list)
    payers: list[Row] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def unique(self, make: Callable[[], str]) -> str:
        """A value from `make` not handed out before (numbers, names, e-mail addresses)."""
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value


def _with_check(body9: str) -> str:
    digits = body9 + luhn_check_digit(body9)
    return f"{digits[:6]}-{digits[6:]}"


def _orgnr(rng: random.Random, prefix: str) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(9 - len(prefix)))
    return _with_check(body)


def _personnummer(rng: random.Random) -> str:
    born = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(40 * 365))
    return _with_check(born.strftime("%y%m%d") + f"{rng.randrange(1000):03d}")


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _month_start(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    months = (last.year - first.year) * 12 + last.month - first.month
    n = rng.randrange(months + 1)
    return dt.date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


class Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.reg = Registry()
        self.serial = 1_000_000 + self.rng.randrange(1000)

    def subscription(self, orgnr: str) -> str:
        self.serial += self.rng.randrange(1, 400)
        number = make_subscription_number(self.serial)
        self.reg.subscriptions.append({"number": number, "orgnr": orgnr})
        return number

    def person(self, domain: str, pnr: str | None = None, name: str | None = None) -> str:
        rng = self.rng
        full = name or f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        first, last = full.split(" ", 1)
        # Mostly first.last; a digit now and then, as when the plain address was taken.
        email = self.reg.unique(
            lambda: f"{_slug(first)}.{_slug(last)}"
            f"{rng.choice(['', '', '', str(rng.randrange(2, 9))])}@{domain}"
        )
        row: Row = {"email": email, "name": full}
        if pnr:
            row["personnummer"] = pnr
        self.reg.people.append(row)
        return email

    def role(self, email: str, orgnr: str, role: str) -> None:
        self.reg.roles.append({"person": email, "company": orgnr, "role": role})

    def company(self, orgnr: str, name: str, kind: str) -> str:
        self.reg.companies.append({"orgnr": orgnr, "name": name, "kind": kind})
        return _slug(name.removesuffix(" AB").removesuffix(" HB")) + ".example"

    def staff_client(self, orgnr: str, domain: str) -> None:
        rng = self.rng
        boss = self.person(domain, pnr=self.reg.unique(lambda: _personnummer(rng)))
        self.role(boss, orgnr, "firmatecknare")
        if rng.random() < 0.5:
            self.role(boss, orgnr, "sysadmin")
        else:
            self.role(self.person(domain), orgnr, "sysadmin")
        if rng.random() < 0.3:
            partner = self.person(domain, pnr=self.reg.unique(lambda: _personnummer(rng)))
            self.role(partner, orgnr, "firmatecknare")
        if rng.random() < 0.25:
            self.role(self.person(domain), orgnr, "program_admin")

    def staff_firm(self, orgnr: str, domain: str) -> list[str]:
        rng = self.rng
        partner = self.person(domain, pnr=self.reg.unique(lambda: _personnummer(rng)))
        self.role(partner, orgnr, "firmatecknare")
        self.role(partner, orgnr, "consultant")
        admin = self.person(domain)
        self.role(admin, orgnr, "sysadmin")
        consultants = [partner]
        for _ in range(rng.randint(2, 4)):
            consultant = self.person(domain)
            self.role(consultant, orgnr, "consultant")
            consultants.append(consultant)
        return consultants

    def firm_name(self, pattern: str) -> str:
        rng = self.rng
        return pattern.format(
            place=rng.choice(PLACES), place2=rng.choice(CITIES), city=rng.choice(CITIES),
            surname=rng.choice(SURNAMES), surname2=rng.choice(SURNAMES),
            trade_word=rng.choice(TRADE_WORDS),
        )

    def trade_name(self, base: str, suffix: str) -> str:
        return f"{base} {self.rng.choice(TRADES)}{suffix}"

    def connect(self, client: str, firm: str, role: str, since: dt.date,
                until: dt.date | None = None) -> None:
        self.reg.connections.append({
            "client": client, "firm": firm, "role": role, "since": since.isoformat(),
            "until": until.isoformat() if until else None,
        })

    def pays(self, subscription: str, payer: str, valid_from: dt.date) -> None:
        self.reg.payers.append(
            {"subscription": subscription, "payer": payer, "from": valid_from.isoformat()}
        )

    def build(self) -> Registry:
        rng, reg = self.rng, self.reg
        accounting: list[str] = []
        audit: list[str] = []
        for i in range(N_ACCOUNTING):
            orgnr = reg.unique(lambda: _orgnr(rng, rng.choice(("556", "559"))))
            pattern = ACCOUNTING_NAMES[i % len(ACCOUNTING_NAMES)]
            name = reg.unique(partial(self.firm_name, pattern))
            self.staff_firm(orgnr, self.company(orgnr, name, "accounting_firm"))
            self.subscription(orgnr)
            accounting.append(orgnr)
        for i in range(N_AUDIT):
            orgnr = reg.unique(lambda: _orgnr(rng, rng.choice(("556", "559"))))
            pattern = AUDIT_NAMES[i % len(AUDIT_NAMES)]
            name = reg.unique(partial(self.firm_name, pattern))
            self.staff_firm(orgnr, self.company(orgnr, name, "audit_firm"))
            self.subscription(orgnr)
            audit.append(orgnr)

        clients: list[tuple[str, str]] = []  # (orgnr, subscription)
        for i in range(N_CLIENT_AB + N_CLIENT_HB + N_CLIENT_EF):
            if i < N_CLIENT_AB:
                orgnr = reg.unique(lambda: _orgnr(rng, rng.choice(("556", "559"))))
                base = rng.choice((rng.choice(SURNAMES), rng.choice(PLACES)))
                name = reg.unique(partial(self.trade_name, base, " AB"))
                domain = self.company(orgnr, name, "client")
                self.staff_client(orgnr, domain)
            elif i < N_CLIENT_AB + N_CLIENT_HB:
                orgnr = reg.unique(lambda: _orgnr(rng, rng.choice(("916", "969"))))
                a, b = rng.sample(SURNAMES, 2)
                name = reg.unique(partial(self.trade_name, f"{a} & {b}", " HB"))
                domain = self.company(orgnr, name, "client")
                self.staff_client(orgnr, domain)
            else:
                # Enskild firma: the owner's personnummer is the company's number.
                pnr = reg.unique(lambda: _personnummer(rng))
                first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
                name = reg.unique(partial(self.trade_name, f"{last}s", ""))
                domain = self.company(pnr, name, "client")
                owner = self.person(domain, pnr=pnr, name=f"{first} {last}")
                self.role(owner, pnr, "firmatecknare")
                self.role(owner, pnr, "sysadmin")
                orgnr = pnr
            clients.append((orgnr, self.subscription(orgnr)))
        for orgnr, _ in rng.sample(clients, 2):
            self.subscription(orgnr)  # a second subscription, for a separate business

        audited: set[str] = set()
        for index, (client, subscription) in enumerate(clients):
            if rng.random() < 0.12:
                continue  # keeps its own books
            firm = rng.choice(accounting)
            since = _month_start(rng, dt.date(2014, 1, 1), LATEST)
            changed = index % 7 == 3 and since.year < 2023
            if changed:
                # Changed firms: the old connection ended when the new one began.
                old = rng.choice([f for f in accounting if f != firm])
                old_since = _month_start(rng, dt.date(2008, 1, 1), since - dt.timedelta(days=400))
                self.connect(client, old, "accounting", old_since, since)
                if rng.random() < 0.6:
                    # The old firm paid; the client took the bill over from the next period.
                    self.pays(subscription, old, old_since)
                    self.pays(subscription, client, _next_month(since))
            self.connect(client, firm, "accounting", since)
            if not changed and rng.random() < 0.35:
                self.pays(subscription, firm, _month_start(rng, since, LATEST))
            if rng.random() < 0.3:
                self.connect(client, rng.choice(audit), "audit",
                             _month_start(rng, dt.date(2016, 1, 1), LATEST))
                audited.add(client)
        # Firms are audited too.
        for firm in rng.sample(accounting, 3):
            self.connect(firm, rng.choice(audit), "audit",
                         _month_start(rng, dt.date(2012, 1, 1), LATEST))
        # One audit engagement that ended and was not replaced.
        client = rng.choice([orgnr for orgnr, _ in clients if orgnr not in audited])
        self.connect(client, rng.choice(audit), "audit", dt.date(2017, 7, 1), dt.date(2022, 6, 30))
        return reg


def registry_document(seed: int = SEED) -> dict[str, list[Row]]:
    reg = Builder(seed).build()
    # Clients first: they are what a person trying the demo pages looks for.
    kinds = {c["orgnr"]: c["kind"] != "client" for c in reg.companies}
    return {
        "companies": sorted(reg.companies, key=lambda c: kinds[c["orgnr"]]),
        "subscriptions": sorted(reg.subscriptions, key=lambda s: kinds[s["orgnr"]]),
        "people": list(reg.people),
        "roles": list(reg.roles),
        "connections": list(reg.connections),
        "payers": list(reg.payers),
    }


def to_json(document: dict[str, list[Row]]) -> str:
    """The document with one record per line: readable, and diffs show whole records."""
    parts = []
    for key, rows in document.items():
        lines = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in rows)
        parts.append(f" {json.dumps(key)}: [\n{lines}\n ]")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    sys.stdout.write(to_json(registry_document()))


if __name__ == "__main__":
    main()
