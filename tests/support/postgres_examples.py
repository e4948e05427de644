"""The example schemas of ``examples/postgres`` in a database of their own, and a CLI whose
catalog defines the example instruments: where the migration's end-to-end tests start."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from support.console import Cli
from support.registry import EXAMPLES, postgres_database

POSTGRES = EXAMPLES.parents[1] / "examples" / "postgres"


@contextmanager
def example_tables(schema: str) -> Iterator[str]:
    """The libpq URL of a fresh database holding ``examples/postgres/<schema>`` (dropped after)."""
    with postgres_database() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as db:
            db.execute((POSTGRES / schema).read_text())
        yield plain


def example_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A CLI on a fresh home, no database or sources from the environment, the example
    instruments defined."""
    for name in ("QUANTDESK_DATABASE_URL", "QUANTDESK_MIGRATION_SOURCES"):
        monkeypatch.delenv(name, raising=False)
    cli = Cli(tmp_path / "home")
    cli.ok("instruments", "add", POSTGRES / "instruments.yaml")
    return cli
