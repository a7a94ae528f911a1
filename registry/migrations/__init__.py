"""Alembic migrations of the registry schema (run through registry.upgrade_database)."""
