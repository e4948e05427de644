"""A backtest's tasks as one percent: weights by task, simulated time within the engine's
task, an ETA once there is a pace; and (property) the percent never goes back."""

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.jobs import JobProgress
from quantdesk.services.backtests import ANALYSE_TASK, CHECK_TASK, REPORT_TASK, SIMULATE_TASK
from quantdesk.services.job_progress import BACKTEST_TASKS, PercentProgress


class Channel:
    def __init__(self) -> None:
        self.sent: list[JobProgress] = []

    def progress(self, progress: JobProgress) -> None:
        self.sent.append(progress)

    def event(self, type: str, payload: object, *, subject: str | None = None) -> None:
        raise AssertionError("no events from progress")


def test_a_backtest_s_percent_follows_its_tasks_and_simulated_time() -> None:
    now = [0.0]
    channel = Channel()
    progress = PercentProgress(channel, BACKTEST_TASKS, clock=lambda: now[0])
    with progress.task(CHECK_TASK):
        assert channel.sent[-1].percent == 0.0 and channel.sent[-1].eta_seconds is None
    assert progress.percent == 5.0
    with progress.task(SIMULATE_TASK, total=1000) as advance:
        now[0] = 1.0
        advance(500)  # half the bars replayed
        assert channel.sent[-1].percent == 5.0 + 80.0 / 2
        assert channel.sent[-1].message == SIMULATE_TASK
        assert channel.sent[-1].eta_seconds == round(1.0 * (100 - 45.0) / 45.0, 3)
        now[0] = 1.05
        advance(100)  # within the send interval: not sent
        assert channel.sent[-1].percent == 45.0
        now[0] = 1.2
        advance(10_000)  # more than the total: capped at the task's end
        assert channel.sent[-1].percent == 85.0
    with progress.task("a step nobody planned"):  # unknown: percent stays
        assert channel.sent[-1].percent == 85.0
        assert channel.sent[-1].message == "a step nobody planned"
    with progress.task(ANALYSE_TASK):
        pass
    assert channel.sent[-1].percent == 95.0
    with progress.task(REPORT_TASK):
        pass
    assert channel.sent[-1].percent == 100.0


def test_without_a_plan_only_the_step_is_reported() -> None:
    channel = Channel()
    progress = PercentProgress(channel)
    with progress.task("read bars.csv", total=10) as advance:
        advance(5)
    assert {p.percent for p in channel.sent} == {0.0}
    assert channel.sent[-1].message == "read bars.csv"


steps = st.lists(
    st.tuples(
        st.sampled_from([name for name, _ in BACKTEST_TASKS] + ["other"]),
        st.one_of(st.none(), st.integers(min_value=-5, max_value=10_000)),
        st.lists(st.integers(min_value=-100, max_value=20_000), max_size=20),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_property_job_progress_is_monotone_and_bounded(
    tasks: list[tuple[str, int | None, list[int]]],
) -> None:
    """Design property (jobs): a job's reported percent never decreases and stays in
    0..100, whatever tasks its use case opens and however it advances them."""
    now = [0.0]
    channel = Channel()
    progress = PercentProgress(channel, BACKTEST_TASKS, clock=lambda: now[0])
    for name, total, advances in tasks:
        with progress.task(name, total=total) as advance:
            for units in advances:
                now[0] += 0.2
                advance(units)
    percents = [p.percent for p in channel.sent]
    assert all(0.0 <= p <= 100.0 for p in percents)
    assert percents == sorted(percents)
    assert all(p.eta_seconds is None or p.eta_seconds >= 0 for p in channel.sent)
