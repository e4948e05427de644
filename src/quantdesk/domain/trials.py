"""Trials: the unit of every sweep, optimisation and validation step.

A trial is an ordinary backtest request whose strategies are pinned to definitions that may
not be registered (an optimiser's candidate parameters keep the version's id and number, so
their content hash, and therefore the trial's fingerprint, tells them apart). It can run on a
scratch catalog (a stress scenario's transformed copy) instead of the desk's. Its outcome is
what the statistics need and nothing more: metrics, the daily equity marks, the closed trades,
the risk layer's counts and a digest of the fills, so thousands of them fit in memory and
travel between processes (and Ray nodes) cheaply.
"""

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.domain.backtest import BacktestRequest, Metrics


class TrialSpec(BaseModel):
    """One backtest of a sweep: ``key`` is the caller's (unique within one pool call)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=200)
    request: BacktestRequest  # strategies as exact ``id@version`` refs, definitions in pinned
    catalog: str | None = Field(
        default=None, description="a scratch catalog's root; None: the desk's own catalog"
    )


class TrialOutcome(BaseModel):
    """What one trial produced; ``error``/``code`` set (and ``metrics`` None) when it failed.

    ``daily_ts``/``daily_equity``: the equity curve's last point of each UTC day (the daily
    returns of ``Metrics`` are computed from exactly these). ``trade_pnls``/``holding_ns``: the
    closed positions' realised pnl and time held, in order of closing. ``positions_max``: per
    instrument the largest absolute net position the fills reached. ``fills_sha256``: sha256
    of the ordered fills as ``side,quantity,price,ts`` lines (two trials traded alike iff equal).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    fingerprint: str = ""
    metrics: Metrics | None = None
    daily_ts: list[int] = Field(default_factory=list)
    daily_equity: list[float] = Field(default_factory=list)
    trade_pnls: list[float] = Field(default_factory=list)
    holding_ns: list[int] = Field(default_factory=list)
    positions_max: dict[str, float] = Field(default_factory=dict)
    risk_counts: dict[str, int] = Field(default_factory=dict)
    orders: int = 0
    orders_denied: int = 0
    halted: bool = False  # the kill switch or a drawdown control halted trading in the run
    fills_sha256: str = ""
    start_equity: float = 0.0
    wall_seconds: float = 0.0
    error: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.metrics is not None
