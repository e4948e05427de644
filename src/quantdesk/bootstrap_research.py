"""The research parts of the composition root (``Platform.research``): validation policies
and records, the promotion gate, the validation pipeline, optimisation and trial pools.

Each builder below belongs to the feature that needs it; ``build_research`` composes them.
Kept apart from ``bootstrap`` so neither grows past a screenful of wiring per concern.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.research_parts import ResearchParts, TrialPools
from quantdesk.services.validation.pipeline import ValidationService
from quantdesk.services.validation.policies import PolicyService
from quantdesk.services.validation.promotion import PromotionGate
from quantdesk.settings import QuantdeskSettings

if TYPE_CHECKING:
    from typing import TextIO

    from quantdesk.domain.validation.report import ValidationReport
    from quantdesk.services.backtests import BacktestService
    from quantdesk.services.platform import Platform
    from quantdesk.services.plugins import PluginGate
    from quantdesk.services.ports.optimisation import OptimisationReportRenderer
    from quantdesk.services.ports.scratch import ScratchCatalogs
    from quantdesk.services.ports.trials import TrialPool
    from quantdesk.services.ports.validation import ValidationReports
    from quantdesk.services.trials import TrialEvaluator


def build_research(settings: QuantdeskSettings, platform: "Platform") -> ResearchParts:
    pools = _trial_pools(settings, platform)
    policies = _policies(settings, platform)
    promotion = _promotion(settings, platform)
    optimisation = _optimisation(settings, platform, pools)
    validation = _validation(settings, platform, pools, policies, promotion, optimisation)
    return ResearchParts(
        policies=policies,
        validation=validation,
        promotion=promotion,
        optimisation=optimisation,
        pools=pools,
    )


def _trial_pools(settings: QuantdeskSettings, platform: "Platform") -> TrialPools:
    """Where a sweep's trials run: a Ray address (the call's, else ``settings.ray_address``)
    -> actors on that cluster; ``workers`` > 1 -> that many warm local processes; else this
    process, on one engine kept for the platform's life (so consecutive sweeps stay warm;
    not for sweeps on several threads at once). Workers get ``_trial_pools_config``: the
    settings a trial engine needs and nothing else (no secret, no database)."""
    inline: list[TrialEvaluator] = []

    def open_pool(workers: int, ray_address: str | None) -> "TrialPool":
        address = ray_address or settings.ray_address
        if address:
            from quantdesk.adapters.jobs.ray_pool import RayTrialPool

            return RayTrialPool(address, workers, _trial_pools_config(settings))
        if workers > 1:
            from quantdesk.adapters.jobs.trial_pool import ProcessTrialPool

            return ProcessTrialPool(workers, _trial_pools_config(settings))
        from quantdesk.services.trials import InlineTrialPool

        if not inline:
            inline.append(trial_evaluator(settings))
        return InlineTrialPool(inline[0])

    return TrialPools(open=open_pool)


def _trial_pools_config(settings: QuantdeskSettings) -> str:
    """The worker config (JSON): the home (its catalog and scratch catalogs, as an absolute
    path: a Ray worker's directory is not ours) and the plug-in policy."""
    import json

    return json.dumps(
        {
            "home": str(settings.home.resolve()),
            "plugin_packages": list(settings.plugin_packages),
            "plugin_paths": [str(path) for path in settings.plugin_paths],
            "plugin_check_seconds": settings.plugin_check_seconds,
        },
        sort_keys=True,
    )


def trial_worker(worker_config: str) -> "TrialEvaluator":
    """A pool worker's engine (``ProcessTrialPool`` and ``RayTrialPool`` name this function
    by its import path and call it once per worker): ``trial_evaluator`` on the settings of
    ``_trial_pools_config``."""
    import json

    return trial_evaluator(QuantdeskSettings.model_validate(json.loads(worker_config)))


def trial_evaluator(settings: QuantdeskSettings) -> "TrialEvaluator":
    """The trial engine of one process (a pool's worker builds it once): the desk's catalog
    on the warm runner, the plug-in policy of ``settings``; no database (a trial's request
    carries its pinned definitions) and nothing stored. A scratch catalog's root gets a
    service of its own, built the same way, on first use (the evaluator keeps it)."""
    from quantdesk.adapters.nautilus.memory import share_one_allocator
    from quantdesk.bootstrap import _plugins
    from quantdesk.services.trials import TrialEvaluator

    share_one_allocator()
    plugins = _plugins(settings)
    return TrialEvaluator(
        _trial_service(settings, settings.catalog_dir, plugins),
        lambda root: _trial_service(settings, Path(root), plugins),
    )


def _trial_service(
    settings: QuantdeskSettings, root: Path, plugins: "PluginGate"
) -> "BacktestService":
    """A backtest service for trials on the catalog at ``root`` (its run store and renderer
    are never used: ``evaluate`` stores nothing)."""
    from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
    from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
    from quantdesk.adapters.nautilus.warm_catalog import WarmCatalog
    from quantdesk.adapters.nautilus.warm_runner import WarmBacktestRunner
    from quantdesk.adapters.reporting.html_report import HtmlReportRenderer
    from quantdesk.adapters.storage.run_store import FileRunStore
    from quantdesk.services.backtests import BacktestService

    catalog = WarmCatalog(root)  # reads kept between trials, per file identity
    return BacktestService(
        catalog,
        WarmBacktestRunner(catalog),
        FileRunStore(settings.runs_dir),
        HtmlReportRenderer(),
        signals=ParquetSignalStore(root),
        plugins=plugins,
        ticks=ParquetTickCatalog(root),
    )


def _policies(settings: QuantdeskSettings, platform: "Platform") -> PolicyService:
    """Policies on the registry's database, their changes on its audit chain."""
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.validation_policies import SqlPolicyStore
    from quantdesk.bootstrap import _audit_key

    return PolicyService(SqlPolicyStore(Database(settings.database), _audit_key(settings)))


def _promotion(settings: QuantdeskSettings, platform: "Platform") -> PromotionGate:
    """Records and overrides on the registry's database, reports under validations_dir; the
    gate becomes the registry's tag guard (``live`` and ``validated`` pass through it)."""
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.validation_records import SqlValidationRecordStore
    from quantdesk.bootstrap import _audit_key

    records = SqlValidationRecordStore(Database(settings.database), _audit_key(settings))
    gate = PromotionGate(records, platform.registry, _promotion_reports(settings))
    platform.registry.guard_tags(gate.check_tag)
    return gate


def _promotion_reports(settings: QuantdeskSettings) -> "ValidationReports":
    """Report files: JSON beside the HTML the reporting adapter renders (imported when a
    report is first written: plotly is not needed to read one back)."""
    from quantdesk.adapters.storage.validation_reports import FileValidationReports

    def render(report: "ValidationReport", out: "TextIO") -> None:
        from quantdesk.adapters.reporting.validation_html import HtmlValidationReportRenderer

        HtmlValidationReportRenderer().write(report, out)

    return FileValidationReports(settings.validations_dir, render)


def _optimisation(
    settings: QuantdeskSettings, platform: "Platform", pools: TrialPools
) -> OptimisationService:
    """Optuna studies beside the registry's database (its tables kept apart from ours: see
    ``adapters.optimisation.optuna_study``), quantdesk's study records in it, reports under
    studies_dir, trials on the research pools."""
    from quantdesk.adapters.nautilus.catalog import ParquetCatalog
    from quantdesk.adapters.optimisation.optuna_study import OptunaStudyBackend
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.study_records import SqlStudyRecordStore

    return OptimisationService(
        OptunaStudyBackend(settings.database),
        registry=lambda: platform.registry,
        backtests=platform.backtests,
        pools=pools.open,
        records=SqlStudyRecordStore(Database(settings.database)),
        renderer=_optimisation_renderer(),
        studies_dir=settings.studies_dir,
        workers=settings.sweep_workers,
        ray_address=settings.ray_address,
        closes=ParquetCatalog(settings.catalog_dir).read_closes,  # the screen's input
    )


def _optimisation_renderer() -> "OptimisationReportRenderer | None":
    """[H8]'s HTML renderer, by name until it lands (None: the report is JSON only)."""
    import importlib
    import importlib.util

    name = "quantdesk.adapters.reporting.optimisation_html"
    if importlib.util.find_spec(name) is None:
        return None
    renderer: OptimisationReportRenderer = importlib.import_module(
        name
    ).HtmlOptimisationReportRenderer()
    return renderer


def _validation(
    settings: QuantdeskSettings,
    platform: "Platform",
    pools: TrialPools,
    policies: PolicyService,
    promotion: PromotionGate,
    optimisation: OptimisationService,
) -> ValidationService:
    """The pipeline on the desk's registry, catalog and signal buffer; its trials on the
    research pools (``settings.sweep_workers`` / ``ray_address`` by default), stress data in
    scratch catalogs under ``settings.scratch_dir``, reports through the gate's files; the
    study records tell which optimisation chose a version (its trials count as tries)."""
    from quantdesk.adapters.nautilus.catalog import ParquetCatalog
    from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
    from quantdesk.adapters.storage.database import Database
    from quantdesk.adapters.storage.study_records import SqlStudyRecordStore
    from quantdesk.services.validation.pipeline import ValidationParts

    catalog = ParquetCatalog(settings.catalog_dir)
    return ValidationService(
        ValidationParts(
            registry=platform.registry,
            backtests=platform.backtests,
            catalog=catalog,
            signals=ParquetSignalStore(settings.catalog_dir),
            policies=policies,
            promotion=promotion,
            optimisation=optimisation,
            open_pool=pools.open,
            scratch=lambda: _scratch_catalogs(settings),
            workers=settings.sweep_workers,
            ray_address=settings.ray_address,
            engine_version=catalog.engine_version,
            studies=SqlStudyRecordStore(Database(settings.database)).list,
        )
    )


def _scratch_catalogs(settings: QuantdeskSettings) -> "ScratchCatalogs":
    """[H5] Stress scenarios' throw-away catalogs under scratch_dir, copied from the desk's
    catalog (only read). The roots are absolute paths under the home, so pool workers on
    this machine find them; a Ray cluster's other nodes would need the home shared."""
    from quantdesk.adapters.nautilus.catalog import ParquetCatalog
    from quantdesk.adapters.nautilus.scratch_catalog import ParquetScratchCatalogs

    return ParquetScratchCatalogs(ParquetCatalog(settings.catalog_dir), settings.scratch_dir)
