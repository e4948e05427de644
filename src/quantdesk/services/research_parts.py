"""What research needs beyond backtests: validation policies and runs, the promotion gate,
parameter optimisation, and the pools trials run on.

Built on first use by ``bootstrap`` (``Platform.research``): a backtest never pays for it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from quantdesk.services.optimisation.service import OptimisationService
from quantdesk.services.ports.trials import TrialPool
from quantdesk.services.validation.pipeline import ValidationService
from quantdesk.services.validation.policies import PolicyService
from quantdesk.services.validation.promotion import PromotionGate


@dataclass(frozen=True)
class TrialPools:
    """Opens a pool for one sweep: ``workers`` local processes (1: in this process), or the
    Ray cluster at ``ray_address`` (``"auto"`` or ``HOST:PORT``) with that many tasks."""

    open: Callable[[int, str | None], TrialPool]


@dataclass(frozen=True)
class ResearchParts:
    policies: PolicyService  # validation policies, versioned; the default seeded on first use
    validation: ValidationService  # `validation run`: every step, the report, the record
    promotion: PromotionGate  # validated / live tags and paper-live starts need a record
    optimisation: OptimisationService  # `optimize`: studies on Optuna, in our database
    pools: TrialPools  # where trials run
