"""The ``validation_run`` job: one validation in a job worker, its progress on the job.

The payload comes from the service's route but is checked here all the same (a job store
row is not trusted input). Progress: every task the pipeline names gets an equal share of
the percent (``VALIDATION_TASKS``); the current step shows as the job's message.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from pydantic import JsonValue

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.validation.report import ValidationRecord
from quantdesk.services.job_progress import PercentProgress
from quantdesk.services.ports.jobs import JobChannel
from quantdesk.services.ports.validation import ValidationRunner

if TYPE_CHECKING:
    from quantdesk.services.platform import Platform

WORKERS_MAX = 256
_NS_MAX = 2**63 - 1


def validation_job(
    platform: "Platform", payload: Mapping[str, JsonValue], channel: JobChannel
) -> dict[str, JsonValue]:
    ref, actor = _required(payload, "ref", 200), _required(payload, "actor", 200)
    policy, ray_address = _text(payload, "policy", 64), _text(payload, "ray_address", 300)
    start_ns = _integer(payload, "start_ns", 0, _NS_MAX)
    end_ns = _integer(payload, "end_ns", 0, _NS_MAX)
    workers = _integer(payload, "workers", 1, WORKERS_MAX)
    runner = cast(ValidationRunner, platform.research.validation)  # checked: now built
    record = runner.run(
        ref,
        policy=policy,
        start_ns=start_ns,
        end_ns=end_ns,
        workers=workers,
        ray_address=ray_address,
        actor=actor,
        progress=PercentProgress(channel, validation_tasks()),
    )
    return record_json(record)


def record_json(record: ValidationRecord) -> dict[str, JsonValue]:
    """A record as a job's result (and the CLI's ``--json``): the ref beside its fields."""
    return {"ref": record.ref, **record.model_dump(mode="json")}


def validation_tasks() -> tuple[tuple[str, float], ...]:
    """The pipeline's progress tasks, one equal share each."""
    from quantdesk.services.validation import pipeline

    names: tuple[str, ...] = getattr(pipeline, "VALIDATION_TASKS", ())
    return tuple((name, 1.0) for name in names)


def _text(payload: Mapping[str, JsonValue], key: str, limit: int) -> str | None:
    return None if payload.get(key) is None else _required(payload, key, limit)


def _required(payload: Mapping[str, JsonValue], key: str, limit: int) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInputError(
            f"the job's payload needs {key!r}: a text of 1 to {limit} characters",
            code="job_payload",
            data={"field": key},
        )
    return value


def _integer(payload: Mapping[str, JsonValue], key: str, low: int, high: int) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"the job's {key!r} is a whole number from {low} to {high}",
            code="job_payload",
            data={"field": key},
        )
    return value
