"""Alembic environment of the review store: runs on the connection the store hands over
(``config.attributes["connection"]``) or, from the command line, on ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from metareview.review import accounts, allocation, dedup_queue, queue  # noqa: F401  (their tables join Base)
from metareview.review.models import Base

config = context.config


def _run(connection) -> None:
    # batch mode lets SQLite (which cannot ALTER most things) take the same migrations
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # pragma: no cover - command-line use: alembic -x ... upgrade head
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        _run(conn)
