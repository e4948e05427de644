"""One error hierarchy: every failure a user can meet says what happened and what to do.

An error carries a stable ``code`` (machine-readable: the API's problem type, the CLI's hint
lookup) and ``data`` (the facts behind the message: field, value, row). ``hint`` is a plain
suggestion that names no interface's controls; each interface (CLI, API) renders its own
hint from the code and data where it has a better one.
"""

from collections.abc import Mapping
from typing import ClassVar

JsonScalar = str | int | float | bool | None


class QuantdeskError(Exception):
    """Base of every error quantdesk raises on purpose.

    ``hint`` tells the user what to do next; interfaces print it beside the message.
    ``code`` defaults to the class's; a raise site may name a finer one (``"instrument_exists"``).
    """

    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        data: Mapping[str, JsonScalar] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may be finer than its class
        self.data: dict[str, JsonScalar] = {} if data is None else dict(data)

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class InvalidInputError(QuantdeskError):
    """A value given by the user (flag, file content, definition) breaks a rule."""

    code = "invalid_input"


class NotFoundError(QuantdeskError):
    """Something named by the user does not exist (instrument, run, file)."""

    code = "not_found"


class ConflictError(QuantdeskError):
    """The request contradicts what is already stored."""

    code = "conflict"


class SourceReadError(QuantdeskError):
    """An input file cannot be read at all (missing, unreadable, wrong layout)."""

    code = "source_unreadable"


class NothingValidError(QuantdeskError):
    """An input was read but not one of its records passed validation."""

    code = "nothing_valid"


class CatalogError(QuantdeskError):
    """The market-data catalog is unusable or a write to it failed (and was rolled back)."""

    code = "catalog_error"


class AuthenticationError(QuantdeskError):
    """No valid credentials: unknown user, wrong password, expired or revoked token or key.

    The message never says which of these it was to an unauthenticated caller."""

    code = "unauthenticated"


class PermissionDeniedError(QuantdeskError):
    """The caller is authenticated but its role does not allow the action."""

    code = "forbidden"


class RateLimitedError(QuantdeskError):
    """Too many attempts (failed logins); ``data["retry_after_s"]`` says when to try again."""

    code = "rate_limited"


class FeatureDisabledError(QuantdeskError):
    """A feature flag turns the action off for this caller (``data["flag"]`` names it)."""

    code = "feature_disabled"


class JobStateError(ConflictError):
    """A job cannot do what was asked in its state (cancel a finished job, result of a failed
    one)."""

    code = "job_state"


class PromotionRefusedError(ConflictError):
    """A version without a passing validation record (or an admin's override) may not be
    tagged ``live`` or start a paper/live session; ``data`` names the version and why."""

    code = "not_validated"
