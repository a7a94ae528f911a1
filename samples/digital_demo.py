"""What the demo adds for the digital path: the seed's exclusion list and who to sign in as.

Seed 002 names five firms that are not offered the digital disconnection
(KPMG, Aspia, Grant Thornton, BDO, Handelsbanken). The demo registry gets a
firm of each name (made-up numbers; the names are the seed's) on the
exclusion list, so a reviewer or customer trying the demo meets the rule.
`demo_people` picks a firm's system administrator and a system administrator
of one of its clients, for the demo to print.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from forms import luhn_check_digit
from registry import (
    Company,
    CompanyKind,
    Connection,
    DigitalExclusion,
    Person,
    Role,
    RoleKind,
)

EXCLUDED_NAMES = ("KPMG AB", "Aspia AB", "Grant Thornton Sweden AB", "BDO Sweden AB",
                  "Handelsbanken Redovisning AB")  # fmt: skip
EXCLUSION_NOTE = "Digital bortkoppling erbjuds inte (seed 002)"


def _orgnr(serial: int) -> str:
    body = f"55998{serial:04d}"
    return f"{body[:6]}-{body[6:]}{luhn_check_digit(body)}"


def ensure_excluded_firms(session: Session) -> int:
    """Add the five firms and their exclusions if missing; the number added. Caller commits."""
    added = 0
    for serial, name in enumerate(EXCLUDED_NAMES, start=1):
        orgnr = _orgnr(serial)
        company = session.exec(select(Company).where(col(Company.orgnr) == orgnr)).first()
        if company is None:
            company = Company(orgnr=orgnr, name=name, kind=CompanyKind.ACCOUNTING_FIRM)
            session.add(company)
            session.flush()
        assert company.id is not None
        if session.get(DigitalExclusion, company.id) is None:
            session.add(DigitalExclusion(company_id=company.id, note=EXCLUSION_NOTE))
            added += 1
    return added


@dataclass(frozen=True)
class DemoPeople:
    firm_admin: Person
    firm: Company
    client_admin: Person
    client: Company


def demo_people(session: Session) -> DemoPeople | None:
    """A firm's system administrator and a system administrator of one of its clients."""
    rows = session.exec(
        select(Connection, Company)
        .join(Company, col(Company.id) == col(Connection.firm_id))
        .where(col(Connection.until).is_(None))
        .order_by(col(Connection.id))
    ).all()

    def admin(company_id: int) -> Person | None:
        return session.exec(
            select(Person)
            .join(Role, col(Role.person_id) == col(Person.id))
            .where(col(Role.company_id) == company_id, col(Role.role) == RoleKind.SYSADMIN)
            .order_by(col(Person.email))
        ).first()

    for connection, firm in rows:
        assert firm.id is not None
        if session.get(DigitalExclusion, firm.id) is not None:
            continue
        firm_admin, client_admin = admin(firm.id), admin(connection.client_id)
        client = session.get(Company, connection.client_id)
        if firm_admin and client_admin and client and firm_admin.id != client_admin.id:
            return DemoPeople(firm_admin, firm, client_admin, client)
    return None
