"""The risk layer of a run and of the desk: its config, kill switches, events, the gate's door.

What a request states about risk (``RiskConfig``: limits, what breaches do, scheduled kill
switches), what the gate records (``RiskEvent``), and how a strategy asks it about an order
(``GateRequest`` on ``GATE_ENDPOINT``). Everything here is also importable from
``quantdesk.domain.risk``.
"""

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from quantdesk.domain.risk_model import RiskConstraints, RiskDecision, RiskLimits, _Limits
from quantdesk.domain.text import (
    LABEL_MAX_LENGTH,
    REASON_MAX_LENGTH,
    free_text,
    shown,
    single_line,
)
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS


class BreachAction(StrEnum):
    """What a drawdown or daily-loss breach does to the scope that breached."""

    REDUCING = "REDUCING"
    HALTED = "HALTED"


class KillSwitchScope(StrEnum):
    PORTFOLIO = "portfolio"
    STRATEGY = "strategy"
    INSTRUMENT = "instrument"


def _target(value: str) -> str:
    return value if value == "" else single_line(value)


class KillSwitchEvent(BaseModel):
    """A kill switch thrown or released at a simulated time (to study "what if we had halted")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts_ns: int = Field(ge=TS_MIN_NS, le=TS_MAX_NS)
    action: str = Field(pattern=r"^(kill|release)$")
    scope: KillSwitchScope = KillSwitchScope.PORTFOLIO
    target: Annotated[str, AfterValidator(_target)] = Field(
        default="", max_length=LABEL_MAX_LENGTH, description="strategy or instrument id"
    )
    reason: Annotated[str, AfterValidator(free_text)] = Field(
        default="", max_length=REASON_MAX_LENGTH
    )

    @model_validator(mode="after")
    def _check_target(self) -> Self:
        if (self.scope is KillSwitchScope.PORTFOLIO) != (self.target == ""):
            raise ValueError("a portfolio switch has no target; others need one")
        return self


_SUBMIT_RATE = re.compile(r"([0-9]{1,9})/([0-9]{2}):([0-5][0-9]):([0-5][0-9])")


def _submit_rate(value: str) -> str:
    """``LIMIT/HH:MM:SS``: at least one order in a positive interval (the engine's format)."""
    match = _SUBMIT_RATE.fullmatch(value)
    if match is None or int(match[1]) < 1 or not any(int(part) for part in match.groups()[1:]):
        raise ValueError(
            f"{shown(value)} is not an order rate LIMIT/HH:MM:SS with a limit of 1 to 999999999 "
            "and a positive interval (e.g. 100/00:00:01)"
        )
    return value


class RiskConfig(BaseModel):
    """The risk layer of one run: limits, what breaches do, and scheduled kill switches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: RiskLimits = Field(default_factory=RiskLimits)
    constraints: dict[str, RiskConstraints] = Field(
        default_factory=dict, description="strategy id -> its own constraints"
    )
    on_breach: BreachAction = BreachAction.REDUCING
    flatten_on_breach: bool = False
    max_order_submit_rate: Annotated[str, AfterValidator(_submit_rate)] | None = Field(
        default=None, description="engine-level second line, e.g. 100/00:00:01"
    )
    schedule: list[KillSwitchEvent] = Field(default_factory=list)
    gate: bool = Field(
        default=True,
        description="off only to measure the gate's cost: orders then meet the engine's own "
        "risk engine alone",
    )

    @property
    def sets_no_limit(self) -> bool:
        """No limit of any kind: only trading states (kill switches) can stop an order."""
        empty = RiskLimits()
        return self.limits == empty and all(
            c == RiskConstraints() for c in self.constraints.values()
        )

    @property
    def watches_equity(self) -> bool:
        """Whether any rule needs equity followed over time (drawdown or daily loss)."""
        scopes: list[_Limits] = [self.limits, *self.constraints.values()]
        return any(
            s.max_drawdown_pct is not None
            or s.max_daily_loss is not None
            or s.max_daily_loss_pct is not None
            for s in scopes
        )


class RiskEventKind(StrEnum):
    DENY = "deny"
    REDUCE = "reduce"
    HALT = "halt"
    REDUCING = "reducing"
    RELEASE = "release"
    MISMATCH = "mismatch"


class RiskEvent(BaseModel):
    """Every risk decision that is not a plain approve, with the numbers behind it."""

    model_config = ConfigDict(frozen=True)

    ts_ns: int
    kind: RiskEventKind
    scope: str
    strategy_id: str = ""
    instrument_id: str = ""
    rule: str
    detail: str
    requested: str = ""
    approved: str = ""
    premium_at_risk: str = Field(
        default="",
        description="options held, at the decision with the order at its approved quantity: "
        "sum of |position| x option price x multiplier x rate (account base currency); "
        "empty in runs without options",
    )

    @model_serializer(mode="wrap")
    def _without_empty_premium(self, handler: SerializerFunctionWrapHandler) -> object:
        """No options: the event's document is what it was before premiums were shown."""
        document = handler(self)
        if isinstance(document, dict) and not self.premium_at_risk:
            document.pop("premium_at_risk", None)
        return document


GATE_ENDPOINT = "quantdesk.risk.gate"
FLATTEN_TOPIC = "quantdesk.risk.flatten"


class GateRequest:
    """What a strategy asks the risk layer about one order; the layer writes the decision in.

    A plain mutable carrier because the engine's message bus delivers it synchronously and
    returns nothing: no decision written back means no risk layer, and the order is denied.
    """

    __slots__ = (
        "decision",
        "instrument_id",
        "limit_price",
        "quantity",
        "side",
        "signal_id",
        "strategy_id",
    )

    def __init__(
        self,
        strategy_id: str,
        instrument_id: str,
        side: int,
        quantity: Decimal,
        limit_price: Decimal | None = None,
        signal_id: str | None = None,
    ) -> None:
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.quantity = quantity
        self.limit_price = limit_price
        self.signal_id = signal_id  # the AI signal the order is taken on, if any
        self.decision: RiskDecision | None = None


class KillSwitch(BaseModel):
    """A kill switch thrown on the desk (not in a simulation): who, when, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scope: KillSwitchScope
    target: str = ""
    reason: str
    actor: str
    thrown_at_ns: int

    @property
    def key(self) -> str:
        return f"{self.scope.value}:{self.target}"
