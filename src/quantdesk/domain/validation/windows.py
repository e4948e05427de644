"""Walk-forward windows: in-sample parts to fit on, each followed by an out-of-sample part.

Ranges are inclusive like ``BacktestRequest``'s: ``start_ns`` is the first bar close
included, ``end_ns`` the last. The range is cut in units of ``align_ns`` (the bar step)
counted from ``start_ns``: unit ``k`` holds the closes in ``[start + k*align, start +
(k+1)*align - 1]``, so every part starts on ``start_ns + k * align_ns`` and ends one
nanosecond before such a boundary (the last part is capped at ``end_ns``).

With ``U = (end_ns - start_ns) // align_ns + 1`` units, ``w`` windows and ratio ``r``:
each out-of-sample (OOS) part is ``oos = floor(U / (w + r))`` units and the in-sample (IS)
length ``is = floor(oos * r)`` units. The OOS parts are contiguous, equal and end at
``end_ns`` (the most recent data is tested; the few units left over lie at the start).
Rolling: window i's IS part is the ``is`` units just before its OOS part. Anchored: every
IS part starts at ``start_ns`` and ends just before its OOS part (it grows). Either way an
IS part never reaches into its own or any later OOS part.
"""

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from quantdesk.domain.errors import InvalidInputError

WalkForwardMode = Literal["rolling", "anchored"]


class Window(BaseModel):
    """One walk-forward window: fit on ``[is_start_ns, is_end_ns]``, test on the OOS part."""

    model_config = ConfigDict(frozen=True)

    index: int
    is_start_ns: int
    is_end_ns: int
    oos_start_ns: int
    oos_end_ns: int


def _invalid(message: str, **data: int | float | str) -> InvalidInputError:
    return InvalidInputError(message, code="walk_forward_windows", data=data)


def walk_forward_windows(
    start_ns: int,
    end_ns: int,
    *,
    windows: int,
    in_sample_ratio: float,
    mode: WalkForwardMode,
    align_ns: int,
) -> list[Window]:
    """The windows of the module docstring, in time order (index 0 first).

    Raises ``InvalidInputError`` (code ``walk_forward_windows``) for a bad argument or a
    range too short for ``windows`` OOS parts of at least one unit each plus an IS part
    of at least one unit.
    """
    if windows < 1:
        raise _invalid(f"walk-forward needs at least one window, got {windows}", windows=windows)
    if not (in_sample_ratio > 0 and math.isfinite(in_sample_ratio)):
        raise _invalid(
            f"the in-sample ratio must be positive, got {in_sample_ratio}",
            in_sample_ratio=in_sample_ratio,
        )
    if align_ns < 1:
        raise _invalid(f"the alignment step must be positive, got {align_ns}", align_ns=align_ns)
    if mode not in ("rolling", "anchored"):
        raise _invalid(f"unknown walk-forward mode {mode!r}", mode=str(mode))
    if end_ns < start_ns:
        raise _invalid("the range ends before it starts", start_ns=start_ns, end_ns=end_ns)
    units = (end_ns - start_ns) // align_ns + 1
    oos = int(units / (windows + in_sample_ratio))
    while oos > 0 and oos * windows + math.floor(oos * in_sample_ratio) > units:
        oos -= 1  # float rounding of the division above
    is_len = math.floor(oos * in_sample_ratio)
    if oos < 1 or is_len < 1:
        raise _invalid(
            f"the range holds {units} steps of {align_ns} ns: too few for {windows} "
            f"out-of-sample parts with in-sample parts {in_sample_ratio}x as long",
            units=units,
            windows=windows,
            in_sample_ratio=in_sample_ratio,
            align_ns=align_ns,
            start_ns=start_ns,
            end_ns=end_ns,
        )
    first_oos = units - windows * oos
    out: list[Window] = []
    for i in range(windows):
        oos_unit = first_oos + i * oos
        is_unit = 0 if mode == "anchored" else oos_unit - is_len
        out.append(
            Window(
                index=i,
                is_start_ns=start_ns + is_unit * align_ns,
                is_end_ns=start_ns + oos_unit * align_ns - 1,
                oos_start_ns=start_ns + oos_unit * align_ns,
                oos_end_ns=min(end_ns, start_ns + (oos_unit + oos) * align_ns - 1),
            )
        )
    return out
