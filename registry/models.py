"""The registry's tables: companies, subscriptions and who pays them, people and
their roles, connections between clients and firms, issued forms, audit events.

The tables live in their own `MetaData` (`REGISTRY_METADATA`), separate from
SQLModel's global one, so the migrations and the schema check cover exactly
these tables whatever else a process imports. Constraint names follow a
naming convention so that a later migration can address them by name on
PostgreSQL and in SQLite's batch mode alike.

Conventions: organisationsnummer and personnummer are stored in their
canonical text (NNNNNN-NNNN, from `forms`); e-mail addresses in lower case;
every timestamp is timezone-aware UTC in Python, whatever the database keeps.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry as orm_registry
from sqlmodel import Field, SQLModel

from forms import FormKind

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REGISTRY_METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)


class CompanyKind(StrEnum):
    CLIENT = "client"
    ACCOUNTING_FIRM = "accounting_firm"
    AUDIT_FIRM = "audit_firm"

    @property
    def is_firm(self) -> bool:
        return self is not CompanyKind.CLIENT


class RoleKind(StrEnum):
    SYSADMIN = "sysadmin"
    PROGRAM_ADMIN = "program_admin"
    FIRMATECKNARE = "firmatecknare"
    CONSULTANT = "consultant"


class ConnectionRole(StrEnum):
    ACCOUNTING = "accounting"
    AUDIT = "audit"

    @property
    def firm_kind(self) -> CompanyKind:
        """The kind of company that may be the firm in a connection of this role."""
        if self is ConnectionRole.ACCOUNTING:
            return CompanyKind.ACCOUNTING_FIRM
        return CompanyKind.AUDIT_FIRM


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp that is always aware UTC in Python.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so the value is
    stored as naive UTC and given its zone back when read. A naive value
    coming in is a bug (its zone is unknown), so it is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: registry timestamps must be aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: Any, dialect: Dialect  # noqa: ARG002
    ) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def string_enum(enum: type[StrEnum], name: str) -> sa.Enum:
    # A string column plus a CHECK constraint rather than a native PostgreSQL
    # enum type, so that adding a value later is a plain constraint change.
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class RegistryModel(SQLModel, registry=orm_registry(metadata=REGISTRY_METADATA)):
    pass


class Company(RegistryModel, table=True):
    __tablename__ = "companies"

    id: int | None = Field(default=None, primary_key=True)
    orgnr: str = Field(max_length=11, unique=True)
    name: str = Field(max_length=200)
    kind: CompanyKind = Field(sa_type=string_enum(CompanyKind, "company_kind"))


class Subscription(RegistryModel, table=True):
    __tablename__ = "subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=8, unique=True)
    company_id: int = Field(foreign_key="companies.id", index=True)


class SubscriptionPayer(RegistryModel, table=True):
    """Who pays a subscription from a date on; the row with the latest
    `valid_from` not after a day is the payer that day. Without any row the
    subscription's own company pays. A change ("the client pays from the next
    billing period") is a new row, so the history stays."""

    __tablename__ = "subscription_payers"
    __table_args__ = (sa.UniqueConstraint("subscription_id", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscriptions.id")
    payer_id: int = Field(foreign_key="companies.id", index=True)
    valid_from: dt.date
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Person(RegistryModel, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, unique=True)
    personnummer: str | None = Field(default=None, max_length=11, unique=True)


class Role(RegistryModel, table=True):
    __tablename__ = "roles"
    __table_args__ = (sa.UniqueConstraint("person_id", "company_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="people.id")
    company_id: int = Field(foreign_key="companies.id", index=True)
    role: RoleKind = Field(sa_type=string_enum(RoleKind, "role_kind"))


class Connection(RegistryModel, table=True):
    """A firm's access to a client's bookkeeping, open while `until` is null."""

    __tablename__ = "connections"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "firm_id", "role", "since"),
        sa.CheckConstraint("client_id <> firm_id", name="not_self"),
        sa.CheckConstraint("until IS NULL OR until >= since", name="period"),
        # At most one open connection per client, firm and role; both SQLite
        # and PostgreSQL support partial unique indexes.
        sa.Index(
            "uq_connections_open",
            "client_id",
            "firm_id",
            "role",
            unique=True,
            sqlite_where=sa.text("until IS NULL"),
            postgresql_where=sa.text("until IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="companies.id")
    firm_id: int = Field(foreign_key="companies.id", index=True)
    role: ConnectionRole = Field(sa_type=string_enum(ConnectionRole, "connection_role"))
    since: dt.date
    until: dt.date | None = None


class IssuedForm(RegistryModel, table=True):
    """A pre-filled form as it was handed out; scans are checked against it."""

    __tablename__ = "issued_forms"

    id: str = Field(primary_key=True, max_length=10)
    kind: FormKind = Field(sa_type=string_enum(FormKind, "form_kind"))
    version: str = Field(max_length=20)
    values: dict[str, str] = Field(sa_type=sa.JSON)
    signatories: dict[str, str] = Field(sa_type=sa.JSON)
    source: str = Field(max_length=20)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(RegistryModel, table=True):
    """One change to the registry: who, what, on which record, before and after."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=50, index=True)
    subject: str = Field(max_length=100, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    detail: str = Field(default="", sa_type=sa.Text)
