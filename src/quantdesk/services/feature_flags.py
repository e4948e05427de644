"""Feature flags: read, change (a new version, audited), revert, and decide per request.

Nothing is cached: every ``evaluate``/``require`` reads the flag's newest version from the
store, so a change made by any server process applies to the very next request everywhere.
A seeded flag nobody changed is its built-in default (version 0), so a new desk needs no
write to have them and several processes starting at once never race to create them.
"""

import time
from collections.abc import Callable

from quantdesk.domain.auth import Principal, Role
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.errors import (
    ConflictError,
    FeatureDisabledError,
    InvalidInputError,
    NotFoundError,
)
from quantdesk.domain.feature_flags import (
    SEEDED,
    FeatureFlag,
    FlagDecision,
    FlagSettings,
    FlagUpdate,
    checked_flag_name,
    decide,
    flag_changed,
    seeded_default,
)
from quantdesk.domain.text import ACTOR_MAX_LENGTH, validate_actor, validate_reason
from quantdesk.services.ports.feature_flags import FlagStore

MAX_FLAGS = 200
HISTORY_LIMIT_MAX = 1000
OFFSET_MAX = 10**9
VERSION_MAX = 2**31 - 1
ACTION_SET = "feature_flag_set"
ACTION_REVERTED = "feature_flag_reverted"
WRITE_ATTEMPTS = 5
"""Tries of a write racing other writers of the same flag (each re-reads the newest)."""


class FeatureFlagService:
    def __init__(
        self,
        store: FlagStore,
        *,
        environment: str,
        clock: Callable[[], int] = time.time_ns,
        max_flags: int = MAX_FLAGS,
    ) -> None:
        self._store = store
        self._environment = environment
        self._clock = clock
        self._max_flags = max_flags

    @property
    def environment(self) -> str:
        """The deployment environment flags are decided in (settings.environment)."""
        return self._environment

    def flags(self) -> list[FeatureFlag]:
        """Every flag at its newest version (seeded ones at version 0 until changed), by name."""
        stored = {flag.name: flag for flag in self._store.all_current()}
        for name in SEEDED:
            if name not in stored:
                default = seeded_default(name)
                assert default is not None
                stored[name] = default
        return [stored[name] for name in sorted(stored)]

    def get(self, name: str) -> FeatureFlag:
        found = self._current(checked_flag_name(name))
        if found is None:
            raise NotFoundError(
                f"there is no feature flag {name}", code="flag_not_found", data={"flag": name}
            )
        return found

    def set(
        self,
        name: str,
        update: FlagUpdate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> FeatureFlag:
        """Apply ``update`` as the next version (a new flag when ``name`` is unknown), audited.
        The same settings again change nothing (the current version is returned);
        ``expected_version`` (the version the caller read; 0 for a default or a new flag)
        refuses a lost update."""
        reason = validate_reason(update.reason.strip())

        def changed(current: FeatureFlag | None) -> FlagSettings | None:
            base = FlagSettings() if current is None else current.settings()
            settings = update.applied_to(base)
            return None if current is not None and settings == base else settings

        return self._write(
            checked_flag_name(name),
            changed,
            actor=actor,
            reason=reason,
            action=ACTION_SET,
            expected_version=expected_version,
        )

    def history(
        self, name: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[FeatureFlag], int]:
        """Every value the flag had, newest first; a seeded flag's default (version 0) last."""
        name = checked_flag_name(name)
        if not 1 <= limit <= HISTORY_LIMIT_MAX:
            raise InvalidInputError(f"limit {limit} is outside 1 .. {HISTORY_LIMIT_MAX}")
        if not 0 <= offset <= OFFSET_MAX:
            raise InvalidInputError(f"offset {offset} is outside 0 .. {OFFSET_MAX:,}")
        page, total = self._store.history(name, limit=limit, offset=offset)
        default = seeded_default(name)
        if default is None:
            if total == 0:
                self.get(name)  # raises flag_not_found
            return page, total
        if offset <= total and offset + len(page) == total and len(page) < limit:
            page = [*page, default]
        return page, total + 1

    def revert(self, name: str, version: int, *, actor: str, reason: str = "") -> FeatureFlag:
        """A new version holding the settings of an earlier ``version`` (audited as a revert)."""
        name = checked_flag_name(name)
        if not 0 <= version <= VERSION_MAX:
            raise InvalidInputError(f"version {version} is not a version")
        earlier = seeded_default(name) if version == 0 else self._store.version(name, version)
        if earlier is None:
            raise NotFoundError(
                f"feature flag {name} has no version {version}",
                code="flag_version_not_found",
                data={"flag": name, "version": version},
            )
        return self._write(
            name,
            lambda current: earlier.settings(),
            actor=actor,
            reason=validate_reason(reason.strip()) or f"revert to version {version}",
            action=ACTION_REVERTED,
            reverted_from=version,
        )

    def decide(self, name: str, *, user_id: str, role: Role) -> FlagDecision:
        """Whether ``name`` is on for this user and role here, and why (read fresh)."""
        if not user_id or len(user_id) > ACTOR_MAX_LENGTH:
            raise InvalidInputError(
                f"a user id has 1-{ACTOR_MAX_LENGTH} characters", code="invalid_user_id"
            )
        flag = self.get(name)
        return decide(flag, user_id=user_id, role=Role(role), environment=self._environment)

    def evaluate(self, name: str, *, user_id: str, role: Role) -> bool:
        return self.decide(name, user_id=user_id, role=role).on

    def require(self, name: str, principal: Principal) -> None:
        """Raise FeatureDisabledError (data ``flag``, ``outcome``) unless ``name`` is on for
        the caller."""
        decision = self.decide(name, user_id=principal.user_id, role=principal.role)
        if not decision.on:
            raise FeatureDisabledError(
                f"the feature {name} is not enabled for you ({decision.outcome.value})",
                data={"flag": name, "outcome": decision.outcome.value},
            )

    def _current(self, name: str) -> FeatureFlag | None:
        stored = self._store.current(name)
        return seeded_default(name) if stored is None else stored

    def _write(
        self,
        name: str,
        compose: Callable[[FeatureFlag | None], FlagSettings | None],
        *,
        actor: str,
        reason: str,
        action: str,
        expected_version: int | None = None,
        reverted_from: int | None = None,
    ) -> FeatureFlag:
        """Store ``compose(current)`` as the next version (None: nothing changes). A writer
        that came first between the read and the write makes it read again, unless the
        caller named the version it expects (then the conflict is the answer)."""
        actor = validate_actor(actor)
        for _attempt in range(WRITE_ATTEMPTS):
            current = self._current(name)
            seen = 0 if current is None else current.version
            if expected_version is not None and expected_version != seen:
                raise flag_changed(name, seen, expected_version)
            settings = compose(current)
            if settings is None:
                assert current is not None
                return current
            flag = FeatureFlag(
                **settings.model_dump(),
                name=name,
                version=seen + 1,
                updated_by=actor,
                updated_at_ns=self._clock(),
                reason=reason,
                reverted_from=reverted_from,
                correlation_id=current_correlation_id(),
            )
            try:
                return self._store.add(flag, action=action, max_flags=self._max_flags)
            except ConflictError as error:
                if error.code != "flag_changed" or expected_version is not None:
                    raise
        raise ConflictError(
            f"feature flag {name} is changing too often to apply this; try again",
            code="flag_changed",
            data={"flag": name},
        )
