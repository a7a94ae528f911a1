"""The customer pages: people in the registry sign in by link and act for their companies.

A firm's people see its clients (labels, consultants' personal client lists)
and start digital disconnections and dual connections; a client's
administrators approve them by a mailed link and grant consultants their
programs. Everything goes through the registry's own rules and audit trail.

Public API; `portal.web` (the pages, which pull in FastAPI) is public to the
app assembly only.
"""

from portal.errors import PortalError
from portal.signin import CompanyRoles, Customer, SignInPolicy

__all__ = ["CompanyRoles", "Customer", "PortalError", "SignInPolicy"]
