"""Timestamps are integer nanoseconds since the Unix epoch, UTC; these render them."""

from datetime import UTC, datetime


def ns_to_iso(ns: int) -> str:
    """ISO-8601 in UTC with nanoseconds, lossless (datetime alone stops at microseconds)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def ns_to_text(ns: int) -> str:
    """Short form for tables: fractions of a second only when there are any."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return base if nanos == 0 else f"{base}.{nanos:09d}".rstrip("0")
