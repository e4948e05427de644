"""The synthetic market: deterministic to the byte, valid, regime-switching, mildly correlated."""

import hashlib
from pathlib import Path

import numpy as np

from quantdesk.bootstrap import bootstrap
from quantdesk.services.synthetic import Regime, SyntheticMarketConfig, generate_market


def data_files(home: Path) -> dict[str, str]:
    root = home / "catalog" / "data"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    config = SyntheticMarketConfig(instruments=2, days=2, seed=11)
    first, second = bootstrap(home=tmp_path / "a"), bootstrap(home=tmp_path / "b")
    first.synthetic.synthesize(config)
    second.synthetic.synthesize(config)
    files = data_files(first.home)
    assert len(files) == 4  # two instruments, two bar series
    assert files == data_files(second.home)
    other = bootstrap(home=tmp_path / "c")
    other.synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=2, seed=12))
    bar_files = {k: v for k, v in files.items() if k.startswith("bar/")}
    assert set(bar_files.values()).isdisjoint(data_files(other.home).values())


def test_synthesis_is_idempotent_and_passes_validation(tmp_path: Path) -> None:
    desk = bootstrap(home=tmp_path / "home")
    config = SyntheticMarketConfig(instruments=3, days=1, seed=5)
    summaries = desk.synthetic.synthesize(config)
    assert [(s.rows_written, s.rows_rejected) for s in summaries] == [(1440, 0)] * 3
    again = desk.synthetic.synthesize(config)
    assert [(s.rows_written, s.rows_already_present) for s in again] == [(0, 1440)] * 3
    assert [e.count for e in desk.catalog.entries()] == [1440] * 3
    assert [i.instrument_id for i in desk.instruments.list()] == [
        "SYN01.SIM",
        "SYN02.SIM",
        "SYN03.SIM",
    ]


def test_bars_are_valid_regimes_switch_and_returns_correlate_mildly() -> None:
    market = generate_market(SyntheticMarketConfig(instruments=3, days=30, seed=3))
    for series in market:
        b = series.bars
        assert np.all(np.diff(b.ts_ns) == 60_000_000_000)
        assert np.all(b.low <= np.minimum(b.open, b.close))
        assert np.all(np.maximum(b.open, b.close) <= b.high)
        assert np.all(b.low > 0) and np.all(b.volume >= 0)
        assert np.array_equal(b.open[1:], b.close[:-1])
    regimes = market[0].regimes
    assert set(np.unique(regimes).tolist()) == {r.value for r in Regime}
    switches = int(np.count_nonzero(np.diff(regimes)))
    assert 5 <= switches <= 100  # about one a day over 30 days
    returns = np.array([np.diff(np.log(s.bars.close)) for s in market])
    correlation = np.corrcoef(returns)[np.triu_indices(3, k=1)]
    assert np.all((correlation > 0.1) & (correlation < 0.6)), correlation
    volatility = {r: float(np.std(returns[0][regimes[1:] == r.value])) for r in Regime}
    assert volatility[Regime.HIGH_VOLATILITY] > 2 * volatility[Regime.TRENDING]
