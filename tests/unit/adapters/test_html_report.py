"""The HTML report: one offline page, every figure labelled, all text escaped, big runs thinned."""

import io
import json
import re
from typing import Any, cast

import numpy as np
import pytest

from quantdesk.adapters.reporting.html_report import (
    MAX_LINE_POINTS,
    MAX_MARKERS,
    METRIC_FORMATS,
    HtmlReportRenderer,
    downsample,
)
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    FillRecord,
    Metrics,
    RunStatus,
    StrategyAttribution,
    StrategyRun,
)
from quantdesk.services.performance import EquityCurve
from quantdesk.services.ports import RunArtifacts

T0 = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z
MINUTE = 60_000_000_000
RUN_ID = "20240101T000100Z-1a2b3c4d"
FINGERPRINT = "0123456789abcdef" * 4
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d")

METRICS = Metrics(
    start_equity=1_000_000.0,
    end_equity=1_012_345.678,
    pnl=12_345.678,
    total_return=0.012345678,
    cagr=0.05,
    annual_volatility=0.2,
    sharpe=1.234,
    sortino=None,
    calmar=4.0,
    max_drawdown=-0.0567,
    max_drawdown_duration_ns=(3 * 24 + 5) * 3_600 * 10**9,
    trade_count=1_234,
    win_rate=0.55,
    profit_factor=1.5,
    avg_win=100.0,
    avg_loss=-80.0,
    expectancy=10.0,
    exposure=0.75,
    turnover=3.5,
    fees=12.5,
    periods_per_year=252.0,
)


def make_result(label: str = "trend run", strategy_id: str = "EmaCross-ACME") -> BacktestResult:
    return BacktestResult(
        run_id=RUN_ID,
        status=RunStatus.COMPLETED,
        fingerprint=FINGERPRINT,
        request=BacktestRequest(
            strategies=["trend-acme@3"], start_ns=T0, end_ns=T0 + 9 * MINUTE, label=label
        ),
        strategies=[
            StrategyRun(
                ref="trend-acme@3",
                content_hash="c0ffee" * 10 + "abcd",
                nautilus_id=strategy_id,
                family="trend_following",
                instruments=["ACME.XNAS"],
                bar_types=["ACME.XNAS-1-MINUTE-LAST-EXTERNAL"],
            )
        ],
        instruments=["ACME.XNAS"],
        started_at_ns=T0,
        finished_at_ns=T0 + 2 * 10**9,
        data=[
            DataUsed(
                bar_type="ACME.XNAS-1-MINUTE-LAST-EXTERNAL",
                first_ts=T0,
                last_ts=T0 + 9 * MINUTE,
                bars=10,
                file_sha256=["fe" * 32],
                source_sha256=["dc" * 32],
            )
        ],
        metrics=METRICS,
        attribution=[
            StrategyAttribution(strategy_id=strategy_id, instruments=["ACME.XNAS"], metrics=METRICS)
        ],
        facts=EngineFacts(
            nautilus_trader_version="1.221.0",
            quantdesk_version="0.1.0",
            bars=10,
            events_processed=40,
            orders=2,
            fills=2,
            positions_closed=1,
            wall_seconds=0.25,
            bars_per_second=40.0,
        ),
    )


def make_artifacts(
    points: int = 10,
    fills: int = 2,
    instruments: tuple[str, ...] = ("ACME.XNAS",),
    strategy_id: str = "EmaCross-ACME",
) -> RunArtifacts:
    rng = np.random.default_rng(1)
    ts = T0 + np.arange(points, dtype=np.int64) * MINUTE
    equity = 1_000_000.0 + rng.normal(0, 50, points).cumsum()
    close = 100.0 + rng.normal(0, 0.1, points).cumsum()
    fill_at = np.linspace(0, points - 1, fills).astype(np.int64) if fills else []
    return RunArtifacts(
        fills=[
            FillRecord(
                ts_ns=int(ts[i]),
                strategy_id=strategy_id,
                instrument_id=instruments[0],
                order_id=f"O-{n}",
                trade_id=f"T-{n}",
                position_id="P-1",
                side=1 if n % 2 == 0 else -1,
                quantity=10.0,
                price=float(close[i]),
                commission=0.1,
                commission_currency="USD",
            )
            for n, i in enumerate(fill_at)
        ],
        positions=[],
        curve=EquityCurve(ts_ns=ts, equity=equity, in_market=np.ones(points, dtype=np.bool_)),
        prices={i: (ts, close) for i in instruments},
    )


@pytest.fixture(scope="module")
def page() -> str:
    return HtmlReportRenderer().render(make_result(), make_artifacts())


def test_the_page_is_one_offline_document(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<html" in page and page.rstrip().endswith("</html>")
    assert len(PLOTLY_BANNER.findall(page)) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"<link[^>]*https?:", page)


def test_plotly_js_is_embedded_whole_before_the_chart_that_uses_it(page: str) -> None:
    import plotly.offline

    script = plotly.offline.get_plotlyjs()
    start = page.index(script)  # the whole library, byte for byte, from its file
    assert page.index("window.PlotlyConfig") < start < page.index("Plotly.newPlot")


def test_writing_gives_the_page_rendering_gives() -> None:
    out = io.StringIO()
    HtmlReportRenderer().write(make_result(), make_artifacts(), out)
    assert out.getvalue() == HtmlReportRenderer().render(make_result(), make_artifacts())


def test_the_page_names_the_run(page: str) -> None:
    assert RUN_ID in page
    assert FINGERPRINT in page
    assert "trend run" in page
    assert "completed" in page
    assert "2024-01-01T00:01:00Z" in page and "2024-01-01T00:10:00Z" in page
    assert "ACME.XNAS" in page
    assert "trend-acme@3" in page and "trend_following" in page  # the version that ran
    assert "EmaCross-ACME" not in page.split("<h2>Fills")[0]  # named by version, not engine id
    assert "fefefefefefe" in page  # a checksum, truncated in the table


def test_every_metric_has_a_label_on_the_page(page: str) -> None:
    assert set(METRIC_FORMATS) == set(Metrics.model_fields)
    for label, _ in METRIC_FORMATS.values():
        assert f">{label}<" in page


def test_metrics_are_formatted_for_reading(page: str) -> None:
    assert "1.23%" in page  # total return
    assert "-5.67%" in page  # max drawdown
    assert "1,012,345.68" in page  # end equity
    assert "3d 5h" in page  # drawdown duration
    assert "n/a" in page  # sortino is None
    assert "1,234" in page  # trades


def test_text_from_the_run_is_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    page = HtmlReportRenderer().render(
        make_result(label=hostile, strategy_id=hostile), make_artifacts(strategy_id=hostile)
    )
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_more_than_four_instruments_draw_the_first_four_with_a_note() -> None:
    instruments = tuple(f"I{n}.XNAS" for n in range(6))
    page = HtmlReportRenderer().render(make_result(), make_artifacts(instruments=instruments))
    assert "first 4 of 6 instruments" in page
    assert "I4.XNAS, I5.XNAS" in page


def test_an_empty_curve_still_renders() -> None:
    empty = np.empty(0, dtype=np.int64)
    artifacts = RunArtifacts(
        fills=[],
        positions=[],
        curve=EquityCurve(empty, np.empty(0, np.float64), np.empty(0, np.bool_)),
        prices={},
    )
    page = HtmlReportRenderer().render(make_result(), artifacts)
    assert RUN_ID in page and "no equity points" in page


def test_downsampling_keeps_the_extremes_and_the_ends() -> None:
    values = np.sin(np.linspace(0, 200, 1_000_003))
    values[123_457] = -5.0
    values[987_654] = 7.0
    picked = downsample(values)
    assert len(picked) <= MAX_LINE_POINTS + 4
    assert np.all(np.diff(picked) > 0)
    assert picked[0] == 0 and picked[-1] == len(values) - 1
    assert 123_457 in picked and 987_654 in picked
    assert downsample(values[:10]).tolist() == list(range(10))


def chart_traces(page: str) -> list[dict[str, Any]]:
    """The traces of the page's figure, read back from its ``Plotly.newPlot`` call."""
    script = page.index("</script>", page.index("plotly.js v"))  # past plotly.js itself
    call = page.index("Plotly.newPlot(", script) + len("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    div, end = decoder.raw_decode(page[call:].lstrip())
    assert div == "equity-chart"
    rest = page[call:].lstrip()[end:].lstrip(", \n")
    traces, _ = decoder.raw_decode(rest)
    return cast(list[dict[str, Any]], traces)


def test_the_page_does_not_grow_with_the_run() -> None:
    # What keeps a long run's report fast to write and to open: every line is thinned to a
    # fixed number of points and the markers to the most recent fills, so ten times the bars
    # give the same page, not ten times the page. (The time it takes is a bench: bench/report.py.)
    pages = {
        points: HtmlReportRenderer().render(
            make_result(), make_artifacts(points=points, fills=20_000)
        )
        for points in (100_000, 1_000_000)
    }

    for page in pages.values():
        traces = chart_traces(page)
        lines = [t for t in traces if t["mode"] == "lines"]
        markers = [t for t in traces if t["mode"] == "markers"]
        assert len(lines) == 3  # equity, drawdown, the one instrument's closes
        assert all(len(t["x"]) == len(t["y"]) <= MAX_LINE_POINTS + 4 for t in lines)
        assert sum(len(t["x"]) for t in markers) == MAX_MARKERS
        assert f"the {MAX_MARKERS:,} most recent of 20,000 fills" in page
    small, big = (len(pages[n].encode()) for n in (100_000, 1_000_000))
    assert big < 6_000_000
    assert abs(big - small) < 0.01 * small
    assert "1,000,000 points" in pages[1_000_000] and "100,000 points" in pages[100_000]
