"""Registries on real databases for tests: SQLite in a folder, or a throwaway PostgreSQL db."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
from quantdesk.adapters.storage.audit_log import SqlAuditLog
from quantdesk.adapters.storage.database import Database, sqlite_url
from quantdesk.adapters.storage.strategy_store import SqlStrategyStore
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.registry import StrategyRegistry
from support.environment import require_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


def registry_on(url: str) -> tuple[StrategyRegistry, SqlStrategyStore, Database]:
    database = Database(url)
    store = SqlStrategyStore(database)
    return StrategyRegistry(store, SqlAuditLog(database), JsonSchemaChecker()), store, database


def sqlite_database(folder: Path) -> str:
    return sqlite_url(folder / "quantdesk.db")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own (so parallel tests never meet), dropped afterwards."""
    require_service(PG_HOST, PG_PORT, "PostgreSQL")
    import psycopg

    name = f"qd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def trend(strategy_id: str = "trend-a", **parameters: Any) -> StrategyDefinition:
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "trend_following",
            "name": "trend",
            "instruments": ["SYN01.SIM"],
            "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1", **parameters},
        }
    )
