"""Initial registry schema: companies, subscriptions and payers, people and roles,
connections, issued forms, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-01-12

Written by hand to match registry/models.py exactly (the schema test compares
them); enum columns are strings with a CHECK constraint, so adding a value is a
constraint change rather than a PostgreSQL type change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("orgnr", sa.String(length=11), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind", _enum("company_kind", "client", "accounting_firm", "audit_firm"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
        sa.UniqueConstraint("orgnr", name="uq_companies_orgnr"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("personnummer", sa.String(length=11), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("email", name="uq_people_email"),
        sa.UniqueConstraint("personnummer", name="uq_people_personnummer"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=8), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_subscriptions_company_id_companies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint("number", name="uq_subscriptions_number"),
    )
    op.create_index("ix_subscriptions_company_id", "subscriptions", ["company_id"])
    op.create_table(
        "subscription_payers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"],
            name="fk_subscription_payers_subscription_id_subscriptions",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["companies.id"], name="fk_subscription_payers_payer_id_companies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_payers"),
        sa.UniqueConstraint(
            "subscription_id", "valid_from",
            name="uq_subscription_payers_subscription_id_valid_from",
        ),
    )
    op.create_index("ix_subscription_payers_payer_id", "subscription_payers", ["payer_id"])
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            _enum("role_kind", "sysadmin", "program_admin", "firmatecknare", "consultant"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name="fk_roles_person_id_people"),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name="fk_roles_company_id_companies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint(
            "person_id", "company_id", "role", name="uq_roles_person_id_company_id_role"
        ),
    )
    op.create_index("ix_roles_company_id", "roles", ["company_id"])
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum("connection_role", "accounting", "audit"), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.CheckConstraint("client_id <> firm_id", name=op.f("ck_connections_not_self")),
        sa.CheckConstraint(
            "until IS NULL OR until >= since", name=op.f("ck_connections_period")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["companies.id"], name="fk_connections_client_id_companies"
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["companies.id"], name="fk_connections_firm_id_companies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_connections"),
        sa.UniqueConstraint(
            "client_id", "firm_id", "role", "since",
            name="uq_connections_client_id_firm_id_role_since",
        ),
    )
    op.create_index("ix_connections_firm_id", "connections", ["firm_id"])
    op.create_index(
        "uq_connections_open",
        "connections",
        ["client_id", "firm_id", "role"],
        unique=True,
        sqlite_where=sa.text("until IS NULL"),
        postgresql_where=sa.text("until IS NULL"),
    )
    op.create_table(
        "issued_forms",
        sa.Column("id", sa.String(length=10), nullable=False),
        sa.Column("kind", _enum("form_kind", "dual", "disconnect"), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("signatories", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_issued_forms"),
    )
    op.create_index("ix_issued_forms_created_at", "issued_forms", ["created_at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_subject", "audit_events", ["subject"])


def downgrade() -> None:
    for table in (
        "audit_events",
        "issued_forms",
        "connections",
        "roles",
        "subscription_payers",
        "subscriptions",
        "people",
        "companies",
    ):
        op.drop_table(table)
