"""What others read from the registry: client lookup, issued forms, the company view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from forms import FormKind, new_form_id
from registry import (
    AuditEvent,
    CompanyKind,
    Conflict,
    NotFound,
    RegistryError,
    RoleKind,
    company_view,
    find_client_by_subscription,
    get_issued_form,
    import_registry,
    record_issued_form,
    session_scope,
)
from tests.registry.helpers import (
    ACCOUNTING,
    AUDIT,
    CLIENT,
    FIRM_SUBSCRIPTION,
    SUBSCRIPTION,
    small_doc,
    write_json,
)


@pytest.fixture
def small_engine(engine: Engine, tmp_path: Path) -> Engine:
    doc = small_doc()
    doc["payers"].append({"subscription": SUBSCRIPTION, "payer": CLIENT, "from": "2030-01-01"})
    doc["roles"].append({"person": "lisa.hjort@hjortensbageri.example", "company": CLIENT,
                         "role": "sysadmin"})
    with session_scope(engine) as session:
        assert import_registry(session, write_json(tmp_path, doc)).ok
    return engine


def test_client_found_only_with_its_own_subscription(small_engine: Engine) -> None:
    with session_scope(small_engine) as session:
        found = find_client_by_subscription(session, CLIENT, SUBSCRIPTION)
        assert found is not None and found.name == "Hjortens Bageri AB"
        assert find_client_by_subscription(session, CLIENT, FIRM_SUBSCRIPTION) is None
        assert find_client_by_subscription(session, ACCOUNTING, SUBSCRIPTION) is None
        assert find_client_by_subscription(session, "556677-8899", SUBSCRIPTION) is None
        assert find_client_by_subscription(session, CLIENT, "12345674") is None


def test_issued_form_is_recorded_with_an_audit_event(engine: Engine) -> None:
    form_id = new_form_id()
    values = {"client_orgnr": CLIENT, "client_name": "Hjortens Bageri AB"}
    signatories = {"client_signatory_name": "Lisa Hjort"}
    before = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        form = record_issued_form(session, form_id=form_id, kind="dual", version="2026.1",
                                  values=values, signatories=signatories, source="web")
    assert form.created_at >= before
    with session_scope(engine) as session:
        stored = get_issued_form(session, form_id)
        events = session.exec(select(AuditEvent)).all()
        assert get_issued_form(session, new_form_id()) is None
    assert stored is not None
    assert (stored.kind, stored.version, stored.values, stored.signatories, stored.source) == (
        FormKind.DUAL, "2026.1", values, signatories, "web"
    )
    assert stored.created_at.tzinfo == dt.UTC and stored.submitted_at is None
    assert [(e.action, e.subject, e.actor) for e in events] == [
        ("form.issued", f"form:{form_id}", "web")
    ]
    assert events[0].after is not None and events[0].after["values"] == values


def test_issued_form_ids_are_checked(engine: Engine) -> None:
    form_id = new_form_id()
    with session_scope(engine) as session:
        record_issued_form(session, form_id=form_id, kind="disconnect", version="2026.1",
                           values={}, signatories={}, source="cli")
    with pytest.raises(Conflict, match="already issued"), session_scope(engine) as session:
        record_issued_form(session, form_id=form_id, kind="dual", version="2026.1",
                           values={}, signatories={}, source="cli")
    with pytest.raises(RegistryError, match="not a canonical form id"), \
            session_scope(engine) as session:
        record_issued_form(session, form_id=form_id.lower(), kind="dual", version="2026.1",
                           values={}, signatories={}, source="cli")
    with pytest.raises(RegistryError, match="unknown form kind"), session_scope(engine) as s:
        record_issued_form(s, form_id=new_form_id(), kind="bortkoppling", version="2026.1",
                           values={}, signatories={}, source="cli")


def test_company_view_of_a_client(small_engine: Engine) -> None:
    with session_scope(small_engine) as session:
        view = company_view(session, "5561234567", on=dt.date(2026, 1, 1))
    assert (view.company.orgnr, view.company.kind) == (CLIENT, CompanyKind.CLIENT)
    [sub] = view.subscriptions
    assert sub.subscription.number == SUBSCRIPTION
    assert (sub.payer.orgnr, sub.payer_since) == (ACCOUNTING, dt.date(2019, 2, 1))
    assert [(p.payer.orgnr, p.valid_from) for p in sub.upcoming] == [
        (CLIENT, dt.date(2030, 1, 1))
    ]
    assert [(p.person.name, p.roles) for p in view.people] == [
        ("Lisa Hjort", (RoleKind.SYSADMIN, RoleKind.FIRMATECKNARE))
    ]
    # Open connections first, then ended ones.
    assert [(c.other.orgnr, c.connection.until) for c in view.as_client] == [
        (ACCOUNTING, None), (AUDIT, dt.date(2020, 6, 30))
    ]
    assert view.as_firm == ()


def test_company_view_of_a_firm(small_engine: Engine) -> None:
    with session_scope(small_engine) as session:
        view = company_view(session, ACCOUNTING, on=dt.date(2026, 1, 1))
        before = company_view(session, CLIENT, on=dt.date(2019, 1, 31))
    assert [c.other.orgnr for c in view.as_firm] == [CLIENT]
    assert view.as_client == ()
    [sub] = view.subscriptions
    assert (sub.payer.orgnr, sub.payer_since, sub.history) == (ACCOUNTING, None, ())
    # Before the first recorded payer, the subscription's own company pays.
    assert (before.subscriptions[0].payer.orgnr, before.subscriptions[0].payer_since) == (
        CLIENT, None
    )


def test_company_view_not_found(small_engine: Engine) -> None:
    with session_scope(small_engine) as session:
        with pytest.raises(NotFound, match="no company with organisationsnummer 556677-8899"):
            company_view(session, "556677-8899")
        with pytest.raises(RegistryError, match="Kontrollsiffran") as caught:
            company_view(session, "556677-8898")
    assert caught.value.exit_code == 65
