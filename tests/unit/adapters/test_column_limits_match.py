"""The domain's text limits are the registry's column limits, so both databases hold them.

If a column is widened or narrowed, the domain limit must move with it (and the other way
round): PostgreSQL refuses a longer value with a DataError that SQLite never raises.
"""

from typing import Any

import pytest
from sqlalchemy import String

from quantdesk.adapters.storage.tables import (
    AuditEventRow,
    StrategyDeprecationRow,
    StrategyTagRow,
    StrategyVersionRow,
)
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.domain.strategies.versions import validate_tag
from quantdesk.domain.text import ACTOR_MAX_LENGTH, NAME_MAX_LENGTH, validate_actor


def length(row: Any, column: str) -> int:
    kind = row.__table__.columns[column].type
    assert isinstance(kind, String) and kind.length is not None
    return int(kind.length)


def test_actor_columns_hold_the_longest_actor() -> None:
    for row in (StrategyVersionRow, StrategyTagRow, StrategyDeprecationRow, AuditEventRow):
        column = "author" if row is StrategyVersionRow else "actor"
        assert length(row, column) == ACTOR_MAX_LENGTH
    validate_actor("a" * ACTOR_MAX_LENGTH)
    with pytest.raises(InvalidInputError):
        validate_actor("a" * (ACTOR_MAX_LENGTH + 1))


def definition(**overrides: object) -> dict[str, object]:
    return {
        "strategy_id": "trend-a",
        "family": "trend_following",
        "name": "trend",
        "instruments": ["SYN01.SIM"],
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1"},
        **overrides,
    }


def test_id_name_and_family_limits_are_the_columns() -> None:
    longest_id = length(StrategyVersionRow, "strategy_id")
    assert length(StrategyTagRow, "strategy_id") == longest_id
    parse_definition(definition(strategy_id="a" * longest_id))
    with pytest.raises(InvalidDefinitionError):
        parse_definition(definition(strategy_id="a" * (longest_id + 1)))
    assert length(StrategyVersionRow, "name") == NAME_MAX_LENGTH
    parse_definition(definition(name="n" * NAME_MAX_LENGTH))
    assert max(len(f.value) for f in StrategyFamily) <= length(StrategyVersionRow, "family")


def test_tag_limit_is_the_column() -> None:
    longest = length(StrategyTagRow, "tag")
    validate_tag("t" * longest)
    with pytest.raises(InvalidInputError):
        validate_tag("t" * (longest + 1))
