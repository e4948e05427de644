"""Whatever a request file or a flag says, the model either refuses it (a ``ValidationError``
only) or accepts a request the engine can run as stated."""

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.backtest_checks import SEED_MAX
from quantdesk.domain.numbers import FEE_RATE, LEVERAGE, MONEY, decimal_places
from quantdesk.domain.strategies.versions import parse_ref
from quantdesk.domain.time import in_ts_range

_EDGES = [-1, 0, 1, 2**63 - 1, 2**63, 9_223_200_000_000_000_000, 9_223_200_000_000_000_001]
timestamps = st.one_of(
    st.none(), st.sampled_from(_EDGES), st.integers(min_value=-(2**70), max_value=2**70)
)
decimal_text = st.builds(
    lambda sign, digits, exponent: f"{sign}{digits}e{exponent}",
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=-20, max_value=400),
)
amounts = st.one_of(decimal_text, st.sampled_from(["NaN", "Infinity", "0", "1", "1e999999"]))
strategy_refs = st.one_of(
    st.builds(
        lambda name, selector: name + selector,
        st.sampled_from(["trend-a", "pairs", "Bad", ""]),
        st.sampled_from(["", "@1", "@2", "@live", "@0", "@"]),
    ),
    st.builds(  # an old-style entry: never accepted any more
        lambda cls: {"strategy_path": f"pkg.mod:{cls}", "config_path": "pkg.mod:C", "config": {}},
        st.sampled_from(["EmaCross", "Other"]),
    ),
)
venues = st.fixed_dictionaries(
    {"name": st.just("SIM")},
    optional={
        "starting_balance": amounts,
        "default_leverage": amounts,
        "taker_fee": amounts,
        "bar_spread": amounts,
    },
)
requests = st.fixed_dictionaries(
    {
        "strategies": st.lists(strategy_refs, min_size=1, max_size=4),
    },
    optional={
        "start_ns": timestamps,
        "end_ns": timestamps,
        "seed": st.integers(min_value=-(2**70), max_value=2**70),
        "venues": st.lists(venues, max_size=1),
    },
)


def _bounded(value: Decimal | None, allowed: Any) -> bool:
    return value is None or (
        allowed.problem(value) is None
        and decimal_places(value) <= allowed.places
        and len(str(value)) <= 40
    )


# Property: an accepted request is runnable as stated: every timestamp in the engine's range
# and start <= end, a seed in 0..2^63-1, every decimal bounded and short, strategies registry
# references, none named twice. A refusal is a ValidationError, never anything else.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requests)
def test_an_accepted_request_is_runnable_as_stated(data: dict[str, Any]) -> None:
    try:
        request = BacktestRequest.model_validate(data)
    except ValidationError:
        return
    for ts in (request.start_ns, request.end_ns):
        assert ts is None or in_ts_range(ts)
    if request.start_ns is not None and request.end_ns is not None:
        assert request.start_ns <= request.end_ns
    assert 0 <= request.seed <= SEED_MAX
    assert len(request.strategies) == len(set(request.strategies))  # no strategy twice
    for ref in request.strategies:  # every one a registry reference
        assert isinstance(ref, str) and parse_ref(ref)[0]
    for venue in request.venues:
        assert _bounded(venue.starting_balance, MONEY)
        assert _bounded(venue.default_leverage, LEVERAGE)
        assert _bounded(venue.taker_fee, FEE_RATE)
        assert venue.bar_spread is None or (
            venue.bar_spread >= 0 and len(str(venue.bar_spread)) <= 40
        )
