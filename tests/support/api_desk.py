"""TESTS ONLY: the service's app over a real desk (SQLite registry under its home), with a
signed-in caller of every role, driven in-process by starlette's ``TestClient``."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fakes import InlineJobRunner
from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.auth import Role
from quantdesk.domain.jobs import JobOutcome, JobState
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.platform import Platform
from quantdesk.services.ports import BacktestRunner
from quantdesk.services.ports.jobs import JobSink, JobWork
from quantdesk.settings import QuantdeskSettings

PASSWORD = "correct horse battery staple"
ADMIN = "admin"
"""Every caller acts for the first admin (API keys of each role; no password hashed per
role): the argon2 hash of a login costs about a second on a loaded machine."""
API = "/api/v1"
Headers = dict[str, str] | None


@dataclass(frozen=True)
class ApiDesk:
    desk: Platform
    client: TestClient
    tokens: Mapping[Role, str]

    def headers(self, role: Role = Role.researcher) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def other_user(self, role: Role = Role.trader) -> dict[str, str]:
        """Headers of a second user (``{role}-user``), for who-did-it filters."""
        auth = self.desk.service.auth
        name = f"{role.value}-user"
        auth.add_user(name, role, actor=ADMIN, password=PASSWORD)
        key = auth.create_api_key("tests other", role, actor=ADMIN, expires_days=1, owner=name)
        return {"Authorization": f"Bearer {key[1]}"}

    def get(
        self, path: str, role: Role = Role.researcher, *, as_: Headers = None, **kwargs: Any
    ) -> Any:
        return self.client.get(f"{API}{path}", headers=as_ or self.headers(role), **kwargs)

    def post(
        self, path: str, role: Role = Role.researcher, *, as_: Headers = None, **kwargs: Any
    ) -> Any:
        return self.client.post(f"{API}{path}", headers=as_ or self.headers(role), **kwargs)

    def put(
        self, path: str, role: Role = Role.researcher, *, as_: Headers = None, **kwargs: Any
    ) -> Any:
        return self.client.put(f"{API}{path}", headers=as_ or self.headers(role), **kwargs)


@contextmanager
def api_desk(
    home: Path,
    *,
    runner: BacktestRunner | None = None,
    held: bool = False,
    database_url: str | None = None,
    migration_sources: dict[str, str] | None = None,
) -> Iterator[ApiDesk]:
    """The app over a desk at ``home`` (its database: SQLite there, or ``database_url``;
    ``runner``: in place of the engine), lifespan (job workers) running; jobs run inline
    when submitted, or (``held``) stay pending."""
    jobs = HeldJobRunner() if held else DeskJobRunner()
    settings = QuantdeskSettings(
        home=home, database_url=database_url, migration_sources=migration_sources or {}
    )
    platform = bootstrap(settings, overrides=Overrides(runner=runner, job_runner=jobs))
    if isinstance(jobs, DeskJobRunner):
        jobs.bind(platform)
    app = create_app(platform, ApiSettings(uploads_dir=home / "uploads"))
    with TestClient(app, raise_server_exceptions=False) as client:  # admin made at start
        auth = platform.service.auth
        tokens = {
            role: auth.create_api_key(f"tests {role.value}", role, actor=ADMIN, expires_days=1)[1]
            for role in Role
        }
        yield ApiDesk(platform, client, tokens)


def document(definition: StrategyDefinition) -> dict[str, Any]:
    """A definition as a client sends it: what a file holds, no registry bookkeeping."""
    return definition.model_dump(mode="json", exclude={"version", "author", "created_at", "reason"})


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A problem-details answer of ``status`` (and ``code``), with a correlation id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == f"/problems/{body['code']}"
    assert body["correlation_id"]
    if code is not None:
        assert body["code"] == code, body
    return body


class HeldJobRunner:
    """A ``JobRunner`` that queues jobs and never starts one: they stay pending until
    cancelled (which ends them at once, as a real runner's cancel does)."""

    def __init__(self) -> None:
        self.sink: JobSink | None = None
        self.queued: list[str] = []

    def start(self, sink: JobSink) -> None:
        self.sink = sink

    def stop(self) -> None:
        self.sink = None

    def submit(self, work: JobWork) -> None:
        self.queued.append(work.job_id)

    def cancel(self, job_id: str, reason: str) -> bool:
        if job_id not in self.queued or self.sink is None:
            return False
        self.queued.remove(job_id)
        outcome = JobOutcome(JobState.CANCELLED, error=reason, error_code="job_cancelled")
        self.sink.job_finished(job_id, outcome)
        return True

    def healthy(self) -> tuple[bool, str]:
        return True, "held"


class DeskJobRunner(InlineJobRunner):
    """``InlineJobRunner`` over the desk ``bootstrap`` builds with it (known only after)."""

    def __init__(self) -> None:
        super().__init__(None)

    def bind(self, platform: Platform) -> None:
        self._platform = platform
