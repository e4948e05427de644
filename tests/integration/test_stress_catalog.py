"""Stress scenarios on real Parquet catalogs: every scenario prepared, run and removed while
the real catalog's checksum stays the same; a scratch catalog holds the transformed bars on
the instrument's tick and backtests like the desk's own."""

import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.scratch_catalog import ParquetScratchCatalogs
from quantdesk.bootstrap import _settings, bootstrap
from quantdesk.bootstrap_research import _scratch_catalogs, trial_evaluator
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.domain.validation.policy import ALL_STRESS_SCENARIOS, Thresholds
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.trials import InlineTrialPool
from quantdesk.services.validation.stress import (
    prepare_stress,
    remove_scratch,
    shock_ns,
    stress_section,
)
from quantdesk.services.validation.stress_transforms import gap_down
from support.trial_specs import candidate, pinned_request

MARKET = SyntheticMarketConfig(instruments=1, days=2, seed=5)
BAR_TYPE = "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("stress") / "home"
    bootstrap(home=home).synthetic.synthesize(MARKET)
    return home


def data_range(home: Path) -> tuple[int, int]:
    _, first, last = ParquetCatalog(home / "catalog").bar_span(BAR_TYPE, 0, 2**62)
    return first, last


def test_every_scenario_runs_and_the_real_catalog_is_untouched(home: Path) -> None:
    settings = _settings(home)
    scratch = _scratch_catalogs(settings)
    pool = InlineTrialPool(trial_evaluator(settings))
    first, last = data_range(home)
    request = pinned_request(candidate("trend_following"), start_ns=first, end_ns=last)
    base = pool.run([TrialSpec(key="base", request=request)])[0]
    assert base.ok, base.error

    before = scratch.checksum()
    cases = prepare_stress(request, list(ALL_STRESS_SCENARIOS), scratch, key_prefix="s-", seed=1)
    roots = sorted({c.spec.catalog for c in cases if c.spec and c.spec.catalog})
    assert len(roots) == 4 and all(Path(r).parent == settings.scratch_dir for r in roots)
    try:
        specs = [c.spec for c in cases if c.spec is not None]
        outcomes = pool.run(specs)
    finally:
        remove_scratch(cases, scratch)
    after = scratch.checksum()
    assert before == after and len(before) == 64
    assert list(settings.scratch_dir.iterdir()) == []

    by_key: dict[str, TrialOutcome] = {o.key: o for o in outcomes}
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert len(specs) == 6  # four data scenarios, two venue scenarios; history not covered
    assert base.orders > 0 and base.metrics is not None
    for scenario in ("gap_down", "flash_crash", "volatility_x3", "feed_outage", "fee_shock"):
        assert by_key[f"s-{scenario}"].fingerprint != base.fingerprint, scenario
    for scenario in ("gap_down", "volatility_x3", "feed_outage", "wide_spread"):
        assert by_key[f"s-{scenario}"].fills_sha256 != base.fills_sha256, scenario  # traded apart
    shocked = by_key["s-fee_shock"].metrics
    assert shocked is not None and shocked.fees > base.metrics.fees
    section, checks = stress_section(
        cases, outcomes, Thresholds(max_stress_loss=0.5), before, after
    )
    assert section.catalog_checksum_before == section.catalog_checksum_after
    assert {c.name: c.passed for c in checks}["stress_catalog_untouched"]
    rows = {r.scenario: r for r in section.scenarios}
    assert rows["gap_down"].loss is not None and rows["historical:covid_2020"].skipped

    # the same scenarios again, on new scratch roots: the same trials, bit for bit
    again = prepare_stress(request, ["gap_down", "feed_outage"], scratch, key_prefix="s-", seed=1)
    try:
        repeated = pool.run([c.spec for c in again if c.spec is not None])
    finally:
        remove_scratch(again, scratch)
    for outcome in repeated:
        first_time = by_key[outcome.key]
        assert (outcome.fingerprint, outcome.fills_sha256) == (
            first_time.fingerprint,
            first_time.fills_sha256,
        )
    assert scratch.checksum() == before


def test_a_scratch_catalog_holds_the_transformed_bars(home: Path, tmp_path: Path) -> None:
    real = ParquetCatalog(home / "catalog")
    scratch = ParquetScratchCatalogs(real, tmp_path / "scratch")
    first, last = data_range(home)
    at = shock_ns("gap_down", first, last, 0)
    root = scratch.create("gap down!", [BAR_TYPE], first, last, gap_down(at))
    assert Path(root).name.startswith("gap-down-")
    copy = ParquetCatalog(Path(root))
    original, moved = real.read_bars(BAR_TYPE, first, last), copy.read_bars(BAR_TYPE, first, last)
    assert np.array_equal(original.ts_ns, moved.ts_ns)
    after = original.ts_ns >= at
    assert np.array_equal(moved.close[~after], original.close[~after])
    assert np.allclose(moved.close[after], np.round(original.close[after] * 0.8, 2), atol=1e-9)
    assert np.all(moved.high >= np.maximum(moved.open, moved.close))
    assert np.all(moved.low <= np.minimum(moved.open, moved.close))
    assert [i.instrument_id for i in copy.instruments()] == ["SYN01.SIM"]
    assert [r.source.split(";")[0] for r in copy.lineage()] == ["scratch:gap down!"]
    scratch.remove(root)
    assert not Path(root).exists()


def test_remove_refuses_what_it_did_not_create(home: Path, tmp_path: Path) -> None:
    real = ParquetCatalog(home / "catalog")
    scratch = ParquetScratchCatalogs(real, tmp_path / "scratch")
    with pytest.raises(InvalidInputError):
        scratch.remove(str(real.root))
    stray = tmp_path / "scratch" / "stray"
    stray.mkdir(parents=True)
    with pytest.raises(InvalidInputError):
        scratch.remove(str(stray))
    assert real.root.is_dir() and stray.is_dir()
    with pytest.raises(InvalidInputError, match="no instrument SYN09"):
        scratch.create("x", ["SYN09.SIM-1-MINUTE-LAST-EXTERNAL"], 0, 2**62, gap_down(0))
    with pytest.raises(InvalidInputError, match=r"no .* bars"):
        scratch.create("x", [BAR_TYPE], 0, 10, gap_down(0))
    assert list((tmp_path / "scratch").iterdir()) == [stray]  # failed copies left nothing


def test_the_checksum_sees_a_change_of_the_real_catalog(home: Path, tmp_path: Path) -> None:
    copied = tmp_path / "catalog"
    shutil.copytree(home / "catalog", copied)
    catalog = ParquetCatalog(copied)
    scratch = ParquetScratchCatalogs(catalog, tmp_path / "scratch")
    before = scratch.checksum()
    assert before == ParquetScratchCatalogs(ParquetCatalog(home / "catalog"), tmp_path).checksum()
    catalog.put_instrument(
        InstrumentSpec(
            instrument_id="NEW.SIM",
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    assert scratch.checksum() != before
