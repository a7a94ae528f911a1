"""The demo registry: reproducible from its generator, and shaped like a real one."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from forms import (
    IdentityKind,
    parse_email,
    parse_organisationsnummer,
    parse_personnummer,
    parse_subscription_number,
)
from samples import REGISTRY_JSON
from samples.make_registry import registry_document, to_json


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(REGISTRY_JSON.read_text("utf-8"))
    return data


def test_committed_file_is_what_the_generator_makes() -> None:
    assert REGISTRY_JSON.read_text("utf-8") == to_json(registry_document())


def test_companies_and_numbers(sample: dict[str, list[dict[str, Any]]]) -> None:
    kinds = Counter(c["kind"] for c in sample["companies"])
    assert kinds["client"] >= 40 and kinds["accounting_firm"] == 10 and kinds["audit_firm"] == 5
    identities: Counter[IdentityKind] = Counter()
    for company in sample["companies"]:
        number = parse_organisationsnummer(company["orgnr"])
        assert number.text == company["orgnr"]
        identities[number.kind] += 1
        if number.kind is IdentityKind.ORGANISATION:
            assert int(company["orgnr"][2]) >= 2
            assert company["name"].endswith((" AB", " HB"))
    assert identities[IdentityKind.PERSONAL] >= 3  # enskild firma
    assert sum(c["name"].endswith(" HB") for c in sample["companies"]) >= 3
    for sub in sample["subscriptions"]:
        assert parse_subscription_number(sub["number"]) == sub["number"]
    for person in sample["people"]:
        assert parse_email(person["email"]).endswith(".example")
        if "personnummer" in person:
            parse_personnummer(person["personnummer"])


def test_every_company_has_signatories(sample: dict[str, list[dict[str, Any]]]) -> None:
    roles: dict[str, set[str]] = defaultdict(set)
    for role in sample["roles"]:
        roles[role["company"]].add(role["role"])
    for company in sample["companies"]:
        assert {"firmatecknare", "sysadmin"} <= roles[company["orgnr"]], company
        if company["kind"] != "client":
            assert "consultant" in roles[company["orgnr"]]


def test_connections_and_payers(sample: dict[str, list[dict[str, Any]]]) -> None:
    kind = {c["orgnr"]: c["kind"] for c in sample["companies"]}
    clients = [o for o, k in kind.items() if k == "client"]
    conns = sample["connections"]
    accounted = {c["client"] for c in conns if c["role"] == "accounting" and not c["until"]}
    assert len(accounted & set(clients)) >= 0.7 * len(clients)
    assert sum(c["role"] == "audit" for c in conns) >= 5
    assert sum(bool(c["until"]) for c in conns) >= 3
    firm_paid = [p for p in sample["payers"] if kind[p["payer"]] != "client"]
    assert len(firm_paid) >= 5
    changes = Counter(p["subscription"] for p in sample["payers"])
    assert any(n >= 2 for n in changes.values())  # a client took its bill over
