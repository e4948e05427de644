"""Bar rows for tests, built independently of the code under test."""

from datetime import UTC, datetime

MINUTE_NS = 60_000_000_000
T0 = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z


def iso(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def rows(
    n: int, start_ns: int = T0, step_ns: int = MINUTE_NS, price: float = 100.0
) -> list[list[object]]:
    """n clean minute bars at 2 decimals: a gentle zig-zag, timestamps as ISO with Z."""
    out: list[list[object]] = []
    for i in range(n):
        o = round(price + (i % 7) * 0.13, 2)
        c = round(o + (0.05 if i % 2 else -0.04), 2)
        h = round(max(o, c) + 0.02, 2)
        lo = round(min(o, c) - 0.03, 2)
        out.append(
            [iso(start_ns + i * step_ns), f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", 100 + i]
        )
    return out
