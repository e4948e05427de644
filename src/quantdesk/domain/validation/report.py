"""A validation run's report: every step, every check with the numbers behind it.

Steps fill their own section (``periods``, ``walk_forward``, ...; None when the step did not
run, with the reason in ``skipped``). Each check compares one number with one policy
threshold; a step passes when all its checks do, the validation when every step does. The
report is stored as JSON beside its HTML rendering and linked to the strategy version by the
validation record. Series are thinned by the producer (at most ``SERIES_POINTS_MAX`` points).
"""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SERIES_POINTS_MAX = 2_000


class ValidationStep(StrEnum):
    PERIODS = "periods"
    WALK_FORWARD = "walk_forward"
    OVERFITTING = "overfitting"
    STRESS = "stress"
    MONTE_CARLO = "monte_carlo"
    BASELINES = "baselines"
    COMPLIANCE = "compliance"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class Check(_Part):
    """One rule of the policy applied: ``value <comparison> threshold`` passes."""

    name: str
    step: ValidationStep
    passed: bool
    value: float | None
    threshold: float | None
    comparison: Literal[">=", "<=", "=="]
    detail: str = ""


Series = list[tuple[int, float]]  # (ts_ns, value)


class PeriodRow(_Part):
    index: int
    start_ns: int
    end_ns: int
    regime: str
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
    trades: int
    fingerprint: str
    error: str | None = None


class RegimeRow(_Part):
    regime: str
    periods: int
    mean_return: float | None
    mean_sharpe: float | None
    worst_drawdown: float | None


class PeriodsSection(_Part):
    regime_source: str  # "quantdesk.regime.vol_trend" or the signal model's name
    periods: list[PeriodRow]
    regimes: list[RegimeRow]
    worst_period: int | None
    worst_regime: str | None


class WindowRow(_Part):
    index: int
    is_start_ns: int
    is_end_ns: int
    oos_start_ns: int
    oos_end_ns: int
    best_parameters: dict[str, JsonValue]
    is_trials: int
    is_return: float | None  # annualised return (CAGR) of the best in-sample trial
    oos_return: float | None
    is_sharpe: float | None
    oos_sharpe: float | None
    is_fingerprint: str
    oos_fingerprint: str


class WalkForwardSection(_Part):
    mode: Literal["rolling", "anchored"]
    windows: list[WindowRow]
    efficiency: float | None  # mean OOS / mean IS annualised return
    oos_sharpe: float | None  # of the stitched OOS daily returns
    oos_total_return: float | None
    stitched_oos: Series  # equity, chained from the starting equity
    stitched_is: Series  # the best in-sample trials' equity, chained the same way


class OverfittingSection(_Part):
    configurations: int
    trials_counted: int  # N of the deflated Sharpe: every parameter set this version cost
    observations: int  # daily returns of the candidate
    sharpe: float | None  # the candidate's, per observation (not annualised)
    annual_sharpe: float | None
    skewness: float | None
    kurtosis: float | None  # not excess: 3 for a normal distribution
    sharpe_variance: float | None  # across the trials' per-observation Sharpe ratios
    expected_max_sharpe: float | None  # SR0 of the deflated Sharpe
    probabilistic_sharpe: float | None  # P(SR > 0)
    deflated_sharpe: float | None  # P(SR > SR0)
    pbo: float | None
    splits: int
    logits: list[float]
    purged_observations: int
    embargoed_observations: int


class StressRow(_Part):
    scenario: str
    description: str
    total_return: float | None
    max_drawdown: float | None
    loss: float | None  # -total_return when negative, else 0
    risk_events: int
    kill_switch_fired: bool
    drawdown_control_fired: bool
    fingerprint: str
    passed: bool
    skipped: str | None = None  # e.g. a historical window the data does not cover


class StressSection(_Part):
    scenarios: list[StressRow]
    catalog_checksum_before: str
    catalog_checksum_after: str  # equal: the real catalog was not touched


class Percentiles(_Part):
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


class MonteCarloSection(_Part):
    samples: int
    seed: int
    trades: int
    days: int
    trade_order_final_equity: Percentiles | None
    trade_order_max_drawdown: Percentiles | None
    daily_final_equity: Percentiles | None
    daily_max_drawdown: Percentiles | None
    fan: dict[str, Series]  # "p5".."p95": equity percentile paths of the daily bootstrap


class BaselinesSection(_Part):
    strategy_return: float | None
    buy_and_hold_return: float | None
    random_entry_seeds: int
    random_entry_mean_return: float | None
    random_entry_p95_return: float | None
    p_value_random_entry: float | None  # share of random entries at or above the strategy
    p_value_bootstrap: float | None  # of the mean daily return, centred bootstrap


class ComplianceSection(_Part):
    runs_checked: int
    denial_storms: list[str]  # trial keys whose denied / sent orders exceeded the policy
    position_breaches: list[str]  # "key: instrument held X > max_position Y"
    max_denial_ratio: float | None


class StepReport(_Part):
    step: ValidationStep
    passed: bool
    checks: list[Check] = Field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0
    skipped: str | None = None


class ValidationReport(_Part):
    """The whole run: which version, under which policy, on which data, and what it showed."""

    validation_id: str
    strategy_id: str
    version: int
    content_hash: str
    policy_name: str
    policy_version: int
    policy_sha256: str
    start_ns: int
    end_ns: int
    passed: bool
    steps: list[StepReport]
    periods: PeriodsSection | None = None
    walk_forward: WalkForwardSection | None = None
    overfitting: OverfittingSection | None = None
    stress: StressSection | None = None
    monte_carlo: MonteCarloSection | None = None
    baselines: BaselinesSection | None = None
    compliance: ComplianceSection | None = None
    candidate_fingerprint: str  # the version's own full-range backtest
    fingerprints: list[str]  # every trial this validation ran
    trials_run: int
    started_at_ns: int
    finished_at_ns: int
    quantdesk_version: str
    engine_version: str
    actor: str
    warnings: list[str] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.strategy_id}@{self.version}"

    @property
    def failed_checks(self) -> list[Check]:
        return [c for s in self.steps for c in s.checks if not c.passed]


class ValidationRecord(_Part):
    """What the database keeps of a validation run and links to the version (the report's
    JSON and HTML lie under ``HOME/validations/<id>/``)."""

    validation_id: str
    strategy_id: str
    version: int
    content_hash: str
    policy_name: str
    policy_version: int
    passed: bool
    failed_checks: list[str]
    candidate_fingerprint: str
    fingerprints_sha256: str  # sha256 of the sorted fingerprints of every trial
    trials_run: int
    actor: str
    started_at_ns: int
    finished_at_ns: int
    report_path: str

    @property
    def ref(self) -> str:
        return f"{self.strategy_id}@{self.version}"


class PromotionOverride(_Part):
    """An admin's decision to let an unvalidated version trade, with the reason (audited)."""

    strategy_id: str
    version: int
    content_hash: str
    actor: str
    reason: str = Field(min_length=1, max_length=2000)
    at_ns: int
