"""The registry's search box and a company's issued forms, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from forms import new_form_id
from registry import (
    Company,
    CompanyKind,
    RoleKind,
    SearchKind,
    issued_forms_concerning,
    record_issued_form,
    search_registry,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, SOLE_TRADER, SUBSCRIPTION
from tests.registry.linkage_cases import OTHER_ACCOUNTING, SELF_PAYER, THIRD, THIRD_SUBSCRIPTION


def names(found: object) -> list[str]:
    return [hit.company.name for hit in found.companies]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "typed",
    ["556123-4567", "5561234567", "556123 4567", " 556 123-4567 ", "16556123-4567",
     "165561234567", "556123–4567"],
)  # fmt: skip
def test_an_organisationsnummer_however_typed_is_an_exact_match(reg: Engine, typed: str) -> None:
    with Session(reg) as session:
        found = search_registry(session, typed)
    assert found.kind is SearchKind.NUMBER
    assert found.exact is not None and found.exact.orgnr == CLIENT
    assert names(found) == ["Hjortens Bageri AB"] and found.companies_total == 1


@pytest.mark.parametrize("typed", ["850412-1230", "8504121230", "198504121230", "19850412-1230"])
def test_a_sole_traders_personnummer_with_or_without_century_finds_the_firm(
    reg: Engine, typed: str
) -> None:
    with Session(reg) as session:
        found = search_registry(session, typed)
    assert found.exact is not None and found.exact.orgnr == SOLE_TRADER


def test_the_start_of_a_number_lists_companies_in_number_order(reg: Engine) -> None:
    with Session(reg) as session:
        start = search_registry(session, "556")
        longer = search_registry(session, "5561234")
        hyphen = search_registry(session, "556123-4")
    assert start.exact is None
    orgnrs = [hit.company.orgnr for hit in start.companies]
    assert orgnrs == sorted(orgnrs)
    assert {CLIENT, AUDIT, SELF_PAYER, THIRD} <= set(orgnrs)
    assert ACCOUNTING not in orgnrs and OTHER_ACCOUNTING not in orgnrs  # 559...
    assert start.companies_total == len(orgnrs)
    assert [h.company.orgnr for h in longer.companies] == [CLIENT]
    assert [h.company.orgnr for h in hyphen.companies] == [CLIENT]


def test_a_wrong_check_digit_says_so_and_finds_nothing(reg: Engine) -> None:
    with Session(reg) as session:
        found = search_registry(session, "556123-4568")
    assert found.exact is None and found.empty
    assert found.problem is not None and "Kontrollsiffran" in found.problem


def test_a_subscription_number_goes_to_its_company(reg: Engine) -> None:
    with Session(reg) as session:
        exact = search_registry(session, SUBSCRIPTION)
        spaced = search_registry(session, "9100 0075")
        wrong = search_registry(session, "91000035")
        start = search_registry(session, "910000")
    assert exact.exact is not None and exact.exact.orgnr == CLIENT
    assert exact.companies[0].subscription == SUBSCRIPTION
    assert spaced.exact is not None and spaced.exact.orgnr == THIRD
    assert wrong.exact is None and wrong.problem is not None and "kontrollsiffran" in wrong.problem
    by_subscription = {h.subscription for h in start.companies}
    assert {SUBSCRIPTION, THIRD_SUBSCRIPTION} <= by_subscription
    assert start.exact is None and start.companies_total == len(start.companies)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ängsback", "Ängsbackens Café AB"),
        ("ÄNGSBACKENS", "Ängsbackens Café AB"),
        ("café", "Ängsbackens Café AB"),
        ("CAFÉ", "Ängsbackens Café AB"),
        ("revisionsbyrå", "Granlunds Revisionsbyrå AB"),
        ("REVISIONSBYRÅ", "Granlunds Revisionsbyrå AB"),
        ("bergsnäs", "Bergsnäs Redovisning AB"),
        ("lindÉns", "Petra Lindéns Hundtrim"),
        ("  hjortens   bageri ", "Hjortens Bageri AB"),
    ],
)
def test_a_company_by_part_of_its_name_in_any_case_with_swedish_letters(
    reg: Engine, typed: str, expected: str
) -> None:
    with Session(reg) as session:
        found = search_registry(session, typed)
    assert found.kind is SearchKind.NAME
    assert names(found) == [expected], typed
    assert found.exact is None  # a name never jumps to a page


def test_a_letter_without_its_dots_is_another_letter(reg: Engine) -> None:
    with Session(reg) as session:
        plain = search_registry(session, "tallback")
        dotted = search_registry(session, "TALLBÄCK")
    assert names(plain) == ["Tallbackens Redovisning AB"]
    assert [p.person.email for p in plain.people] == [  # by her e-mail, not her name
        "maria.tallback@tallbackensredovisning.example"
    ]
    assert names(dotted) == []
    assert [p.person.name for p in dotted.people] == ["Maria Tallbäck"]
    (maria,) = dotted.people
    assert [(r.company.orgnr, r.role) for r in maria.roles] == [(ACCOUNTING, RoleKind.SYSADMIN)]


def test_a_person_by_e_mail_with_their_roles(reg: Engine) -> None:
    with Session(reg) as session:
        exact = search_registry(session, "Lisa.Hjort@HjortensBageri.example")
        part = search_registry(session, "@tallbackensredovisning")
        in_name_search = search_registry(session, "hjortensbageri")
    assert exact.kind is SearchKind.EMAIL and exact.companies == ()
    (lisa,) = exact.people
    assert lisa.person.name == "Lisa Hjort"
    assert [(r.company.name, r.role) for r in lisa.roles] == [
        ("Hjortens Bageri AB", RoleKind.FIRMATECKNARE)
    ]
    assert [p.person.name for p in part.people] == ["Maria Tallbäck"]
    assert [p.person.name for p in in_name_search.people] == ["Lisa Hjort"]


def test_a_persons_personnummer_finds_the_person(reg: Engine) -> None:
    with Session(reg) as session:
        found = search_registry(session, "19790630-7892")
    assert found.exact is None and found.companies == ()
    assert [p.person.name for p in found.people] == ["Lisa Hjort"]


@pytest.mark.parametrize("typed", ["zzzz", "%", "_", "\\", "a%b", "   "])
def test_nothing_matches_and_wildcards_are_plain_text(reg: Engine, typed: str) -> None:
    with Session(reg) as session:
        found = search_registry(session, typed)
    assert found.empty and found.exact is None and found.problem is None
    assert found.companies_total == 0 and found.people_total == 0
    assert found.kind is (SearchKind.EMPTY if not typed.strip() else SearchKind.NAME)


def test_results_are_capped_with_the_full_count_names_starting_with_it_first(
    reg: Engine,
) -> None:
    with Session(reg) as session:
        for n in range(60):
            session.add(
                Company(orgnr=f"556{n:03d}-000{n % 10}", name=f"Åkeri {n:02d} AB",
                        kind=CompanyKind.CLIENT)
            )  # fmt: skip
        session.add(Company(orgnr="556999-0001", name="Bröderna Åkeri AB", kind=CompanyKind.CLIENT))
        session.commit()
        found = search_registry(session, "åkeri", limit=50)
        small = search_registry(session, "ÅKERI 0", limit=5)
    assert found.companies_total == 61 and len(found.companies) == 50
    assert names(found)[:2] == ["Åkeri 00 AB", "Åkeri 01 AB"]
    assert "Bröderna Åkeri AB" not in names(found)  # containing it, not starting with it: last
    assert small.companies_total == 10 and names(small) == [f"Åkeri 0{n} AB" for n in range(5)]
    with pytest.raises(ValueError, match="limit"):
        search_registry(session, "x", limit=0)


def test_issued_forms_concerning_a_company_by_any_partys_orgnr(reg: Engine) -> None:
    with Session(reg) as session:
        ids = []
        for values in (
            {"client_orgnr": CLIENT, "current_firm_orgnr": ACCOUNTING},
            {"client_orgnr": THIRD, "firm_orgnr": CLIENT},
            {"client_orgnr": THIRD, "note": CLIENT},  # not an orgnr field: not about it
        ):
            form_id = new_form_id()
            record_issued_form(
                session, form_id=form_id, kind="dual", version="2026.1", values=values,
                signatories={}, source="test",
            )  # fmt: skip
            ids.append(form_id)
        session.commit()
        forms, total = issued_forms_concerning(session, CLIENT)
        capped, capped_total = issued_forms_concerning(session, CLIENT, limit=1)
        none, none_total = issued_forms_concerning(session, SELF_PAYER)
    assert {f.id for f in forms} == set(ids[:2]) and total == 2
    assert len(capped) == 1 and capped_total == 2
    assert none == [] and none_total == 0


def test_a_swedish_letter_is_matched_exactly_not_as_any_letter(reg: Engine) -> None:
    with Session(reg) as session:
        for n, name in enumerate(("Ekesbygg AB", "Åkesbygg AB", "Akesbygg AB", "Bröd & Åkes HB")):
            session.add(Company(orgnr=f"556777-000{n}", name=name, kind=CompanyKind.CLIENT))
        session.commit()
        dotted = search_registry(session, "ÅKES")
        plain = search_registry(session, "akes")
        middle = search_registry(session, "d & åk")
    assert names(dotted) == ["Åkesbygg AB", "Bröd & Åkes HB"]  # starting with it first
    assert names(plain) == ["Akesbygg AB"]
    assert names(middle) == ["Bröd & Åkes HB"]
