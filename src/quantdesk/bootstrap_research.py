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
    from quantdesk.services.platform import Platform


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
    raise NotImplementedError("issue 15: validation policies")  # [H7]


def _promotion(settings: QuantdeskSettings, platform: "Platform") -> PromotionGate:
    raise NotImplementedError("issue 15: promotion gate")  # [H7]


def _optimisation(
    settings: QuantdeskSettings, platform: "Platform", pools: TrialPools
) -> OptimisationService:
    raise NotImplementedError("issue 15: optimisation")  # [H4]


def _validation(
    settings: QuantdeskSettings,
    platform: "Platform",
    pools: TrialPools,
    policies: PolicyService,
    promotion: PromotionGate,
    optimisation: OptimisationService,
) -> ValidationService:
    raise NotImplementedError("issue 15: validation pipeline")  # [H6]
