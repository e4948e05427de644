"""An API app over a real desk with fake service parts, for tests of the HTTP layer itself
(problems, correlation ids, access, audit, metrics) where auth, jobs and flags are not the
point: one bearer token per role, an audit list, switchable flags and job workers."""

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from quantdesk.api.app import create_app
from quantdesk.api.config import ApiSettings
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.auth import Principal, Role
from quantdesk.domain.errors import AuthenticationError, FeatureDisabledError
from quantdesk.domain.jobs import JobKind, JobState, JobStats
from quantdesk.services.platform import Platform

TOKENS = {role: f"token-{role.value}" for role in Role}


def bearer(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


class FakeAuth:
    """Each role's token proves a user of that role; anything else is refused."""

    def __init__(self) -> None:
        self.admin_created = False

    def authenticate(self, credential: str) -> Principal:
        for role, token in TOKENS.items():
            if credential == token:
                return Principal(
                    user_id=f"u-{role.value}", username=role.value, role=role, via="token"
                )
        raise AuthenticationError("invalid credentials")

    def ensure_admin(self) -> str | None:
        if self.admin_created:
            return None
        self.admin_created = True
        return "one-time-admin-password"


@dataclass
class FakeAudit:
    events: list[dict[str, Any]] = field(default_factory=list)

    def record(self, **event: Any) -> None:
        self.events.append(event)


@dataclass
class FakeFlags:
    off: set[str] = field(default_factory=set)

    def require(self, name: str, principal: Principal) -> None:
        if name in self.off:
            raise FeatureDisabledError(f"the feature {name} is off", data={"flag": name})


@dataclass
class FakeJobs:
    alive: bool = True
    started: int = 0
    stopped: int = 0

    def healthy(self) -> tuple[bool, str]:
        return (True, "2 workers") if self.alive else (False, "no worker is alive")

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def stats(self) -> JobStats:
        return JobStats(
            counts={
                (JobKind.BACKTEST, JobState.RUNNING): 2,
                (JobKind.INGEST_BARS, JobState.FAILED): 1,
            },
            finished={JobKind.INGEST_BARS: 1},
            finished_seconds={JobKind.INGEST_BARS: 4.5},
        )


@dataclass
class FakeEvents:
    clients: int = 0

    closed: int = 0

    def client_count(self) -> int:
        return self.clients

    def channel_dropped(self) -> int:
        return 0

    def close(self) -> None:
        self.closed += 1


@dataclass
class FakeParts:
    auth: FakeAuth = field(default_factory=FakeAuth)
    audit: FakeAudit = field(default_factory=FakeAudit)
    flags: FakeFlags = field(default_factory=FakeFlags)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    events: FakeEvents = field(default_factory=FakeEvents)


def fake_desk(home: Path, parts: FakeParts) -> Platform:
    return dataclasses.replace(bootstrap(home=home), build_service=lambda: parts)  # type: ignore[arg-type,return-value]


def fake_app(
    home: Path, parts: FakeParts | None = None, *, routers: Iterable[Any] = (), **settings: Any
) -> tuple[FastAPI, FakeParts]:
    """``create_app`` over a desk in ``home`` with fake parts, plus test-only ``routers``
    (mounted under /api/v1 like the real ones)."""
    parts = FakeParts() if parts is None else parts
    app = create_app(fake_desk(home, parts), ApiSettings(**settings))
    for router in routers:
        app.include_router(router, prefix="/api/v1")
    return app, parts
