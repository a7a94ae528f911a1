"""What goes on a simulated form: values from the sample registry, and how people change them.

A value set is everything a complete form would say, signatory names and
roles included, taken from samples/registry.json so that a scan can be
validated against the registry it came from: the client's real subscription
number, a firm it is connected to, a person who may sign for it. The plan
then decides which of these values are printed and which are written by
hand. Values are canonical, as `forms.clean_values` produces them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forms import (
    FieldSpec,
    FieldType,
    FormKind,
    InvalidValue,
    clean_field,
    clean_values,
    form_spec,
    make_subscription_number,
    normalise_form_id,
)
from samples import REGISTRY_JSON

# Crockford base-32, as forms/payload.py draws ids; drawn here from the seeded
# generator instead of `secrets`, so that a corpus is the same for the same seed.
ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SIGNING_ROLES = ("firmatecknare", "sysadmin")
FIRM_KINDS = {"accounting_firm": "accounting", "audit_firm": "audit"}


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    role: str  # firmatecknare or sysadmin at the company in question


@dataclass(frozen=True, slots=True)
class Correction:
    """A printed value taken back and replaced by hand.

    For a number: `style` "rewrite" (struck through, the whole number written
    small above it) or "whiteout" (the digits at `positions`, comb cell
    indices, covered with correction fluid and written anew); `valid` is
    whether `hand_value` passes the field's check, `registered` whether it
    is a number the registry knows. Other fields leave them at their defaults.
    """

    field: str
    printed: str
    hand_value: str
    style: str = ""
    positions: tuple[int, ...] = ()
    valid: bool | None = None
    registered: bool | None = None


class SampleRegistry:
    """samples/registry.json, indexed for drawing realistic forms from it."""

    def __init__(self, path: Path = REGISTRY_JSON) -> None:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.companies = {c["orgnr"]: c for c in data["companies"]}
        self.subscriptions: dict[str, list[str]] = {}
        for s in data["subscriptions"]:
            self.subscriptions.setdefault(s["orgnr"], []).append(s["number"])
        people = {p["email"]: p for p in data["people"]}
        self.signers: dict[str, list[Person]] = {}
        for r in data["roles"]:
            if r["role"] in SIGNING_ROLES:
                p = people[r["person"]]
                self.signers.setdefault(r["company"], []).append(
                    Person(p["name"], p["email"], r["role"]))
        self.emails = set(people)
        self.firms = sorted(o for o, c in self.companies.items() if c["kind"] in FIRM_KINDS)
        self.connected: dict[str, set[str]] = {}
        for c in data["connections"]:
            if not c.get("until"):
                self.connected.setdefault(c["client"], set()).add(c["firm"])
        # Forms are only ever made for a client with a subscription, a firm it is
        # connected to, and people on record who may sign for both.
        self.connections = sorted(
            (c["client"], c["firm"]) for c in data["connections"]
            if not c.get("until") and c["client"] in self.subscriptions
            and c["client"] in self.signers and c["firm"] in self.signers
            and any(p.role == "sysadmin" for p in self.signers[c["firm"]])
        )

    def firm_role(self, orgnr: str) -> str:
        return FIRM_KINDS[self.companies[orgnr]["kind"]]

    def sysadmin(self, firm: str, rng: np.random.Generator) -> Person:
        admins = [p for p in self.signers[firm] if p.role == "sysadmin"]
        return admins[int(rng.integers(len(admins)))]

    def signer(self, company: str, rng: np.random.Generator) -> Person:
        people = self.signers[company]
        return people[int(rng.integers(len(people)))]


def random_form_id(rng: np.random.Generator) -> str:
    return normalise_form_id("".join(ID_ALPHABET[int(i)] for i in rng.integers(0, 32, 10)))


def value_set(reg: SampleRegistry, kind: FormKind, rng: np.random.Generator) -> dict[str, str]:
    """A complete, valid set of values for `kind`, signatories included."""
    client, firm = reg.connections[int(rng.integers(len(reg.connections)))]
    subs = reg.subscriptions[client]
    signer = reg.signer(client, rng)
    values = {
        "client_name": reg.companies[client]["name"],
        "client_orgnr": client,
        "client_subscription": subs[int(rng.integers(len(subs)))],
        "client_signatory_name": signer.name,
        "client_signatory_role": signer.role,
    }
    if kind is FormKind.DUAL:
        candidates = [f for f in reg.firms
                      if f != client and f not in reg.connected.get(client, set())
                      and any(p.role == "sysadmin" for p in reg.signers.get(f, []))]
        new = candidates[int(rng.integers(len(candidates)))]
        admin = reg.sysadmin(new, rng)
        values |= {
            "current_firm_name": reg.companies[firm]["name"],
            "current_firm_orgnr": firm,
            "current_firm_role": reg.firm_role(firm),
            "new_firm_name": reg.companies[new]["name"],
            "new_firm_orgnr": new,
            "new_firm_role": reg.firm_role(new),
            "new_firm_email": admin.email,
            "new_firm_signatory_name": admin.name,
        }
    else:
        values |= {
            "firm_name": reg.companies[firm]["name"],
            "firm_orgnr": firm,
            "firm_role": reg.firm_role(firm),
            "after": "takeover" if rng.random() < 0.6 else "access_only",
            "firm_signatory_name": reg.sysadmin(firm, rng).name,
        }
    return clean_values(kind, values)


def signatory_fields(kind: FormKind) -> dict[str, tuple[str, ...]]:
    """Per party, the fields the signer fills in: name, and the role where it is chosen."""
    out = {}
    for sig in form_spec(kind).signatures:
        out[sig.party] = (sig.name_field,) + ((sig.role_field,) if sig.role_field else ())
    return out


def correction(reg: SampleRegistry, kind: FormKind, printed: dict[str, str],
               rng: np.random.Generator, taken: set[str]) -> Correction | None:
    """A realistic change by hand to one printed value not in `taken`, or None."""
    spec = form_spec(kind)
    options: list[tuple[str, str]] = []
    sub = printed["client_subscription"]
    others = [s for s in reg.subscriptions[printed["client_orgnr"]] if s != sub]
    # "Ange korrekt abonnemangsnummer": the client writes the number from the invoice.
    fixed = others[0] if others else make_subscription_number(
        (int(sub[:7]) + int(rng.integers(1, 9)) * 10 ** int(rng.integers(0, 4))) % 10**7)
    options.append(("client_subscription", fixed))
    for name in ("current_firm_role", "new_firm_role", "firm_role", "after"):
        if name in printed:
            other = [o.value for o in spec.field(name).options if o.value != printed[name]]
            options.append((name, other[0]))
    if "new_firm_email" in printed:
        firm = printed["new_firm_orgnr"]
        emails = [p.email for p in reg.signers[firm] if p.email != printed["new_firm_email"]]
        if emails:
            options.append(("new_firm_email", emails[int(rng.integers(len(emails)))]))
    if "client_signatory_name" in printed:
        names = [p.name for p in reg.signers[printed["client_orgnr"]]
                 if p.name != printed["client_signatory_name"]]
        if names:
            options.append(("client_signatory_name", names[int(rng.integers(len(names)))]))
    options = [o for o in options if o[0] not in taken and o[0] in printed]
    if not options:
        return None
    name, value = options[int(rng.integers(len(options)))]
    return Correction(name, printed[name], value)


def signing_date(reference: dt.date, rng: np.random.Generator) -> str:
    """A date a few days or weeks before `reference`, when the form was signed."""
    return (reference - dt.timedelta(days=int(rng.integers(0, 28)))).isoformat()


NUMBER_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)


def passes(field: FieldSpec, value: str) -> bool:
    try:
        return clean_field(field, value) == value
    except InvalidValue:
        return False


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _shown(field: FieldSpec, digits: str) -> str:
    """Digits in the field's canonical shape (NNNNNN-NNNN for an organisationsnummer)."""
    out, i = [], 0
    for n in field.groups:
        out.append(digits[i:i + n])
        i += n
    return field.separator.join(out)


def rewrite(reg: SampleRegistry, field: FieldSpec, c: Correction) -> Correction:
    """`c` as a whole number struck through and written anew."""
    registered = c.hand_value in reg.companies or any(
        c.hand_value in subs for subs in reg.subscriptions.values())
    return Correction(c.field, c.printed, c.hand_value, "rewrite", (), passes(field, c.hand_value),
                      registered)


def whiteout(reg: SampleRegistry, field: FieldSpec, printed: str, valid: bool,
             rng: np.random.Generator) -> Correction:
    """A printed number with digits whited out and written anew by hand.

    One changed digit always breaks a Luhn check digit, so an invalid change
    is one digit; a valid one is two: another number the registry knows that
    differs in two cells when there is one (half the time), else one digit
    and the check digit set to match, as someone copying a number would.
    """
    old = _digits(printed)
    if not valid:
        pos = int(rng.integers(len(old)))
        new = old[:pos] + str((int(old[pos]) + int(rng.integers(1, 10))) % 10) + old[pos + 1:]
        value = _shown(field, new)
        return Correction(field.name, printed, value, "whiteout", (pos,), passes(field, value),
                          False)
    known = sorted(reg.companies) if field.type is FieldType.ORGNR else sorted(
        n for subs in reg.subscriptions.values() for n in subs)
    near = [v for v in known if len(_digits(v)) == len(old)
            and sum(a != b for a, b in zip(_digits(v), old, strict=True)) == 2]
    if near and rng.random() < 0.5:
        value = near[int(rng.integers(len(near)))]
        new = _digits(value)
        positions = tuple(i for i, (a, b) in enumerate(zip(new, old, strict=True)) if a != b)
        return Correction(field.name, printed, value, "whiteout", positions, True, True)
    for _ in range(100):
        pos = int(rng.integers(len(old) - 1))
        body = old[:pos] + str((int(old[pos]) + int(rng.integers(1, 10))) % 10) + old[pos + 1:-1]
        for check in "0123456789":
            value = _shown(field, body + check)
            if passes(field, value):
                registered = value in known
                return Correction(field.name, printed, value, "whiteout",
                                  (pos, len(old) - 1), True, registered)
    raise RuntimeError(f"no valid number two cells from {printed}")
