"""The backtest fingerprint: equal for runs that must give equal results, different otherwise.

A run's fingerprint is how `backtest compare` and the run store tell "the same experiment"
from "another one": an input that decides the outcome but is left out of it (the seed, say)
would make two different runs look reproducible.
"""

import hashlib
import json
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

import quantdesk
from quantdesk.domain.backtest import (
    BacktestRequest,
    DataUsed,
    EngineOptions,
    SignalDataUsed,
    StrategySpec,
    VenueSpec,
)
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.risk import RiskConfig, RiskLimits
from quantdesk.services.backtest_plans import plan_of
from quantdesk.services.backtests import BacktestService
from support.registry import trend
from support.strategy_runs import raw_plan

BAR_TYPE = "A.SIM-1-MINUTE-LAST-EXTERNAL"


class Runner:
    """Only what the fingerprint reads of the engine: its version."""

    def __init__(self, version: str = "1.221.0") -> None:
        self.engine_version = version


def service(version: str = "1.221.0") -> BacktestService:
    unused = cast(Any, None)  # the fingerprint reads neither catalog, store nor renderer
    return BacktestService(unused, cast(Any, Runner(version)), unused, unused)


SPEC = StrategySpec(
    strategy_path="quantdesk.strategies.ema_cross:EmaCross",
    config_path="quantdesk.strategies.ema_cross:EmaCrossConfig",
    config={"instrument_id": "A.SIM", "bar_type": BAR_TYPE, "fast": 10, "slow": 50},
)


def request(spec: StrategySpec = SPEC, **changes: Any) -> RunPlan:
    risk = changes.pop("risk", None)
    fields: dict[str, Any] = {"start_ns": 1_000, "end_ns": 2_000, **changes}
    return raw_plan([spec], instruments=["A.SIM"], risk=risk, **fields)


def pinned(*definitions: Any) -> RunPlan:
    """The plan of a request pinned to these definitions (versions set as the registry would)."""
    versions = [d.model_copy(update={"version": 1}) for d in definitions]
    return plan_of(
        BacktestRequest(
            strategies=[f"{d.strategy_id}@1" for d in versions],
            pinned=versions,
            start_ns=1_000,
            end_ns=2_000,
        )
    )


DATA = [
    DataUsed(
        bar_type=BAR_TYPE,
        first_ts=1_000,
        last_ts=2_000,
        bars=2,
        file_sha256=["ab"],
        source_sha256=["cd"],
    )
]
SIGNALS = [
    SignalDataUsed(
        instrument_id="A.SIM",
        signal_types=None,
        signals=3,
        first_ts=1_000,
        last_ts=1_500,
        file_sha256=["ef"],
    )
]


def fingerprint(req: RunPlan, data: list[DataUsed] | None = None, **kw: Any) -> str:
    return service(**kw).fingerprint(req, DATA if data is None else data)


# Property 8: identical inputs give identical decisions -- so a fingerprint names the inputs
# exactly: the same seed gives the same fingerprint, any other seed another one.
@settings(max_examples=200)
@given(a=st.integers(0, 2**32 - 1), b=st.integers(0, 2**32 - 1))
def test_the_seed_enters_the_fingerprint(a: int, b: int) -> None:
    first, second = fingerprint(request(seed=a)), fingerprint(request(seed=b))

    assert (first == second) == (a == b)
    assert fingerprint(request(seed=a)) == first  # and the same request, the same hash


def test_two_requests_differing_only_in_seed_differ() -> None:
    assert fingerprint(request(seed=1)) != fingerprint(request(seed=2))
    assert fingerprint(request(seed=7)) == fingerprint(request(seed=7))


def test_what_decides_the_outcome_changes_the_fingerprint() -> None:
    base = fingerprint(request())
    others = {
        "end": fingerprint(request(end_ns=3_000)),
        "start": fingerprint(request(start_ns=1_500)),
        "risk": fingerprint(request(risk=RiskConfig(limits=RiskLimits(max_order_quantity=5)))),
        "venue": fingerprint(request(venues=[VenueSpec(starting_balance=10_000)])),
        "data": fingerprint(request(), [DATA[0].model_copy(update={"file_sha256": ["ff"]})]),
        "no data": fingerprint(request(), []),
        "a rate series": fingerprint(
            request(),
            [
                *DATA,
                DATA[0].model_copy(
                    update={"bar_type": "USD/JPY.SIM-1-MINUTE-MID-EXTERNAL", "purpose": "rate"}
                ),
            ],
        ),
        "as a rate": fingerprint(request(), [DATA[0].model_copy(update={"purpose": "rate"})]),
        "engine version": fingerprint(request(), version="1.222.0"),
        "parameter": fingerprint(
            request(SPEC.model_copy(update={"config": {**SPEC.config, "fast": 11}}))
        ),
    }

    assert base not in others.values()
    assert len(set(others.values())) == len(others)


def test_engine_options_and_label_do_not_change_it() -> None:
    base = fingerprint(request())

    assert fingerprint(request(label="try 2")) == base
    assert fingerprint(request(engine=EngineOptions(chunk_size=10, log_level="OFF"))) == base
    assert fingerprint(request(engine=EngineOptions(purge=False))) == base


def test_pinned_definitions_enter_by_content_not_bookkeeping() -> None:
    """The definitions' content hashes decide; who registered them, when and why do not."""
    base = fingerprint(pinned(trend()))
    later = trend().model_copy(update={"author": "bob", "reason": "again"})

    assert fingerprint(pinned(later)) == base
    assert fingerprint(pinned(trend(fast_period=11))) != base
    assert fingerprint(pinned(trend(), trend("trend-b"))) != base


def test_quantdesk_version_enters_the_fingerprint(monkeypatch: Any) -> None:
    base = fingerprint(request())

    monkeypatch.setattr(quantdesk, "__version__", quantdesk.__version__ + ".post1")

    assert fingerprint(request()) != base


def test_signals_enter_it_only_when_replayed() -> None:
    quiet, replaying = request(), request(signals="all")
    backtests = service()

    # Without replay, signal data is no input: it is ignored, and the request's own
    # "signals" field is left out, so runs hash as they did before signals existed.
    assert backtests.fingerprint(quiet, DATA, SIGNALS) == backtests.fingerprint(quiet, DATA)
    assert "signals" in quiet.request.model_dump() and quiet.request.signals == "none"
    with_signals = backtests.fingerprint(replaying, DATA, SIGNALS)
    assert with_signals != backtests.fingerprint(quiet, DATA, SIGNALS)
    assert with_signals != backtests.fingerprint(replaying, DATA, [])
    assert with_signals != backtests.fingerprint(
        replaying, DATA, [SIGNALS[0].model_copy(update={"signals": 4})]
    )
    assert backtests.fingerprint(replaying, DATA, None) == backtests.fingerprint(
        replaying, DATA, []
    )


def test_it_is_a_sha256_hex_digest() -> None:
    value = fingerprint(request())

    assert len(value) == 64 and int(value, 16) >= 0


def documented(payload: dict[str, Any]) -> str:
    """The fingerprint's definition: sha256 of the payload as compact JSON, keys sorted."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def test_it_is_the_documented_hash_so_stored_runs_stay_comparable() -> None:
    # `backtest compare` holds a stored run's fingerprint against a new run's of the same
    # version: the recipe itself (what is hashed, under which names) must not drift.
    quiet, replaying = request(seed=3), request(seed=3, signals="all")
    common = {
        # fields at their default left out: runs on bars hash as before tick feeds existed
        "data": [d.model_dump(mode="json", exclude_defaults=True) for d in DATA],
        "quantdesk": quantdesk.__version__,
        "nautilus_trader": "1.221.0",
        "strategies": [
            {"ref": s.ref, "content_hash": s.content_hash, "spec": s.spec.model_dump(mode="json")}
            for s in quiet.strategies
        ],
        "risk": quiet.risk.model_dump(mode="json"),
    }
    excluded = {"engine", "label", "pinned"}
    without = quiet.request.model_dump(mode="json", exclude=excluded | {"signals"})
    with_signals = replaying.request.model_dump(mode="json", exclude=excluded)

    assert fingerprint(quiet) == documented({"request": without, **common})
    assert service().fingerprint(replaying, DATA, SIGNALS) == documented(
        {
            "request": with_signals,
            **common,
            "signals": [s.model_dump(mode="json") for s in SIGNALS],
        }
    )
