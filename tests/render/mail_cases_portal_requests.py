"""Sample contexts, subjects and required phrases of the customer pages' requests mails."""

from __future__ import annotations

CONTEXTS: dict[str, dict[str, object]] = {}
MUST_SAY: dict[str, list[str]] = {}
SUBJECTS: dict[str, str] = {}
