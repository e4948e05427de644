"""Walk-forward windows over random ranges, sizes, ratios, modes and alignments."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.validation.windows import units_needed, walk_forward_windows

DAY = 86_400_000_000_000


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 2**62),
    units=st.integers(1, 5_000),
    tail=st.integers(0, 10**6),
    align=st.sampled_from([1, 60_000_000_000, DAY, 7 * DAY]),
    windows=st.integers(1, 30),
    ratio=st.floats(0.05, 20, allow_nan=False),
    mode=st.sampled_from(["rolling", "anchored"]),
)
def test_walk_forward_windows_never_use_out_of_sample_data_in_sample(
    start: int, units: int, tail: int, align: int, windows: int, ratio: float, mode: str
) -> None:
    # Property: walk-forward windows never use out-of-sample data in-sample
    end = start + units * align + tail % align
    assume(end < 2**63)
    try:
        cut = walk_forward_windows(
            start, end, windows=windows, in_sample_ratio=ratio, mode=mode, align_ns=align
        )  # type: ignore[arg-type]
    except InvalidInputError as error:
        assert error.code == "range_too_short"
        assert units // (windows + ratio) < 1 or int(units // (windows + ratio) * ratio) < 1
        return
    assert len(cut) == windows and cut[-1].oos_end_ns == end
    for k, window in enumerate(cut):
        assert window.index == k
        assert start <= window.is_start_ns <= window.is_end_ns < window.oos_start_ns
        assert window.oos_start_ns <= window.oos_end_ns <= end
        assert window.is_end_ns == window.oos_start_ns - 1  # fitted up to, never into, its test
        assert (window.oos_start_ns - start) % align == 0
        assert (window.is_start_ns - start) % align == 0
        if mode == "anchored":
            assert window.is_start_ns == start
        if k:
            assert cut[k - 1].oos_end_ns < window.oos_start_ns  # tests disjoint, in order
            assert cut[k - 1].oos_end_ns + 1 == window.oos_start_ns  # and leave nothing out


def test_rolling_in_sample_lengths_follow_the_ratio() -> None:
    cut = walk_forward_windows(
        0, 100 * DAY, windows=4, in_sample_ratio=3.0, mode="rolling", align_ns=DAY
    )
    oos = 100 // 7
    assert [w.oos_start_ns // DAY for w in cut] == [3 * oos + k * oos for k in range(4)]
    assert all(w.oos_start_ns - w.is_start_ns == 3 * oos * DAY for w in cut)


def test_a_range_too_short_is_refused_with_its_numbers() -> None:
    with pytest.raises(InvalidInputError) as refused:
        walk_forward_windows(
            0, 5 * DAY, windows=4, in_sample_ratio=3.0, mode="rolling", align_ns=DAY
        )
    assert refused.value.code == "range_too_short"
    assert refused.value.data == {"units": 5, "windows": 4, "in_sample_ratio": 3.0}
    assert "the range holds 5 alignment units; 4 walk-forward windows with an in-sample ratio" in (
        str(refused.value)
    )
    assert str(refused.value).endswith("need at least 7")  # 1 + 1 + 1 + 1 out, 3 in
    fits = walk_forward_windows(
        0, 7 * DAY, windows=4, in_sample_ratio=3.0, mode="rolling", align_ns=DAY
    )
    assert [w.oos_start_ns // DAY for w in fits] == [3, 4, 5, 6]


@settings(max_examples=200, deadline=None)
@given(windows=st.integers(1, 20), ratio=st.floats(0.05, 10.0, allow_nan=False))
def test_the_units_needed_are_exactly_the_fewest_that_fit(windows: int, ratio: float) -> None:
    # Property: the refusal's "need at least" is the fewest units walk-forward accepts
    needed = units_needed(windows, ratio)
    cut = walk_forward_windows(
        0, needed, windows=windows, in_sample_ratio=ratio, mode="rolling", align_ns=1
    )
    assert len(cut) == windows
    with pytest.raises(InvalidInputError) as refused:
        walk_forward_windows(
            0, needed - 1, windows=windows, in_sample_ratio=ratio, mode="rolling", align_ns=1
        )
    assert refused.value.code == "range_too_short"


def test_one_unit_in_sample_is_enough() -> None:
    cut = walk_forward_windows(0, 4, windows=2, in_sample_ratio=1.0, mode="rolling", align_ns=1)
    # 4 units over 2 windows at ratio 1: 1 unit out of sample each, 1 in sample before it
    assert [(w.is_start_ns, w.is_end_ns, w.oos_start_ns, w.oos_end_ns) for w in cut] == [
        (0, 0, 1, 1),
        (1, 1, 2, 4),
    ]


@pytest.mark.parametrize(
    ("windows", "ratio", "align", "end"),
    [(0, 1.0, 1, 10), (2, 0.0, 1, 10), (2, -1.0, 1, 10), (2, 1.0, 0, 10), (2, 1.0, 1, -1)],
)
def test_impossible_windows_are_refused_with_the_settings(
    windows: int, ratio: float, align: int, end: int
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        walk_forward_windows(
            0, end, windows=windows, in_sample_ratio=ratio, mode="rolling", align_ns=align
        )
    assert refused.value.code == "invalid_windows"
    assert refused.value.data == {"windows": windows, "in_sample_ratio": ratio, "align_ns": align}
    assert "walk-forward needs windows >= 1, an in-sample ratio > 0" in str(refused.value)


def test_an_empty_range_is_too_short_not_invalid() -> None:
    with pytest.raises(InvalidInputError) as refused:
        walk_forward_windows(5, 5, windows=1, in_sample_ratio=1.0, mode="rolling", align_ns=1)
    assert refused.value.code == "range_too_short"
