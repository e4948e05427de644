"""The registry's database: SQLite in QUANTDESK_HOME by default, PostgreSQL by URL.

Every write runs under one lock for the whole database (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-scoped advisory lock), because every write extends the one audit
chain: it reads the last event and appends the next. Unique constraints back the lock up, and
writers retry when they lose a race anyway. Migrations run under the same lock, so two
processes starting at once do not both create the tables.
"""

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from quantdesk.adapters.storage.column_limits import check_pending
from quantdesk.domain.errors import InvalidInputError, QuantdeskError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_WRITE_LOCK_KEY = 0x71D5_7261  # "registry writes" advisory lock (PostgreSQL)
_RETRIES = 8
T = TypeVar("T")


class DatabaseError(QuantdeskError):
    """The database cannot be reached or used."""

    code = "database_error"


class _CheckedSession(Session):
    """A session whose rows are checked against their columns before every flush."""


event.listen(_CheckedSession, "before_flush", check_pending)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


_READ_ONLY = "quantdesk_read_only"  # execution option of reading() connections


class Database:
    """An engine, its sessions and its schema version; cheap until first used."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._read_engine: Engine | None = None
        self._busy_timeout_s = busy_timeout_s
        self._upgraded = False

    @property
    def dialect(self) -> str:
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    @property
    def _reader(self) -> Engine:
        """The engine with the connections' read-only mark (the same pool)."""
        if self._read_engine is None:
            self._read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        return self._read_engine

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            database = self.url.removeprefix("sqlite:///")
            if database and database != ":memory:":
                folder = Path(database).parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise DatabaseError(
                        f"the SQLite database's folder {folder} cannot be created: "
                        f"{error.strerror or error}",
                        hint="point QUANTDESK_DATABASE_URL at a file in a writable directory",
                    ) from None
            engine = create_engine(self.url, connect_args={"timeout": self._busy_timeout_s})
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        if self.dialect == "postgresql":
            # quantdesk ships psycopg 3; SQLAlchemy's default for a bare postgresql:// is
            # psycopg2, which it does not: a bare URL means the driver that is installed.
            url = re.sub(r"^postgresql(\+psycopg)?:", "postgresql+psycopg:", self.url)
            try:
                return create_engine(url, pool_pre_ping=True)
            except ModuleNotFoundError as error:
                raise DatabaseError(
                    f"the database driver {error.name!r} of the database URL is not installed",
                    hint="set QUANTDESK_DATABASE_URL to postgresql+psycopg://USER@HOST/DB "
                    "(psycopg 3 is installed)",
                ) from None
        raise DatabaseError(
            f"unsupported database URL {self.url.split(':', 1)[0]!r}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._read_engine = None

    # --- schema ------------------------------------------------------------------------------

    def upgrade(self) -> list[str]:
        """Apply the migrations not applied yet; returns their revision ids."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        with self._connect() as connection, connection.begin():
            self._lock(connection)
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                self._upgraded = True
                return []
            pending = [
                rev.revision
                for rev in script.iterate_revisions(head, current)  # newest first
            ][::-1]
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        self._upgraded = True
        return pending

    def current_revision(self) -> str | None:
        with self._connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def ensure_schema(self) -> None:
        """Migrate once per process, on first use (so ``--help`` never touches the database)."""
        if not self._upgraded:
            self.upgrade()

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: one consistent snapshot, taking no write lock (on SQLite a
        deferred transaction in WAL mode: readers never wait behind a writer)."""
        self.ensure_schema()
        try:
            with _CheckedSession(self._reader) as session, session.begin():
                yield session
        except (DataError, StatementError) as error:
            if isinstance(error, OperationalError | IntegrityError):
                raise
            raise _refused(error) from error

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one locked transaction; retried when a concurrent writer won a race.

        ``work`` must be safe to run again: it re-reads everything it depends on.
        """
        self.ensure_schema()
        for attempt in range(_RETRIES):
            try:
                with _CheckedSession(self.engine) as session, session.begin():
                    self._lock(session.connection())
                    return work(session)
            except (IntegrityError, OperationalError) as error:
                if attempt == _RETRIES - 1 or not _retryable(error):
                    raise _refused(error) from error
                time.sleep(0.01 * 2**attempt)
            except (DataError, StatementError) as error:
                raise _refused(error) from error
        raise AssertionError("unreachable")

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as error:
            raise DatabaseError(
                f"cannot open the database {self._redacted()}: {error.orig}",
                hint="check QUANTDESK_DATABASE_URL (or QUANTDESK_HOME) and that the server runs",
            ) from error

    def _lock(self, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})

    @property
    def location(self) -> str:
        return self._redacted()

    def _redacted(self) -> str:
        scheme, _, rest = self.url.partition("://")
        credentials, at, host = rest.rpartition("@")
        if not at:
            return self.url
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"


def _refused(error: StatementError) -> QuantdeskError:
    """A driver's error as one clear line (the SQL and its parameters stay out of it)."""
    cause = error.orig if error.orig is not None else error
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    if isinstance(error, IntegrityError):
        return DatabaseError(
            f"the database refused the write: {first}",
            hint="nothing was stored; check the value against what is already stored",
        )
    if isinstance(error, OperationalError):
        return DatabaseError(f"the database failed: {first}", hint="nothing was stored; retry")
    return InvalidInputError(
        f"the database refused a value: {first}", hint="nothing was stored; check the value"
    )


def _retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True  # a concurrent writer took the version or sequence number: read again
    message = str(error.orig).lower()
    return "locked" in message or "deadlock" in message or "could not serialize" in message


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: a reader sees the last commit while a writer works, instead of waiting for it (the
    # service's status polls beside job progress writes). Kept by the file once set.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take the write lock at BEGIN (no lock upgrade can deadlock halfway); readers
    begin deferred and read one snapshot."""
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
