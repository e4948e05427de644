"""The ``optimisation`` job without an engine: the payload checked whole (by field, by code),
a space given as data, progress on the job's channel, the report's summary as the result."""

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import JsonValue
from test_optimisation_screen import service

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.jobs import JobProgress
from quantdesk.services.optimisation.job import optimisation_job


class Channel:
    def __init__(self) -> None:
        self.progress_seen: list[JobProgress] = []

    def progress(self, progress: JobProgress) -> None:
        self.progress_seen.append(progress)

    def event(
        self, type: str, payload: Mapping[str, JsonValue], *, subject: str | None = None
    ) -> None:
        return None


def platform(tmp_path: Path) -> tuple[Any, str]:
    optimiser, ref = service(tmp_path)
    return SimpleNamespace(research=SimpleNamespace(optimisation=optimiser)), ref


def test_a_job_runs_a_study_with_its_space_and_reports_progress(tmp_path: Path) -> None:
    desk, ref = platform(tmp_path)
    channel = Channel()
    space = {"parameters": {"fast_period": {"low": 4, "high": 8, "step": 2}}}
    result = optimisation_job(
        desk,
        {
            "ref": ref,
            "actor": "ann",
            "space": cast(JsonValue, space),
            "trials": 3,
            "sampler": "grid",
            "top": 0,
            "study": "job-1",
            "register": True,
        },
        channel,
    )
    assert result["study_name"] == "job-1" and result["ref"] == ref
    assert result["registered_ref"] == "trend-s@2"
    assert (result["trials"], result["sampler"], result["resumed"]) == (3, "grid", False)
    best = cast(dict[str, Any], result["best_params"])
    assert best["fast_period"] in (4, 6, 8) and result["best_number"] in (0, 1, 2)
    assert channel.progress_seen and channel.progress_seen[-1].percent >= 90


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trials": "3"}, "trials"),  # strict: no coercion from text
        ({"objective": "profit"}, "objective"),
        ({"seed": -1}, "seed"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_a_bad_payload_is_refused_by_field(
    tmp_path: Path, change: dict[str, JsonValue], field: str
) -> None:
    desk, ref = platform(tmp_path)
    with pytest.raises(InvalidInputError) as refused:
        optimisation_job(desk, {"ref": ref, "actor": "ann", **change}, Channel())
    assert refused.value.code == "job_payload" and refused.value.data["field"] == field
