"""Settings from the environment (prefix ``QUANTDESK_``), read once by ``bootstrap``."""

import logging
import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.text import is_whole_match, shown
from quantdesk.services.plugins import ENTRY_POINT_GROUP, is_dotted_name, is_import_path

log = logging.getLogger(__name__)

SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_URL_SCHEMES = {
    "redis_url": ("redis://", "rediss://", "unix://"),
    "database_url": ("sqlite:", "postgresql:", "postgresql+"),
}


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

    plugin_packages: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="QUANTDESK_PLUGIN_PACKAGES: comma-separated packages (acme or "
        "acme.strategies) whose strategy classes definitions and requests may name; default "
        "none (built-ins and entry points only)",
    )
    plugin_paths: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description=f"QUANTDESK_PLUGIN_PATHS: directories ({os.pathsep}-separated) searched, "
        "after the installed packages, for allowed plug-in packages and entry points",
    )
    plugin_check_seconds: float = Field(
        default=60.0,
        description="QUANTDESK_PLUGIN_CHECK_SECONDS: how long the child process that imports "
        "a plug-in to check it may take",
    )
    validation_smoke: bool = Field(
        default=True,
        description="QUANTDESK_VALIDATION_SMOKE: each registration's validation runs a short "
        "smoke backtest (off: the other checks only; `strategy validate` always runs it)",
    )
    validation_smoke_bars: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="QUANTDESK_VALIDATION_SMOKE_BARS: bars of a smoke backtest after warm-up",
    )
    validation_smoke_seconds: float = Field(
        default=60.0,
        gt=0,
        description="QUANTDESK_VALIDATION_SMOKE_SECONDS: the smoke backtest's time limit "
        "(its process is killed then)",
    )

    # --- the network service (issue 14) -------------------------------------------------------
    job_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="QUANTDESK_JOB_WORKERS: worker processes that run jobs (backtests, "
        "ingests, validations) beside the service",
    )
    job_time_limit_seconds: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 24 * 3600,
        description="QUANTDESK_JOB_TIME_LIMIT_SECONDS: a job running longer is stopped and failed",
    )
    job_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="QUANTDESK_JOB_NICENESS: added to each job worker's CPU niceness, so the "
        "service answers requests before it runs backtests (0: the same priority)",
    )
    sweep_workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="QUANTDESK_SWEEP_WORKERS: worker processes an optimisation or a validation "
        "runs its trials on by default (1: in this process)",
    )
    ray_address: str | None = Field(
        default=None,
        max_length=300,
        description="QUANTDESK_RAY_ADDRESS: run sweeps' trials as tasks on this Ray cluster "
        "(auto, or HOST:PORT) instead of local worker processes",
    )
    jobs_on_restart: Literal["fail", "requeue"] = Field(
        default="fail",
        description="QUANTDESK_JOBS_ON_RESTART: what a start does with jobs a stopped service "
        "left pending or running: mark them failed (default) or queue them again",
    )
    token_secret_file: Path | None = Field(
        default=None,
        description="QUANTDESK_TOKEN_SECRET_FILE: the secret that signs access tokens; default "
        "HOME/secrets/token-secret, generated (mode 0600) when absent",
    )
    access_token_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="QUANTDESK_ACCESS_TOKEN_MINUTES"
    )
    refresh_token_days: int = Field(
        default=14, ge=1, le=365, description="QUANTDESK_REFRESH_TOKEN_DAYS"
    )
    login_attempts_per_minute: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="QUANTDESK_LOGIN_ATTEMPTS_PER_MINUTE: failed logins allowed per user and "
        "per address before further attempts are refused for a minute",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="QUANTDESK_CORS_ORIGINS: comma-separated origins allowed to call the API "
        "from a browser (default none)",
    )
    metrics_public: bool = Field(
        default=False,
        description="QUANTDESK_METRICS_PUBLIC: serve /metrics without credentials (for a "
        "scraper on a trusted network); default: it needs a token like every route",
    )
    environment: str = Field(
        default="development",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="QUANTDESK_ENVIRONMENT: the deployment's name (development, staging, "
        "production...): feature flags may be restricted to some",
    )
    ws_queue_size: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="QUANTDESK_WS_QUEUE_SIZE: events held per WebSocket client; a slow client "
        "loses the oldest (and is told how many)",
    )
    ws_heartbeat_seconds: float = Field(
        default=15.0, gt=0, le=3600, description="QUANTDESK_WS_HEARTBEAT_SECONDS"
    )
    upload_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1,
        description="QUANTDESK_UPLOAD_MAX_BYTES: the largest file an ingest upload may send",
    )

    migration_sources: dict[str, SecretStr] = Field(
        default_factory=dict,
        max_length=100,
        description="QUANTDESK_MIGRATION_SOURCES: named PostgreSQL sources of data migrate, as "
        'JSON {"f2": "postgresql://user:password@host/db"}; the service migrates only from '
        "these (a request names one, never a URL)",
    )

    @field_validator("migration_sources")
    @classmethod
    def _sources(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """Names are short words; URLs are PostgreSQL's. A URL is never echoed."""
        for name, url in value.items():
            if not is_whole_match(SOURCE_NAME, name):
                raise InvalidInputError(
                    f"QUANTDESK_MIGRATION_SOURCES: {name[:40]!r} is not a source name",
                    hint="names are letters, digits, _ and -, at most 40",
                )
            if not url.get_secret_value().startswith(("postgresql:", "postgres:", "postgresql+")):
                raise InvalidInputError(
                    f"QUANTDESK_MIGRATION_SOURCES: source {name} is not a PostgreSQL URL",
                    hint="it must start with postgresql://",
                )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("redis_url", "database_url", mode="before")
    @classmethod
    def _url(cls, value: object, info: ValidationInfo) -> object:
        """An empty variable is unset; otherwise the scheme must be one we speak. The URL
        itself is never echoed: it may hold a password."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        schemes = _URL_SCHEMES[info.field_name or ""]
        if not value.startswith(schemes):
            variable = f"QUANTDESK_{(info.field_name or '').upper()}"
            raise InvalidInputError(
                f"{variable} is not a URL of a supported scheme",
                hint=f"it must start with one of {', '.join(schemes)}",
            )
        return value

    @field_validator("plugin_packages", mode="before")
    @classmethod
    def _packages(cls, value: object) -> object:
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple):
            return value
        packages = []
        for raw in names:
            name = str(raw).strip()
            if not name:
                continue  # "acme," or an empty variable: nothing named
            if not is_dotted_name(name):
                raise InvalidInputError(
                    f"QUANTDESK_PLUGIN_PACKAGES: {name!r} is not a package name",
                    hint="comma-separated names of ASCII identifiers joined by dots, e.g. "
                    "acme,desk.strategies",
                )
            top = name.split(".", 1)[0]
            if top in sys.stdlib_module_names or top == "quantdesk":
                raise InvalidInputError(
                    f"QUANTDESK_PLUGIN_PACKAGES: {name!r} is not a plug-in package ("
                    f"{'quantdesk itself' if top == 'quantdesk' else 'the standard library'})",
                    hint="name the packages that hold your own strategies; quantdesk's "
                    "built-ins are always allowed",
                )
            packages.append(name)
        return tuple(dict.fromkeys(packages))

    @field_validator("plugin_check_seconds", mode="before")
    @classmethod
    def _check_seconds(cls, value: object) -> float:
        try:
            seconds = float(str(value))
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds <= 600:  # NaN fails too
            raise InvalidInputError(
                f"QUANTDESK_PLUGIN_CHECK_SECONDS: {value!r} is not a number of seconds in (0, 600]",
                hint="e.g. 60",
            )
        return seconds

    @field_validator("plugin_paths", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        entries = value.split(os.pathsep) if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            return value
        paths = []
        for raw in entries:
            if not str(raw).strip():
                continue
            try:
                path = Path(str(raw)).expanduser().resolve()
                is_dir = path.is_dir()
            except (OSError, RuntimeError, ValueError) as error:  # too long, a loop, a NUL
                raise InvalidInputError(
                    f"QUANTDESK_PLUGIN_PATHS: {shown(str(raw), 200)} cannot be used: "
                    f"{getattr(error, 'strerror', None) or error}",
                    hint="name existing directories that hold plug-in packages",
                ) from None
            if not is_dir:
                raise InvalidInputError(
                    f"QUANTDESK_PLUGIN_PATHS: {shown(str(raw), 200)} is not a directory",
                    hint="name existing directories that hold plug-in packages",
                )
            paths.append(path)
        return tuple(dict.fromkeys(paths))

    def strategy_entry_points(self) -> tuple[str, ...]:
        """The ``module:Class`` values of the ``quantdesk.strategies`` entry points of the
        distributions on the import path and in ``plugin_paths`` (metadata only: nothing is
        imported). A value of another form is skipped with a warning."""
        search = [*sys.path, *(str(path) for path in self.plugin_paths)]
        values = []
        for distribution in metadata.distributions(path=search):
            for entry_point in distribution.entry_points.select(group=ENTRY_POINT_GROUP):
                value = f"{entry_point.module}:{entry_point.attr}"
                if is_import_path(value):
                    values.append(value)
                else:
                    log.warning(
                        "entry point %s = %s of %s is not module:Class: ignored",
                        entry_point.name,
                        entry_point.value,
                        distribution.metadata["Name"],
                    )
        return tuple(sorted(set(values)))

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
    def validations_dir(self) -> Path:
        """One folder per validation run: its report as JSON and HTML."""
        return self.home / "validations"

    @property
    def studies_dir(self) -> Path:
        """One folder per optimisation study: its HTML report."""
        return self.home / "studies"

    @property
    def scratch_dir(self) -> Path:
        """Throw-away catalogs (stress scenarios' transformed bars), never the real one."""
        return self.home / "scratch"

    @property
    def ingest_dir(self) -> Path:
        """One folder per ingest run: its summary and its rejected rows."""
        return self.home / "ingest"

    @property
    def token_secret_path(self) -> Path:
        return self.token_secret_file or self.home / "secrets" / "token-secret"

    @property
    def uploads_dir(self) -> Path:
        """Files sent to the service for an ingest job, kept until the job is done."""
        return self.home / "uploads"

    @property
    def signals_dir(self) -> Path:
        """Signal rejects, dead letters and the signal event log (signals live in the catalog)."""
        return self.home / "signals"
