"""The research parts of the composition root (``Platform.research``): validation policies
and records, the promotion gate, the validation pipeline, optimisation and trial pools.

Each builder below belongs to the feature that needs it; ``build_research`` composes them.
Kept apart from ``bootstrap`` so neither grows past a screenful of wiring per concern.
"""

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
    from quantdesk.services.platform import Platform
    from quantdesk.services.ports.optimisation import OptimisationReportRenderer
    from quantdesk.services.ports.validation import ValidationReports


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
    raise NotImplementedError("issue 15: trial pools")  # [H3]


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
        import importlib  # [H5]'s renderer, by name until it lands: then a plain import

        html = importlib.import_module("quantdesk.adapters.reporting.validation_html")
        html.HtmlValidationReportRenderer().write(report, out)

    return FileValidationReports(settings.validations_dir, render)


def _optimisation(
    settings: QuantdeskSettings, platform: "Platform", pools: TrialPools
) -> OptimisationService:
    """Optuna studies beside the registry's database (its tables kept apart from ours: see
    ``adapters.optimisation.optuna_study``), quantdesk's study records in it, reports under
    studies_dir, trials on the research pools."""
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
    raise NotImplementedError("issue 15: validation pipeline")  # [H6]
