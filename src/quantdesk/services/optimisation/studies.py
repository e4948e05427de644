"""A stored study's pieces: its trials as reported, the re-runs of its best, its files.

Every trial is a reproducible backtest (its fingerprint is kept as a user attribute); the
best ones are re-run as ordinary stored runs through ``BacktestService.run`` and must give
the same fingerprint and the same fills, else the study's evidence is worthless and the
caller is told loudly (``rerun_mismatch``).
"""

import json
import re
from collections.abc import Sequence
from pathlib import Path

from quantdesk.domain.backtest import BacktestRequest, Metrics
from quantdesk.domain.errors import ConflictError, InvalidInputError, QuantdeskError
from quantdesk.domain.optimisation.space import SearchSpace, apply
from quantdesk.domain.optimisation.study import (
    STUDY_NAME_MAX_LENGTH,
    Objective,
    Rerun,
    Sampler,
    StudyRecord,
    StudyReport,
    StudyState,
    StudyTrial,
    TrialState,
)
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.text import is_whole_match
from quantdesk.services.backtests import BacktestService
from quantdesk.services.optimisation.objective import objective_value
from quantdesk.services.optimisation.search import trial_request
from quantdesk.services.ports.optimisation import OptimisationReportRenderer, StoredTrial
from quantdesk.services.trials import fills_digest

_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


def study_trial(stored: StoredTrial) -> StudyTrial:
    attrs = stored.attrs
    raw = attrs.get("metrics")
    reason = attrs.get("reason")
    return StudyTrial(
        number=stored.number,
        params=dict(stored.params),
        value=stored.value,
        state=stored.state,
        fingerprint=str(attrs.get("fingerprint") or ""),
        fills_sha256=str(attrs.get("fills_sha256") or ""),
        metrics=Metrics.model_validate_json(raw) if isinstance(raw, str) else None,
        key=str(attrs.get("key") or ""),
        reason=None if reason is None else str(reason),
    )


def best_number(trials: Sequence[StudyTrial]) -> int | None:
    scored = [t for t in trials if t.value is not None and t.state is TrialState.COMPLETE]
    best = min(scored, key=lambda t: (-(t.value or 0.0), t.number), default=None)
    return None if best is None else best.number


def rerun_top(
    backtests: BacktestService,
    definition: StrategyDefinition,
    request: BacktestRequest,
    trials: Sequence[StudyTrial],
    objective: Objective,
    *,
    top_k: int,
    submitted_by: str,
) -> list[Rerun]:
    """The ``top_k`` best complete trials re-run as stored runs, each compared with its trial."""
    scored = [t for t in trials if t.value is not None and t.state is TrialState.COMPLETE]
    scored.sort(key=lambda t: (-(t.value or 0.0), t.number))
    reruns: list[Rerun] = []
    for trial in scored[:top_k]:
        candidate = apply(definition, trial.params)
        result = backtests.run(
            trial_request(request, candidate), pending=[candidate], submitted_by=submitted_by
        )
        digest = fills_digest(backtests.artifacts(result.run_id).fills)
        reruns.append(
            Rerun(
                number=trial.number,
                fingerprint=result.fingerprint,
                run_id=result.run_id,
                fills_sha256=digest,
                value=objective_value(result.metrics, objective),
                matched=result.fingerprint == trial.fingerprint and digest == trial.fills_sha256,
            )
        )
    return reruns


def check_reruns(report: StudyReport) -> None:
    """Raise when a re-run did not reproduce its trial (after the report is written)."""
    failed = [r for r in report.reruns if not r.matched]
    if failed:
        numbers = ", ".join(f"#{r.number} (run {r.run_id})" for r in failed)
        raise QuantdeskError(
            f"study {report.study_name}: re-running trial {numbers} did not reproduce it "
            "(a different fingerprint or different fills): its results cannot be trusted",
            hint="report it: the trial engine and the stored run must trade identically",
            code="rerun_mismatch",
            data={"study": report.study_name, "trials": numbers},
        )


def write_report(
    report: StudyReport, directory: Path, renderer: OptimisationReportRenderer | None
) -> Path:
    """JSON (always) and HTML (when a renderer is wired) into ``directory``, atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    _atomic(directory / REPORT_JSON, json.dumps(report.model_dump(mode="json"), indent=1))
    if renderer is not None:
        partial = directory / f".{REPORT_HTML}.partial"
        with partial.open("w", encoding="utf-8") as out:
            renderer.write(report, out)
        partial.replace(directory / REPORT_HTML)
    return directory


def read_report(directory: Path) -> StudyReport:
    return StudyReport.model_validate_json((directory / REPORT_JSON).read_text(encoding="utf-8"))


def _atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def default_name(
    definition: StrategyDefinition, objective: Objective, sampler: Sampler, seed: int
) -> str:
    kind = objective.kind.value
    return f"{definition.strategy_id}-v{definition.version}-{kind}-{sampler.value}-s{seed}"


def check_name(name: str) -> None:
    if len(name) > STUDY_NAME_MAX_LENGTH or not is_whole_match(_STUDY_NAME, name):
        raise InvalidInputError(
            f"{name!r} is not a study name: 1-100 of letters, digits, '.', '-', '_'",
            code="invalid_study_name",
            data={"study": name[:100]},
        )


def study_record(
    existing: StudyRecord | None,
    name: str,
    ref: str,
    space: SearchSpace,
    objective: Objective,
    sampler: Sampler,
    seed: int,
    trials: int,
    actor: str,
    now: int,
) -> StudyRecord:
    """The record a run of the study starts with: new, or the stored one continued
    (refused when it was made with other settings: a resume must not drift)."""
    wanted = {
        "ref": ref,
        "space_sha256": space.sha256,
        "objective": objective.describe(),
        "sampler": sampler,
        "seed": seed,
    }
    if existing is not None:
        differ = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
        if differ:
            raise ConflictError(
                f"study {name!r} exists with another {', '.join(differ)}: a study resumes "
                "only with the same strategy version, space, objective, sampler and seed",
                hint="give the study another name, or repeat its settings",
                code="study_mismatch",
                data={"study": name, "differs": ", ".join(differ)},
            )
        return existing.model_copy(
            update={"state": StudyState.RUNNING, "trials_requested": trials, "updated_ns": now}
        )
    return StudyRecord(
        name=name,
        ref=ref,
        space_sha256=space.sha256,
        objective=objective.describe(),
        sampler=sampler,
        seed=seed,
        state=StudyState.RUNNING,
        trials_requested=trials,
        actor=actor,
        created_ns=now,
        updated_ns=now,
    )
