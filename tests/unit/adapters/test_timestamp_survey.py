"""``auto`` timestamps decided from a whole column seen a chunk at a time."""

import itertools

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.adapters.sources.bar_cells import TimestampSurvey, parse_timestamps
from quantdesk.domain.market_data import BarIngestOptions, TimestampFormat

BOUNDS = (10**11, 10**14, 10**17)  # where seconds end, then milliseconds, microseconds
NEAR_A_BOUND = st.builds(
    lambda bound, offset: bound + offset, st.sampled_from(BOUNDS), st.integers(-3, 3)
)
CELL = NEAR_A_BOUND.map(str) | st.integers(0, 2 * 10**18).map(str) | st.sampled_from(["", "x"])


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(CELL, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=4))
def test_property_30_auto_timestamps_read_in_chunks_read_as_the_whole_column(
    cells: list[str], cuts: list[int]
) -> None:
    # Property 30: invalid data is rejected at ingest -- the same cells, judged the same,
    # whichever chunks the column comes in (the epoch unit comes from the whole column's
    # median magnitude, found exactly from bands; text that is not an epoch makes it ISO)
    whole = pa.chunked_array([pa.array(cells, pa.string())])
    options = BarIngestOptions()
    ts, status = parse_timestamps(whole, options)
    edges = sorted({0, len(cells), *(min(c, len(cells)) for c in cuts)})
    parts = [whole.slice(a, b - a) for a, b in itertools.pairwise(edges)]
    survey = TimestampSurvey(options)
    for part in parts:
        survey.add(part)
    resolved = survey.resolve(options)
    assert resolved.timestamp_format is not TimestampFormat.AUTO
    read = [parse_timestamps(part, resolved) for part in parts]
    assert np.concatenate([np.empty(0, np.int64), *(r[0] for r in read)]).tolist() == ts.tolist()
    assert np.concatenate([np.empty(0, np.uint8), *(r[1] for r in read)]).tolist() == (
        status.tolist()
    )


def test_an_even_count_straddling_a_bound_takes_the_mean_of_the_middle_two() -> None:
    # median of [9e10, 9e10, 2e11, 2e11] is 1.45e11: milliseconds, though half are seconds
    cells = ["90000000000", "200000000000", "90000000000", "200000000000"]
    survey = TimestampSurvey(BarIngestOptions())
    for cell in cells:
        survey.add(pa.chunked_array([pa.array([cell])]))
    assert survey.resolve(BarIngestOptions()).timestamp_format is TimestampFormat.MILLISECONDS
