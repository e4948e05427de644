"""Stress scenarios: the version run on data that never happened, and on the worst days that did.

Each scenario becomes one trial (``StressCase.spec``) or is skipped with the reason:

- data scenarios (``gap_down``, ``flash_crash``, ``volatility_x3``, ``feed_outage``): the
  request's bars copied into a scratch catalog through a transform of
  ``stress_transforms`` (where the shock lands is drawn from the policy seed), the trial
  run on that root;
- request scenarios (``wide_spread``, ``fee_shock``): the same data, venues made costlier;
- ``historical``: named market crises run on the real catalog when its data covers them.

``stress_section`` compares every outcome with the policy's ``max_stress_loss`` and reports
whether the risk layer's kill switch or drawdown controls fired.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.domain.validation.policy import StressScenarioName, Thresholds
from quantdesk.domain.validation.report import Check, StressSection
from quantdesk.services.ports.scratch import ScratchCatalogs


@dataclass(frozen=True)
class StressCase:
    """One scenario as prepared: a trial to run (``spec``; ``spec.catalog`` set when the data
    was changed) or the reason it was not (``skipped``)."""

    scenario: str  # the policy's scenario name; "historical:<window>" for a named window
    description: str
    spec: TrialSpec | None
    skipped: str | None = None


def prepare_stress(
    request: BacktestRequest,
    scenarios: Sequence[StressScenarioName],
    scratch: ScratchCatalogs,
    *,
    key_prefix: str,
    seed: int,
) -> list[StressCase]:
    """The cases of ``scenarios`` for the pinned ``request`` (range pinned to the data).
    Scratch catalogs are created here; the caller removes them (``spec.catalog``) after the
    trials ran, e.g. with ``remove_scratch``."""
    raise NotImplementedError


def remove_scratch(cases: Sequence[StressCase], scratch: ScratchCatalogs) -> None:
    """Remove every scratch catalog the cases were prepared on."""
    raise NotImplementedError


def stress_section(
    cases: Sequence[StressCase],
    outcomes: Sequence[TrialOutcome] | Mapping[str, TrialOutcome],
    thresholds: Thresholds,
    before: str,
    after: str,
) -> tuple[StressSection, list[Check]]:
    """Rows and checks: ``outcomes`` are the run cases' (in the order of the cases that have a
    spec, or keyed by trial key); ``before``/``after`` the real catalog's checksums."""
    raise NotImplementedError
