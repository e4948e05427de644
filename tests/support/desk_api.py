"""The service's app over a real desk whose audit trail, risk limits and ingest records are
the real ones (on the desk's database, SQLite in its home or PostgreSQL by URL), with fake
auth (a token per role), switchable flags and a job service that records submissions.

For the tests of /signals, /risk, /data and /audit: what those routes do is the point; who
signs in and how jobs run are tested elsewhere.
"""

import dataclasses
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import JsonValue

from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.bootstrap import _audit, _ingests, _risk_limits, bootstrap
from quantdesk.domain.auth import Role
from quantdesk.domain.correlation import current_correlation_id
from quantdesk.domain.events import EventType
from quantdesk.domain.jobs import JobKind, JobRecord, JobState
from quantdesk.services.platform import Platform
from quantdesk.settings import QuantdeskSettings
from support.api_app import FakeFlags, FakeParts, bearer

API = "/api/v1"


@dataclass
class RecordingJobs:
    """``JobService.submit`` as a list: the routes' jobs are read back, not run."""

    submitted: list[JobRecord] = field(default_factory=list)

    def submit(
        self,
        kind: JobKind,
        payload: Mapping[str, JsonValue],
        *,
        submitted_by: str,
        subject: str | None = None,
    ) -> JobRecord:
        job = JobRecord(
            job_id=uuid.uuid4().hex,
            kind=kind,
            state=JobState.PENDING,
            payload=dict(payload),
            subject=subject,
            submitted_by=submitted_by,
            correlation_id=current_correlation_id(),
            created_ns=1,
        )
        self.submitted.append(job)
        return job

    def healthy(self) -> tuple[bool, str]:
        return True, "recording"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class RecordingEvents:
    """``EventHub.publish`` as a list of (type, payload, subject)."""

    published: list[tuple[EventType, dict[str, JsonValue], str | None]] = field(
        default_factory=list
    )

    def publish(
        self,
        type: EventType,
        payload: Mapping[str, JsonValue],
        *,
        subject: str | None = None,
    ) -> None:
        self.published.append((type, dict(payload), subject))

    def client_count(self) -> int:
        return 0

    def channel_dropped(self) -> int:
        return 0

    def close(self) -> None:
        return None


@dataclass
class DeskParts(FakeParts):
    audit: Any = None
    risk_limits: Any = None
    ingests: Any = None
    jobs: Any = field(default_factory=RecordingJobs)
    flags: FakeFlags = field(default_factory=FakeFlags)
    events: Any = field(default_factory=RecordingEvents)


@dataclass(frozen=True)
class DeskApi:
    desk: Platform
    parts: DeskParts
    client: TestClient
    settings: ApiSettings

    def get(self, path: str, role: Role = Role.viewer, **kwargs: Any) -> Any:
        return self.client.get(f"{API}{path}", headers=bearer(role), **kwargs)

    def post(self, path: str, role: Role = Role.trader, **kwargs: Any) -> Any:
        return self.client.post(f"{API}{path}", headers=bearer(role), **kwargs)

    def put(self, path: str, role: Role = Role.trader, **kwargs: Any) -> Any:
        return self.client.put(f"{API}{path}", headers=bearer(role), **kwargs)


@contextmanager
def desk_api(
    home: Path, *, database_url: str | None = None, upload_max_bytes: int = 1 << 20
) -> Iterator[DeskApi]:
    settings = QuantdeskSettings(home=home, database_url=database_url)
    platform = bootstrap(settings)
    parts = DeskParts(
        audit=_audit(settings, platform),
        risk_limits=_risk_limits(settings),
        ingests=_ingests(settings),
    )
    desk = dataclasses.replace(platform, build_service=lambda: parts)
    api_settings = ApiSettings(uploads_dir=settings.uploads_dir, upload_max_bytes=upload_max_bytes)
    app = create_app(desk, api_settings)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield DeskApi(desk, parts, client, api_settings)


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A problem-details answer of ``status`` (and ``code``), with a correlation id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["correlation_id"]
    if code is not None:
        assert body["code"] == code, body
    return body
