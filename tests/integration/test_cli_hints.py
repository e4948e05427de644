"""Services word their hints for any interface; the CLI renders its flags from the error's
code (issue 14: "no service text names a CLI flag"). Each case raises at its real site."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.cli.errors import CLI_HINTS, hint_of
from quantdesk.domain.errors import QuantdeskError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions
from quantdesk.domain.optimisation.space import ParameterRange, SearchSpace, default_space
from quantdesk.domain.optimisation.study import (
    Objective,
    Rerun,
    Sampler,
    StudyRecord,
    StudyReport,
    StudyState,
)
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.migrations import MigrationService
from quantdesk.services.optimisation import studies
from quantdesk.services.optimisation.objective import objective_of
from quantdesk.services.platform import Platform
from quantdesk.services.signal_producers.base import require_bars
from support.registry import trend
from support.table_sources import CorruptingCatalog, ListTableSource, bars_mapping


def instrument_redefined(desk: Platform, tmp_path: Path) -> None:
    spec = InstrumentSpec(
        instrument_id="ACME.XNAS",
        asset_class=AssetClass.EQUITY,
        currency="USD",
        tick_size=Decimal("0.01"),
    )
    desk.instruments.add(spec)
    desk.instruments.add(spec.model_copy(update={"currency": "EUR"}))


def bad_bar_spec(desk: Platform, tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text("timestamp,open,high,low,close,volume\n")
    desk.ingest.ingest_bars(bars, "ACME.XNAS", "1-FORTNIGHT-LAST")


def no_volume_column(desk: Platform, tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    bars.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,1,1,1\n")
    BarFileSource().read_bars(bars, BarIngestOptions())


def too_few_bars(desk: Platform, tmp_path: Path) -> None:
    require_bars("volatility", "ACME.XNAS-1-MINUTE-LAST-EXTERNAL", 3, 100, "the fit window")


def switch_not_thrown(desk: Platform, tmp_path: Path) -> None:
    desk.risk.release(KillSwitchScope.INSTRUMENT, "ACME.XNAS", "ana")


def unknown_run(desk: Platform, tmp_path: Path) -> None:
    desk.backtests.result("20990101T000000Z-ffffffff")


def no_run_id(desk: Platform, tmp_path: Path) -> None:
    desk.backtests.result("")


def unknown_objective(desk: Platform, tmp_path: Path) -> None:
    objective_of("alpha")


def custom_without_weights(desk: Platform, tmp_path: Path) -> None:
    objective_of("custom")


def bad_study_name(desk: Platform, tmp_path: Path) -> None:
    desk.research.optimisation.optimize(
        "nothing@1",
        trials=5,
        objective=Objective(),
        sampler=Sampler.TPE,
        seed=1,
        study_name="not a name",
    )


def zero_trials(desk: Platform, tmp_path: Path) -> None:
    desk.research.optimisation.optimize(
        "nothing@1", trials=0, objective=Objective(), sampler=Sampler.TPE, seed=1
    )


def nothing_to_tune(desk: Platform, tmp_path: Path) -> None:
    custom = StrategyDefinition.model_validate(
        {
            "strategy_id": "mine",
            "family": "custom",
            "name": "my own",
            "instruments": ["SYN01.SIM"],
            "parameters": {"strategy_path": "a.b:C", "config_path": "a.b:D"},
        }
    )
    default_space(custom)


_SPACE = SearchSpace(
    family="trend_following",
    parameters=(ParameterRange(name="fast_period", kind="int", low=5, high=9),),
)


def resumed_with_another_seed(desk: Platform, tmp_path: Path) -> None:
    objective = Objective()
    stored = StudyRecord(
        name="s",
        ref="t@1",
        space_sha256=_SPACE.sha256,
        objective=objective.describe(),
        sampler=Sampler.TPE,
        seed=1,
        state=StudyState.COMPLETED,
        trials_requested=5,
        created_ns=1,
        updated_ns=1,
    )
    studies.study_record(stored, "s", "t@1", _SPACE, objective, Sampler.TPE, 2, 5, "ana", 2)


def rerun_differs(desk: Platform, tmp_path: Path) -> None:
    report = StudyReport(
        study_name="s",
        ref="t@1",
        objective=Objective(),
        sampler=Sampler.TPE,
        seed=1,
        space=_SPACE,
        trials=[],
        best_number=None,
        reruns=[Rerun(number=0, fingerprint="f", run_id="r", matched=False)],
        started_ns=1,
        finished_ns=2,
    )
    studies.check_reruns(report)


def live_unvalidated(desk: Platform, tmp_path: Path) -> None:
    desk.registry.register(trend(), "ana")
    desk.registry.tag("trend-a", 1, "live", "ana")


def validated_by_hand(desk: Platform, tmp_path: Path) -> None:
    desk.registry.register(trend(), "ana")
    desk.registry.tag("trend-a", 1, "validated", "ana")


def _bars_mapping(**change: object) -> SourceMapping:
    return bars_mapping(key=None, instrument={"instrument_id": "ACME.XNAS"}, **change)


def _migrations(desk: Platform, catalog: Any = None) -> MigrationService:
    """The desk's migrations on a one-row table held in memory (and ``catalog``, if given)."""
    desk.instruments.add(
        InstrumentSpec(
            instrument_id="ACME.XNAS",
            asset_class=AssetClass.EQUITY,
            currency="USD",
            tick_size=Decimal("0.01"),
        )
    )
    cells = {"open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    source = ListTableSource([{"ts": datetime(2024, 1, 2, tzinfo=UTC), **cells}])
    held = desk.migrations
    return MigrationService(catalog or held.catalog, held.store, lambda _: source)


def mapping_changed(desk: Platform, tmp_path: Path) -> None:
    service = _migrations(desk)
    service.migrate(_bars_mapping(), "memory")
    service.migrate(_bars_mapping(table="other_bars"), "memory")


def digest_differs(desk: Platform, tmp_path: Path) -> None:
    corrupting = CorruptingCatalog(desk.migrations.catalog)
    _migrations(desk, corrupting).migrate(_bars_mapping(), "memory")


def unknown_source(desk: Platform, tmp_path: Path) -> None:
    desk.migrations.source_url("f9", allow_url=True)


def nothing_migrated(desk: Platform, tmp_path: Path) -> None:
    _migrations(desk).verify(_bars_mapping(), "memory")


def unknown_migration(desk: Platform, tmp_path: Path) -> None:
    desk.migrations.rejections("mig-nothing")


CASES: dict[str, Callable[[Platform, Path], None]] = {
    "instrument_exists": instrument_redefined,
    "invalid_bar_spec": bad_bar_spec,
    "volume_column_missing": no_volume_column,
    "range_too_short": too_few_bars,
    "kill_switch_not_thrown": switch_not_thrown,
    "run_not_found": unknown_run,
    "run_id_missing": no_run_id,
    "invalid_objective": unknown_objective,
    "custom_objective_weights": custom_without_weights,
    "invalid_study_name": bad_study_name,
    "invalid_trials": zero_trials,
    "no_search_space": nothing_to_tune,
    "study_mismatch": resumed_with_another_seed,
    "rerun_mismatch": rerun_differs,
    "not_validated": live_unvalidated,
    "tag_reserved": validated_by_hand,
    "mapping_changed": mapping_changed,
    "chunk_digest_mismatch": digest_differs,
    "source_not_found": unknown_source,
    "migration_not_found": unknown_migration,
    "migration_not_started": nothing_migrated,
}


def test_every_cli_hint_has_a_raise_site_here() -> None:
    assert set(CASES) == set(CLI_HINTS)


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_service_hint_names_no_flag_and_the_cli_renders_its_own(
    code: str, desk: Platform, tmp_path: Path
) -> None:
    with pytest.raises(QuantdeskError) as raised:
        CASES[code](desk, tmp_path)
    error = raised.value
    assert error.code == code
    assert "--" not in str(error) and "quantdesk " not in (error.hint or "")
    assert hint_of(error) == CLI_HINTS[code]


def test_an_error_without_a_cli_hint_keeps_its_own() -> None:
    error = QuantdeskError("x", hint="do y", code="something_else")
    assert hint_of(error) == "do y"
