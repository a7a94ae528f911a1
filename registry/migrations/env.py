"""Alembic environment: runs the registry's migrations on the connection it is given.

`registry.db.upgrade_database` passes an open connection in
`config.attributes["connection"]`; there is no URL in a config file, so the
migrations always run on the database the application itself would use.
"""

from __future__ import annotations

from alembic import context

from registry.models import REGISTRY_METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the registry migrations run through registry.upgrade_database "
        "(kopplingar db upgrade), which passes the connection"
    )

context.configure(
    connection=connection,
    target_metadata=REGISTRY_METADATA,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table=context.config.attributes.get("version_table", "alembic_version"),
)
with context.begin_transaction():
    context.run_migrations()
