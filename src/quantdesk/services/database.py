"""The desk's database as a use case: migrate it (``quantdesk db upgrade``), ask its revision."""

from quantdesk.services.ports import SchemaMigrator


class DatabaseService:
    def __init__(self, migrator: SchemaMigrator) -> None:
        self._migrator = migrator

    def upgrade(self) -> list[str]:
        """Apply pending migrations; the revisions applied (empty: already up to date)."""
        return self._migrator.upgrade()

    def revision(self) -> str | None:
        return self._migrator.current_revision()

    @property
    def location(self) -> str:
        return self._migrator.location
