"""TESTS ONLY: trial requests for the example families on the tiny synthetic market.

A trial's request names ``id@version`` and carries the definition pinned: a candidate keeps
the example's id and version 1 with other parameters, unregistered, as an optimiser's are.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
INSTRUMENT = "SYN01.SIM"


def candidate(
    family: str,
    *,
    risk: dict[str, Any] | None = None,
    instruments: Sequence[str] | None = (INSTRUMENT,),
    **parameters: Any,
) -> StrategyDefinition:
    """The example definition of ``family`` as version 1 on ``instruments`` (None: the
    example's own), with ``parameters``."""
    document = yaml.safe_load((EXAMPLES / f"{family}.yaml").read_text())
    if instruments is not None:
        document["instruments"] = list(instruments)
    document["parameters"].update(parameters)
    if risk is not None:
        document["risk"] = risk
    document["version"] = 1
    return StrategyDefinition.model_validate(document)


def pinned_request(*definitions: StrategyDefinition, **fields: Any) -> BacktestRequest:
    """A request of the definitions' exact references with the definitions pinned."""
    return BacktestRequest.model_validate(
        {
            **fields,
            "strategies": [f"{d.strategy_id}@{d.version}" for d in definitions],
            "pinned": [d.model_dump(mode="json") for d in definitions],
        }
    )


def trial(key: str, *definitions: StrategyDefinition, **fields: Any) -> TrialSpec:
    return TrialSpec(key=key, request=pinned_request(*definitions, **fields))
