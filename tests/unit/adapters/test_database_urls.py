"""Database URLs: the installed driver for a bare postgresql://, clear errors otherwise.

Issue 12 (fuzz findings): ``postgresql://`` asked SQLAlchemy for psycopg2 (not installed:
ModuleNotFoundError), and a SQLite file under a file ended in FileExistsError.
"""

from pathlib import Path

import pytest

from quantdesk.adapters.storage.database import Database, DatabaseError


def test_a_bare_postgresql_url_uses_psycopg_3() -> None:
    database = Database("postgresql://postgres@127.0.0.1/test")
    assert database.engine.url.drivername == "postgresql+psycopg"


def test_a_driver_that_is_not_installed_is_named() -> None:
    with pytest.raises(DatabaseError, match=r"driver 'psycopg2' .* is not installed"):
        _ = Database("postgresql+psycopg2://postgres@127.0.0.1/test").engine


def test_a_sqlite_file_under_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatabaseError, match=r"folder .*file cannot be created"):
        _ = Database(f"sqlite:///{tmp_path / 'file' / 'x.db'}").engine
