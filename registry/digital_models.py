"""The digital path's tables: what firms and clients do themselves, without paper.

* `ClientLabel`: a firm's own labels ("märkningar") on its clients, to filter by.
* `ConsultantClient`: a consultant's personal client list at a firm (seed 000).
* `ProgramGrant`: the programs and permission level a client gives a consultant,
  optionally until a date (seed 001, and seed 003's external users). A grant
  is open while `ended_at` is null; ending it (revoked, expired, the
  connection ended) stamps `ended_at` and `end_reason`, so the history stays.
* `DigitalExclusion`: firms the digital disconnection is not offered to.
* `DigitalRequest`: a firm's request for a disconnection or a dual connection,
  waiting for one of the client's system administrators (seed 002).
* `AdminInvitation`: a firm inviting a client's would-be system administrator,
  to be confirmed by one of the client's firmatecknare first.
* `AccessLink`: every mailed link (sign-in, request, invitation), stored as the
  sha256 of its token only, so a copy of the table opens nothing.
* `CustomerSession`: the server-side row behind a signed-in customer's cookie.

They share `REGISTRY_METADATA` with the rest of the registry, so one migration
history and one schema check cover them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from registry.models import (
    ConnectionRole,
    RegistryModel,
    UTCDateTime,
    string_enum,
    utcnow,
)

LABEL_MAX = 40


class Program(StrEnum):
    BOOKKEEPING = "bokforing"
    INVOICING = "fakturering"
    ORDER = "order"
    ASSETS = "anlaggningsregister"
    PAYROLL = "lon"


class PermissionLevel(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class GrantEnd(StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"
    DISCONNECTED = "disconnected"


class RequestKind(StrEnum):
    DISCONNECT = "disconnect"
    DUAL = "dual"


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    # The registry no longer allows it (the connection ended on paper meanwhile, ...).
    OBSOLETE = "obsolete"


class InvitationState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"


class LinkPurpose(StrEnum):
    SIGN_IN = "sign_in"
    REQUEST = "request"
    INVITATION = "invitation"


class ClientLabel(RegistryModel, table=True):
    __tablename__ = "client_labels"
    __table_args__ = (sa.UniqueConstraint("firm_id", "client_id", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    firm_id: int = Field(foreign_key="companies.id", index=True)
    client_id: int = Field(foreign_key="companies.id")
    label: str = Field(max_length=LABEL_MAX)


class ConsultantClient(RegistryModel, table=True):
    __tablename__ = "consultant_clients"
    __table_args__ = (sa.UniqueConstraint("firm_id", "person_id", "client_id"),)

    id: int | None = Field(default=None, primary_key=True)
    firm_id: int = Field(foreign_key="companies.id", index=True)
    person_id: int = Field(foreign_key="people.id", index=True)
    client_id: int = Field(foreign_key="companies.id")
    added_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProgramGrant(RegistryModel, table=True):
    __tablename__ = "program_grants"
    __table_args__ = (
        # One open grant per consultant, client and program.
        sa.Index(
            "uq_program_grants_open",
            "client_id",
            "person_id",
            "program",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="companies.id", index=True)
    firm_id: int = Field(foreign_key="companies.id", index=True)
    person_id: int = Field(foreign_key="people.id", index=True)
    program: Program = Field(sa_type=string_enum(Program, "program"))
    level: PermissionLevel = Field(sa_type=string_enum(PermissionLevel, "permission_level"))
    valid_until: dt.date | None = Field(default=None, index=True)  # last day of access
    granted_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    granted_by: str = Field(max_length=254)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_reason: GrantEnd | None = Field(
        default=None, sa_type=string_enum(GrantEnd, "grant_end"), nullable=True
    )


class DigitalExclusion(RegistryModel, table=True):
    __tablename__ = "digital_exclusions"

    company_id: int = Field(foreign_key="companies.id", primary_key=True)
    note: str = Field(default="", max_length=200)


class DigitalRequest(RegistryModel, table=True):
    __tablename__ = "digital_requests"

    id: int | None = Field(default=None, primary_key=True)
    kind: RequestKind = Field(sa_type=string_enum(RequestKind, "request_kind"))
    client_id: int = Field(foreign_key="companies.id", index=True)
    firm_id: int = Field(foreign_key="companies.id", index=True)
    role: ConnectionRole = Field(sa_type=string_enum(ConnectionRole, "connection_role"))
    subscription_id: int = Field(foreign_key="subscriptions.id")
    requested_by: int = Field(foreign_key="people.id")
    requested_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    state: RequestState = Field(
        default=RequestState.PENDING, sa_type=string_enum(RequestState, "request_state")
    )
    decided_by: int | None = Field(default=None, foreign_key="people.id")
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", sa_type=sa.Text)


class AdminInvitation(RegistryModel, table=True):
    __tablename__ = "admin_invitations"

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="companies.id", index=True)
    firm_id: int = Field(foreign_key="companies.id")
    invited_by: int = Field(foreign_key="people.id")
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    state: InvitationState = Field(
        default=InvitationState.PENDING,
        sa_type=string_enum(InvitationState, "invitation_state"),
    )
    decided_by: int | None = Field(default=None, foreign_key="people.id")
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    person_id: int | None = Field(default=None, foreign_key="people.id")  # once confirmed


class AccessLink(RegistryModel, table=True):
    __tablename__ = "access_links"

    token_hash: str = Field(primary_key=True, max_length=64)
    purpose: LinkPurpose = Field(sa_type=string_enum(LinkPurpose, "link_purpose"))
    person_id: int = Field(foreign_key="people.id", index=True)
    target_id: int | None = None  # the request or invitation it opens
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class CustomerSession(RegistryModel, table=True):
    __tablename__ = "customer_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie's token
    person_id: int = Field(foreign_key="people.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    last_seen_at: dt.datetime = Field(sa_type=UTCDateTime)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
