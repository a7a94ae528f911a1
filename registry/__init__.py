"""The registry: companies, firms, people and their roles, subscriptions and who
pays them, connections between clients and firms, issued forms, audit events.

Public API; everything else in the package is private. Functions take a
session and leave committing to the caller (`session_scope` commits).
"""

from registry.db import (
    current_revision,
    head_revision,
    make_engine,
    require_current,
    require_migrated,
    session_scope,
    upgrade_database,
    upgrade_migrations,
)
from registry.errors import (
    Conflict,
    DatabaseNotReady,
    ImportFileError,
    ImportRejected,
    NotFound,
    RegistryError,
)
from registry.import_files import RecordType
from registry.import_report import ImportReport, Rejection, TypeCounts
from registry.importer import import_registry
from registry.models import (
    REGISTRY_METADATA,
    AuditEvent,
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    IssuedForm,
    Person,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
)
from registry.queries import (
    CompanyView,
    ConnectionView,
    PayerPeriod,
    PersonRoles,
    SubscriptionView,
    company_view,
    find_client_by_subscription,
    get_issued_form,
    record_event,
    record_issued_form,
)

__all__ = [
    "REGISTRY_METADATA",
    "AuditEvent",
    "Company",
    "CompanyKind",
    "CompanyView",
    "Conflict",
    "Connection",
    "ConnectionRole",
    "ConnectionView",
    "DatabaseNotReady",
    "ImportFileError",
    "ImportRejected",
    "ImportReport",
    "IssuedForm",
    "NotFound",
    "PayerPeriod",
    "Person",
    "PersonRoles",
    "RecordType",
    "RegistryError",
    "Rejection",
    "Role",
    "RoleKind",
    "Subscription",
    "SubscriptionPayer",
    "SubscriptionView",
    "TypeCounts",
    "company_view",
    "current_revision",
    "find_client_by_subscription",
    "get_issued_form",
    "head_revision",
    "import_registry",
    "make_engine",
    "record_event",
    "record_issued_form",
    "require_current",
    "require_migrated",
    "session_scope",
    "upgrade_database",
    "upgrade_migrations",
]
