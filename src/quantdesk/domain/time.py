"""Timestamps are integer nanoseconds since the Unix epoch, UTC; these check and render them.

The valid range is what the engine can hold with room to spare: it stores ``uint64`` and
pandas (its wrangler) ``int64`` nanoseconds, so nothing before 1970 and nothing within two
days of the int64 limit (2262-04-11T23:47:16Z), where adding a bar's length or a clock step
would wrap. Every timestamp entering the catalog is checked against it, after any shift.
"""

from datetime import UTC, datetime

TS_MIN_NS = 0
"""1970-01-01T00:00:00Z, the first valid timestamp."""
TS_MAX_NS = 9_223_200_000_000_000_000
"""2262-04-10T00:00:00Z, the last valid timestamp."""


def in_ts_range(ns: int) -> bool:
    return TS_MIN_NS <= ns <= TS_MAX_NS


def ts_range_text() -> str:
    return f"{ns_to_text(TS_MIN_NS)} .. {ns_to_text(TS_MAX_NS)} UTC"


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


def describe_ns(ns: int) -> str:
    """A timestamp for a message, even one far outside the valid range."""
    try:
        return ns_to_text(ns) + " UTC"
    except (OverflowError, OSError, ValueError):
        return f"{ns} ns since 1970"
