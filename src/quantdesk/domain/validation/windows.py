"""Walk-forward windows: in-sample ranges to fit on, each followed by its out-of-sample range.

Spec (ranges inclusive, as a ``BacktestRequest`` takes them; ``u = align_ns``):

- ``units = (end_ns - start_ns) // u``; the out-of-sample length is ``oos = units //
  (windows + in_sample_ratio)`` units and the in-sample length ``ins = floor(oos *
  in_sample_ratio)`` units; both must be at least one unit, else the range is too short.
- Window ``k`` (0-based) tests ``[start + (ins + k*oos)*u, start + (ins + (k+1)*oos)*u - 1]``;
  the last window's test runs on to ``end_ns``, so no data at the end goes untested.
- Rolling: window ``k`` fits on the ``ins`` units just before its test; anchored: on everything
  from ``start_ns`` up to its test. Either way a fit ends 1 ns before its test starts: no
  out-of-sample bar is ever in-sample, and the tests are disjoint and in time order.
"""

import math
from dataclasses import dataclass
from typing import Literal

from quantdesk.domain.errors import InvalidInputError


@dataclass(frozen=True)
class Window:
    index: int
    is_start_ns: int
    is_end_ns: int
    oos_start_ns: int
    oos_end_ns: int


def walk_forward_windows(
    start_ns: int,
    end_ns: int,
    *,
    windows: int,
    in_sample_ratio: float,
    mode: Literal["rolling", "anchored"],
    align_ns: int,
) -> list[Window]:
    """The windows of the spec above; ``InvalidInputError`` when the range cannot hold them."""
    if windows < 1 or in_sample_ratio <= 0 or align_ns < 1 or end_ns < start_ns:
        raise InvalidInputError(
            "walk-forward needs windows >= 1, an in-sample ratio > 0, an alignment >= 1 ns "
            "and a range that is one",
            code="invalid_windows",
            data={"windows": windows, "in_sample_ratio": in_sample_ratio, "align_ns": align_ns},
        )
    units = (end_ns - start_ns) // align_ns
    oos, ins = _lengths(units, windows, in_sample_ratio)
    if oos < 1 or ins < 1:
        raise InvalidInputError(
            f"the range holds {units} alignment units; {windows} walk-forward windows with an "
            f"in-sample ratio of {in_sample_ratio:g} need at least "
            f"{units_needed(windows, in_sample_ratio)}",
            code="range_too_short",
            data={"units": units, "windows": windows, "in_sample_ratio": in_sample_ratio},
        )
    out: list[Window] = []
    for k in range(windows):
        oos_start = start_ns + (ins + k * oos) * align_ns
        oos_end = end_ns if k == windows - 1 else oos_start + oos * align_ns - 1
        is_start = start_ns if mode == "anchored" else oos_start - ins * align_ns
        out.append(Window(k, is_start, oos_start - 1, oos_start, oos_end))
    return out


def units_needed(windows: int, in_sample_ratio: float) -> int:
    """The fewest alignment units a range needs for ``windows`` windows at that ratio."""

    def fits(units: int) -> bool:
        oos, ins = _lengths(units, windows, in_sample_ratio)
        return oos >= 1 and ins >= 1

    oos = max(1, math.ceil(1 / in_sample_ratio))  # the fewest with a whole in-sample unit
    units = max(1, math.ceil(oos * (windows + in_sample_ratio)))
    while not fits(units):  # float rounding: a step or two either way
        units += 1
    while units > 1 and fits(units - 1):
        units -= 1
    return units


def _lengths(units: int, windows: int, in_sample_ratio: float) -> tuple[int, int]:
    """Out-of-sample and in-sample lengths in units (the spec's ``oos`` and ``ins``)."""
    oos = int(units // (windows + in_sample_ratio))
    return oos, int(oos * in_sample_ratio)
