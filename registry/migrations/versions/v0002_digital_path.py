"""The digital path: labels, consultants' client lists, program grants, the exclusion
list, digital requests, invitations, mailed links and customer sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Written to match registry/digital_models.py (the schema test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "access_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose", _enum("link_purpose", "sign_in", "request", "invitation"), nullable=False
        ),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_access_links_person_id_people")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_access_links")),
    )
    op.create_index(op.f("ix_access_links_person_id"), "access_links", ["person_id"], unique=False)
    op.create_table(
        "admin_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            _enum("invitation_state", "pending", "confirmed", "declined", "expired"),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name=op.f("fk_admin_invitations_client_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["people.id"], name=op.f("fk_admin_invitations_decided_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name=op.f("fk_admin_invitations_firm_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["people.id"], name=op.f("fk_admin_invitations_invited_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_admin_invitations_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_invitations")),
    )
    op.create_index(
        op.f("ix_admin_invitations_client_id"), "admin_invitations", ["client_id"], unique=False
    )
    op.create_table(
        "client_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name=op.f("fk_client_labels_client_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name=op.f("fk_client_labels_firm_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_labels")),
        sa.UniqueConstraint(
            "firm_id", "client_id", "label", name=op.f("uq_client_labels_firm_id_client_id_label")
        ),
    )
    op.create_index(op.f("ix_client_labels_firm_id"), "client_labels", ["firm_id"], unique=False)
    op.create_table(
        "consultant_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name=op.f("fk_consultant_clients_client_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name=op.f("fk_consultant_clients_firm_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_consultant_clients_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultant_clients")),
        sa.UniqueConstraint(
            "firm_id",
            "person_id",
            "client_id",
            name=op.f("uq_consultant_clients_firm_id_person_id_client_id"),
        ),
    )
    op.create_index(
        op.f("ix_consultant_clients_firm_id"), "consultant_clients", ["firm_id"], unique=False
    )
    op.create_index(
        op.f("ix_consultant_clients_person_id"), "consultant_clients", ["person_id"], unique=False
    )
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_customer_sessions_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sessions")),
    )
    op.create_index(
        op.f("ix_customer_sessions_person_id"), "customer_sessions", ["person_id"], unique=False
    )
    op.create_table(
        "digital_exclusions",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_digital_exclusions_company_id_companies"),
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_digital_exclusions")),
    )
    op.create_table(
        "program_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "program",
            _enum("program", "bokforing", "fakturering", "order", "anlaggningsregister", "lon"),
            nullable=False,
        ),
        sa.Column("level", _enum("permission_level", "read", "write", "admin"), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=254), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end_reason", _enum("grant_end", "revoked", "expired", "disconnected"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name=op.f("fk_program_grants_client_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name=op.f("fk_program_grants_firm_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_program_grants_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_grants")),
    )
    op.create_index(
        op.f("ix_program_grants_client_id"), "program_grants", ["client_id"], unique=False
    )
    op.create_index(op.f("ix_program_grants_firm_id"), "program_grants", ["firm_id"], unique=False)
    op.create_index(
        op.f("ix_program_grants_person_id"), "program_grants", ["person_id"], unique=False
    )
    op.create_index(
        op.f("ix_program_grants_valid_until"), "program_grants", ["valid_until"], unique=False
    )
    op.create_index(
        "uq_program_grants_open",
        "program_grants",
        ["client_id", "person_id", "program"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "digital_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("request_kind", "disconnect", "dual"), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum("connection_role", "accounting", "audit"), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            _enum(
                "request_state",
                "pending",
                "approved",
                "declined",
                "withdrawn",
                "expired",
                "obsolete",
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name=op.f("fk_digital_requests_client_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["people.id"], name=op.f("fk_digital_requests_decided_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name=op.f("fk_digital_requests_firm_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["people.id"], name=op.f("fk_digital_requests_requested_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_digital_requests_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digital_requests")),
    )
    op.create_index(
        op.f("ix_digital_requests_client_id"), "digital_requests", ["client_id"], unique=False
    )
    op.create_index(
        op.f("ix_digital_requests_expires_at"), "digital_requests", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_digital_requests_firm_id"), "digital_requests", ["firm_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("digital_requests")
    op.drop_table("program_grants")
    op.drop_table("digital_exclusions")
    op.drop_table("customer_sessions")
    op.drop_table("consultant_clients")
    op.drop_table("client_labels")
    op.drop_table("admin_invitations")
    op.drop_table("access_links")
