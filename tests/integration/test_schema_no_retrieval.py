"""No code path fetches a URL or reads a file that a schema or a definition names.

A loopback HTTP listener counts every request it gets and would serve a schema holding a
secret; a sentinel file holds another. Custom definitions whose config_schema ``$ref``s them
are registered (through the registry and the checker alone): each is refused, the listener
saw no request and neither secret appears in any message.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database, sqlite_url
from quantdesk.adapters.storage.strategy_store import SqlStrategyStore
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.plugins import PluginGate, PluginPolicy
from quantdesk.services.registry import StrategyRegistry
from support.loopback import Bait, listening_bait

PLUGIN = "qd_test_plugins.buyer"  # allowed by the policy below; the schema is refused first


@pytest.fixture
def bait(tmp_path: Path) -> Iterator[Bait]:
    with listening_bait(tmp_path) as made:
        yield made


def schemas_naming(bait: Bait) -> list[dict[str, object]]:
    return [
        {"$ref": bait.url},
        {"$ref": bait.file_url},
        {"type": "object", "properties": {"window": {"$ref": bait.url}}},
        {"type": "object", "properties": {"unused": {"$ref": bait.file_url}}},
        {"$dynamicRef": bait.url + "#meta"},
        {"$defs": {"x": {"$ref": bait.file_url}}, "$ref": "#/$defs/x"},
        {"allOf": [{"$ref": bait.url + "#/const"}]},
    ]


def custom(schema: dict[str, object], config: dict[str, object]) -> StrategyDefinition:
    return parse_definition(
        {
            "strategy_id": "mine",
            "family": "custom",
            "name": "my own",
            "instruments": ["SYN01.SIM"],
            "parameters": {
                "strategy_path": f"{PLUGIN}:Buyer",
                "config_path": f"{PLUGIN}:BuyerConfig",
                "config": config,
                "config_schema": schema,
            },
        }
    )


def assert_untouched(bait: Bait, texts: list[str]) -> None:
    assert bait.requests == []
    for secret in bait.secrets:
        assert all(secret not in text for text in texts)


@pytest.mark.parametrize("config", [{}, {"window": 5}])
def test_registry_refuses_schemas_that_name_urls_or_files(
    bait: Bait, tmp_path: Path, config: dict[str, object]
) -> None:
    database = Database(sqlite_url(tmp_path / "quantdesk.db"))
    gate = PluginGate(PluginPolicy(packages=("qd_test_plugins",)))
    registry = StrategyRegistry(
        SqlStrategyStore(database), SqlAuditLog(database), JsonSchemaChecker(), plugins=gate
    )
    messages = []
    for schema in schemas_naming(bait):
        with pytest.raises(InvalidInputError) as refused:
            registry.register(custom(schema, config), author="mallory")
        messages.append(str(refused.value))
        assert "a config schema must be self-contained" in refused.value.message
    assert list(registry.list()) == []  # nothing was stored
    assert_untouched(bait, messages)


def test_checker_never_fetches_or_reads(bait: Bait) -> None:
    checker = JsonSchemaChecker()
    texts = []
    for schema in schemas_naming(bait):
        for value in ({}, {"window": 5}, 1, "x"):
            problems = checker.problems(schema, value)
            assert len(problems) == 1 and problems[0][0] == "config_schema"
            assert "is not allowed: a config schema must be self-contained" in problems[0][1]
            texts.extend(message for _, message in problems)
    for named in (bait.url, bait.file_url):  # an $id names the schema: still nothing fetched
        for ref in ("#/$defs/missing", "#anchor", "#"):
            schema = {"$id": named, "properties": {"a": {"$ref": ref}}, "$defs": {}}
            texts.extend(message for _, message in checker.problems(schema, {"a": 1}))
    assert_untouched(bait, texts)


def test_registry_answers_redos_patterns_and_refuses_backreferences(tmp_path: Path) -> None:
    database = Database(sqlite_url(tmp_path / "quantdesk.db"))
    gate = PluginGate(PluginPolicy(packages=("qd_test_plugins",)))
    registry = StrategyRegistry(
        SqlStrategyStore(database), SqlAuditLog(database), JsonSchemaChecker(), plugins=gate
    )
    evil = "a" * 60 + "!"  # minutes (more: 2^60 steps) for Python's re on ^(a+)+$
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}}
    with pytest.raises(InvalidInputError) as refused:
        registry.register(custom(schema, {"name": evil}), author="mallory")
    assert f"parameters.config.name: {evil!r} does not match '^(a+)+$'" in refused.value.message
    backreference = {"type": "object", "properties": {"name": {"pattern": "^(a+)\\1$"}}}
    with pytest.raises(InvalidInputError) as refused:
        registry.register(custom(backreference, {}), author="mallory")
    assert (
        "pattern '^(a+)\\\\1$' uses a construct with unbounded matching time"
        " (backreference/lookaround): not supported"
    ) in refused.value.message
    assert list(registry.list()) == []
