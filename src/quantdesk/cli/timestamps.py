"""Times typed by a user: ISO-8601 with a zone, or a date (midnight UTC)."""

from datetime import UTC, date, datetime

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.time import in_ts_range, ts_range_text


def parse_utc(text: str, flag: str) -> int:
    """Nanoseconds since the epoch; a bare date means 00:00 UTC of that day."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInputError(
            f"{flag} {text!r} is not ISO-8601", hint="e.g. 2024-01-01 or 2024-01-01T09:30Z"
        ) from error
    if moment.tzinfo is None:
        if len(text) == 10 and date.fromisoformat(text):
            moment = moment.replace(tzinfo=UTC)
        else:
            raise InvalidInputError(
                f"{flag} {text!r} has no timezone", hint="e.g. 2024-01-01T09:30Z"
            )
    whole = int(moment.replace(microsecond=0).timestamp())
    ns = whole * 1_000_000_000 + moment.microsecond * 1_000
    if not in_ts_range(ns):
        # Past this range the engine's int64 nanoseconds wrap or a bar's close shift overflows.
        raise InvalidInputError(
            f"{flag} {text!r} is outside the valid time range",
            hint=f"times must lie within {ts_range_text()}",
        )
    return ns
