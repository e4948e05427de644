"""Where feature-flag versions are kept (each write audited in its transaction)."""

from typing import Protocol

from quantdesk.domain.feature_flags import FeatureFlag


class FlagStore(Protocol):
    def current(self, name: str) -> FeatureFlag | None:
        """The newest stored version of ``name``; None when it was never stored."""
        ...

    def all_current(self) -> list[FeatureFlag]:
        """The newest stored version of every flag, by name."""
        ...

    def version(self, name: str, version: int) -> FeatureFlag | None: ...

    def add(
        self,
        flag: FeatureFlag,
        *,
        action: str,
        max_flags: int,
    ) -> FeatureFlag:
        """Store ``flag`` (its ``version`` one above the newest stored, 1 for a new name) with
        its audit event ``action``, atomically. ConflictError code ``flag_changed`` when the
        newest stored version is not ``flag.version - 1`` (another writer came first); code
        ``too_many_flags`` when a new name would make more than ``max_flags``."""
        ...

    def history(self, name: str, *, limit: int, offset: int) -> tuple[list[FeatureFlag], int]:
        """Stored versions of ``name``, newest first, one page, and how many there are."""
        ...
