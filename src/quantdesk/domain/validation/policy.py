"""A validation policy: what each step runs and the thresholds a version must meet.

A policy is a YAML document versioned in the database (``validation policy set FILE``); the
shipped default (``DEFAULT_POLICY_NAME``) is written on first use. Every threshold may be
``null`` to switch its check off (the step still runs and reports its numbers). Fractions are
of the starting equity and positive: ``max_drawdown: 0.25`` fails a version whose drawdown
goes below -25%.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.backtest_checks import Seed

DEFAULT_POLICY_NAME = "default"
POLICY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

StressScenarioName = Literal[
    "gap_down",
    "flash_crash",
    "volatility_x3",
    "feed_outage",
    "wide_spread",
    "fee_shock",
    "historical",
]
ALL_STRESS_SCENARIOS: tuple[StressScenarioName, ...] = (
    "gap_down",
    "flash_crash",
    "volatility_x3",
    "feed_outage",
    "wide_spread",
    "fee_shock",
    "historical",
)


StepName = Literal[
    "periods", "walk_forward", "overfitting", "stress", "monte_carlo", "baselines", "compliance"
]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Thresholds(_Part):
    """Pass/fail limits; ``None`` switches a check off."""

    min_oos_sharpe: float | None = Field(default=0.5, description="stitched out-of-sample Sharpe")
    min_walk_forward_efficiency: float | None = Field(
        default=0.3, description="mean OOS / mean IS annualised return of the windows"
    )
    max_drawdown: float | None = Field(default=0.25, gt=0, le=1, description="full range")
    max_volatility: float | None = Field(default=None, gt=0, description="annualised, full range")
    min_deflated_sharpe: float | None = Field(
        default=0.95, ge=0, le=1, description="probability the Sharpe beats the best of N trials"
    )
    min_probabilistic_sharpe: float | None = Field(default=None, ge=0, le=1)
    max_pbo: float | None = Field(
        default=0.5, ge=0, le=1, description="probability of backtest overfitting"
    )
    max_stress_loss: float | None = Field(
        default=0.30, gt=0, le=1, description="worst scenario's loss"
    )
    max_risk_breaches: int | None = Field(
        default=0, ge=0, description="position-limit breaches and denied-order storms, all runs"
    )
    max_denial_ratio: float | None = Field(
        default=0.5, ge=0, le=1, description="denied / sent orders in one run: a storm above"
    )
    min_trades: int | None = Field(default=10, ge=0, description="closed trades, full range")
    max_p_value: float | None = Field(
        default=0.05, gt=0, le=1, description="the edge over random entries, by bootstrap"
    )
    max_monte_carlo_drawdown: float | None = Field(
        default=None, gt=0, le=1, description="95th percentile of bootstrapped drawdowns"
    )
    min_worst_period_return: float | None = Field(
        default=None, description="the worst period's total return"
    )


class PeriodsPolicy(_Part):
    periods: int = Field(default=4, ge=2, le=60)


class WalkForwardPolicy(_Part):
    windows: int = Field(default=4, ge=2, le=50)
    mode: Literal["rolling", "anchored"] = "rolling"
    in_sample_ratio: float = Field(
        default=3.0, gt=0, le=20, description="in-sample length / out-of-sample length"
    )
    trials: int = Field(default=12, ge=1, le=2000, description="in-sample trials per window")
    sampler: Literal["grid", "random", "tpe"] = "random"


class OverfittingPolicy(_Part):
    configurations: int = Field(
        default=16, ge=2, le=2000, description="parameter sets run over the whole range"
    )
    groups: int = Field(default=8, ge=2, le=32, description="CPCV: groups the days split into")
    test_groups: int = Field(default=2, ge=1, le=16, description="CPCV: groups tested per split")
    embargo_fraction: float = Field(default=0.01, ge=0, le=0.5)
    purge_days: int | None = Field(
        default=None, ge=0, le=365, description="None: the longest holding time, in days"
    )


class MonteCarloPolicy(_Part):
    samples: int = Field(default=1000, ge=100, le=100_000)


class BaselinesPolicy(_Part):
    random_seeds: int = Field(default=200, ge=10, le=100_000)
    bootstrap_samples: int = Field(default=2000, ge=100, le=100_000)


class StressPolicy(_Part):
    scenarios: list[StressScenarioName] = Field(
        default_factory=lambda: list(ALL_STRESS_SCENARIOS), max_length=len(ALL_STRESS_SCENARIOS)
    )


class ValidationPolicy(_Part):
    """One policy document (YAML); ``seed`` seeds every draw of every step."""

    name: str = Field(pattern=POLICY_NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    seed: Seed = 0
    thresholds: Thresholds = Field(default_factory=Thresholds)
    periods: PeriodsPolicy = Field(default_factory=PeriodsPolicy)
    walk_forward: WalkForwardPolicy = Field(default_factory=WalkForwardPolicy)
    overfitting: OverfittingPolicy = Field(default_factory=OverfittingPolicy)
    monte_carlo: MonteCarloPolicy = Field(default_factory=MonteCarloPolicy)
    baselines: BaselinesPolicy = Field(default_factory=BaselinesPolicy)
    stress: StressPolicy = Field(default_factory=StressPolicy)
    skip_steps: list[StepName] = Field(
        default_factory=list,
        max_length=7,
        description="steps this policy does not run: reported as switched off, not required "
        "(a step skipped for any other reason, e.g. too short a range, fails the gate)",
    )


class StoredPolicy(_Part):
    """A policy version as the database holds it (``sha256`` of its canonical JSON)."""

    policy: ValidationPolicy
    version: int = Field(ge=1)
    sha256: str
    author: str
    created_at_ns: int

    @property
    def name(self) -> str:
        return self.policy.name
