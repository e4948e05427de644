"""The database's schema migrations."""

from typing import Protocol


class SchemaMigrator(Protocol):
    """The database's schema: migrations applied on first use and by ``quantdesk db upgrade``."""

    @property
    def location(self) -> str:
        """Where the database is, without credentials."""
        ...

    def upgrade(self) -> list[str]: ...

    def current_revision(self) -> str | None: ...
