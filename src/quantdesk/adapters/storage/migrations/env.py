"""Alembic environment: runs on the connection ``Database.upgrade`` hands over (no ini file)."""

from alembic import context
from sqlalchemy.engine import Connection

from quantdesk.adapters.storage.tables import Base

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
