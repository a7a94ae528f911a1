"""Alembic environment for the work queue's tables (version table `alembic_version_review`).

Run through `workqueue.upgrade_queue` (part of `kopplingar db upgrade`), which
passes the open connection, after the registry's migrations. The metadata
(submissions, mail records, reviewers) is only used to autogenerate a revision.
"""

from __future__ import annotations

from alembic import context

import workqueue.mailmodels
import workqueue.reviewers  # noqa: F401  (registers the reviewer tables)
from workqueue.models import QUEUE_METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the work queue migrations run through kopplingar db upgrade")

context.configure(
    connection=connection,
    target_metadata=QUEUE_METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table=context.config.attributes.get("version_table", "alembic_version_review"),
)
with context.begin_transaction():
    context.run_migrations()
