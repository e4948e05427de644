"""The study report page: ranked trials, importance, plots, re-runs; escaped; 0/1 trials."""

import io
import re

import pytest

from quantdesk.adapters.reporting.optimisation_html import HtmlOptimisationReportRenderer
from quantdesk.domain.optimisation.space import ParameterRange, SearchSpace
from quantdesk.domain.optimisation.study import (
    Objective,
    Rerun,
    Sampler,
    ScreenedCandidate,
    ScreenSummary,
    StudyReport,
    StudyTrial,
    TrialState,
)

HOSTILE = '<script>alert("x")</script>'
SPACE = SearchSpace(
    family="trend_following",
    parameters=(
        ParameterRange(name="fast_period", kind="int", low=4, high=12, step=2),
        ParameterRange(name="slow_period", kind="int", low=20, high=40, step=10),
        ParameterRange(name="ma_type", kind="categorical", choices=("ema", "sma")),
    ),
)


def trial(number: int, value: float | None, **params: object) -> StudyTrial:
    state = TrialState.COMPLETE if value is not None else TrialState.FAIL
    return StudyTrial(
        number=number,
        params={
            "fast_period": 4 + 2 * (number % 5),
            "slow_period": 20 + 10 * (number % 3),
            "ma_type": "ema" if number % 2 else "sma",
            **params,
        },  # type: ignore[dict-item]
        value=value,
        state=state,
        fingerprint=f"{number:02d}" + "f" * 62,
        reason=None if value is not None else f"no trades {HOSTILE}",
    )


def report(trials: list[StudyTrial], **fields: object) -> StudyReport:
    values = [t for t in trials if t.value is not None]
    best = max(values, key=lambda t: (t.value, -t.number)) if values else None
    base: dict[str, object] = {
        "study_name": f"study {HOSTILE}",
        "ref": "trend-syn01@1",
        "objective": Objective(),
        "sampler": Sampler.TPE,
        "seed": 7,
        "space": SPACE,
        "trials_requested": len(trials),
        "trials": trials,
        "best_number": best.number if best else None,
        "started_ns": 1_700_000_000_000_000_000,
        "finished_ns": 1_700_000_100_000_000_000,
    }
    return StudyReport.model_validate({**base, **fields})


def page(study: StudyReport) -> str:
    out = io.StringIO()
    HtmlOptimisationReportRenderer().write(study, out)
    return out.getvalue()


def test_a_full_study_has_every_section_and_ranks_best_first() -> None:
    trials = [trial(n, v) for n, v in enumerate([0.5, 1.7, None, 1.1, -0.2, 0.9])]
    study = report(
        trials,
        importance={"slow_period": 0.7, "fast_period": 0.2, "ma_type": 0.1},
        reruns=[
            Rerun(number=1, fingerprint="a" * 64, run_id="run-1", value=1.7, matched=True),
            Rerun(number=3, fingerprint="b" * 64, run_id="run-3", value=1.0, matched=False),
        ],
        registered_ref="trend-syn01@2",
        screened=ScreenSummary(
            candidates=45,
            confirmed=6,
            wall_seconds=0.4,
            leaders=[ScreenedCandidate(params={"fast_period": 6}, value=2.0)],
        ),
    )
    html = page(study)
    for heading in (
        "Best trial",
        "Re-runs",
        "Parameter importance",
        "Parallel coordinates",
        "Contour",
        "Vectorised screen",
        "Trials, best first",
    ):
        assert heading in html
    assert 'id="parallel-coordinates"' in html and '"parcoords"' in html
    assert 'id="contour"' in html and '"type": "contour"' in html.replace('"type":"', '"type": "')
    # the contour is over the two most important parameters
    assert "Contour: <code>slow_period</code> by <code>fast_period</code>" in html
    # ranked: 1.7 (trial 1), 1.1 (3), 0.9 (5), 0.5 (0), -0.2 (4), then the failed trial 2
    ranked = html[html.index("Trials, best first") :]
    order = re.findall(r"<tr[^>]*><td>[-\d]+</td><td>(\d+)</td>", ranked)
    assert order == ["1", "3", "5", "0", "4", "2"]
    assert '<tr class="best"><td>1</td><td>1</td>' in ranked
    assert "DIFFERS" in html and "1 re-run(s) did not reproduce" in html
    assert "trend-syn01@2" in html
    assert "0101ffffffff"[:12] not in html  # fingerprints shortened to 12, full in title
    assert 'title="01' + "f" * 62 + '"' in html


def test_user_text_is_escaped() -> None:
    html = page(report([trial(0, 1.0, ma_type=HOSTILE), trial(1, None)]))
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("count", [0, 1])
def test_zero_or_one_trial_gives_a_page_without_plots(count: int) -> None:
    html = page(report([trial(0, 0.3)][:count], importance_note="too few trials"))
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "Plotly.newPlot" not in html  # plotly.js is not even inlined
    assert "need at least two complete trials" in html.replace("needs", "need")
    assert "too few trials" in html
    if count == 0:
        assert "None: no trials ran" in html and "No trials." in html
    else:
        assert "Trial 0:" in html


def test_a_study_whose_trials_all_failed_names_no_best() -> None:
    html = page(report([trial(0, None), trial(1, None)]))
    assert "no trial has an objective value" in html
    assert "no version registered" in html
