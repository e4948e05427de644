"""A decoded config naming its strategy (translation's ``strategy_id`` + ``order_id_tag``)
builds a strategy named ``{id}@{version}-{hash8}``: the engine itself would refuse the
StrategyId the decoder makes (its logger wants a str)."""

import json

from quantdesk.strategies.execution import Execution, ExecutionConfig


def test_a_decoded_strategy_id_names_the_strategy() -> None:
    config = ExecutionConfig.parse(
        json.dumps(
            {
                "instrument_ids": ["SYN01.SIM"],
                "algorithm": "twap",
                "side": "buy",
                "total_quantity": "10",
                "strategy_id": "twap-syn02@3",
                "order_id_tag": "abcd1234",
            }
        )
    )
    assert str(Execution(config).id) == "twap-syn02@3-abcd1234"
