"""One error hierarchy: every failure a user can meet says what happened and what to do."""


class QuantdeskError(Exception):
    """Base of every error quantdesk raises on purpose.

    ``hint`` tells the user what to do next; interfaces print it beside the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class InvalidInputError(QuantdeskError):
    """A value given by the user (flag, file content, definition) breaks a rule."""


class NotFoundError(QuantdeskError):
    """Something named by the user does not exist (instrument, run, file)."""


class ConflictError(QuantdeskError):
    """The request contradicts what is already stored."""


class SourceReadError(QuantdeskError):
    """An input file cannot be read at all (missing, unreadable, wrong layout)."""


class NothingValidError(QuantdeskError):
    """An input was read but not one of its records passed validation."""


class CatalogError(QuantdeskError):
    """The market-data catalog is unusable or a write to it failed (and was rolled back)."""
