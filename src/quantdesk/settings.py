"""Settings from the environment (prefix ``QUANTDESK_``), read once by ``bootstrap``."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from quantdesk.domain.errors import InvalidInputError


class QuantdeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANTDESK_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path(".quantdesk"), description="catalog, database, runs, reports and logs"
    )
    redis_url: str | None = Field(
        default=None,
        description="QUANTDESK_REDIS_URL: route signals over Redis Streams (default: in-process)",
    )
    database_url: str | None = Field(
        default=None,
        description="QUANTDESK_DATABASE_URL: registry and audit log on PostgreSQL "
        "(postgresql+psycopg://USER@HOST/DB); default: SQLite file HOME/quantdesk.db",
    )

    audit_key: SecretStr | None = Field(
        default=None,
        description="QUANTDESK_AUDIT_KEY: secret that seals the audit chain (HMAC); kept "
        "outside the database, so whoever can write it cannot reseal the log",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="QUANTDESK_AUDIT_KEY_FILE: a file holding that secret (preferred to the "
        "variable; its bytes, surrounding whitespace stripped)",
    )

    def audit_key_bytes(self) -> bytes | None:
        """The audit key's bytes, or None when neither setting is given; never logged."""
        if self.audit_key_file is not None and self.audit_key is not None:
            raise InvalidInputError(
                "both QUANTDESK_AUDIT_KEY and QUANTDESK_AUDIT_KEY_FILE are set",
                hint="set one of them",
            )
        if self.audit_key_file is not None:
            try:
                return self.audit_key_file.read_bytes().strip()
            except OSError as error:
                raise InvalidInputError(
                    f"cannot read the audit key file {self.audit_key_file}: {error.strerror}",
                    hint="check QUANTDESK_AUDIT_KEY_FILE",
                ) from None
        if self.audit_key is not None:
            return self.audit_key.get_secret_value().encode()
        return None

    @property
    def database(self) -> str:
        """The SQLAlchemy URL of the registry's database."""
        return self.database_url or f"sqlite:///{self.home / 'quantdesk.db'}"

    @property
    def catalog_dir(self) -> Path:
        return self.home / "catalog"

    @property
    def runs_dir(self) -> Path:
        """One folder per backtest run: request, result, fills, positions, equity, report."""
        return self.home / "runs"

    @property
    def ingest_dir(self) -> Path:
        """One folder per ingest run: its summary and its rejected rows."""
        return self.home / "ingest"

    @property
    def signals_dir(self) -> Path:
        """Signal rejects, dead letters and the signal event log (signals live in the catalog)."""
        return self.home / "signals"
