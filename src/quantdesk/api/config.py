"""What the HTTP layer needs to know of the settings, handed to ``create_app`` (no module-level
settings: the composition root reads the environment once and builds this)."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ReadinessCheck = Callable[[], object]
"""A component check for ``/ready``: returns (anything) when the component works, raises
when it does not.

The API cannot import adapters (the engine, the catalog's library); the composition root
hands it named checks that ask through the platform instead."""

JSON_BODY_MAX_BYTES = 4 * 1024 * 1024


class ApiSettings(BaseModel):
    """The service's HTTP settings (from ``QuantdeskSettings`` in ``bootstrap``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    cors_origins: tuple[str, ...] = ()
    metrics_public: bool = False
    environment: str = "development"
    ws_queue_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    ws_heartbeat_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    upload_max_bytes: Annotated[int, Field(ge=1)] = 512 * 1024 * 1024
    json_body_max_bytes: Annotated[int, Field(ge=1024)] = JSON_BODY_MAX_BYTES
    uploads_dir: Path = Path(".quantdesk/uploads")
    page_limit_max: Annotated[int, Field(ge=1, le=500)] = 500
    """The largest page a list answers: ``deps.page()`` bounds ``limit`` by
    ``pagination.PAGE_LIMIT_MAX`` (500, in the schema); a router may cap lower with this."""
    readiness_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    readiness: tuple[tuple[str, ReadinessCheck], ...] = Field(default=(), exclude=True)
    """Extra ``/ready`` components beside the database and the job workers (catalog, engine),
    each ``(name, check)``; the composition root supplies them."""
