"""Execution quality as the report and ``runs show`` show it: every number, None as '-'."""

from rich.console import Console

from quantdesk.adapters.reporting.execution_quality_html import execution_quality_section
from quantdesk.cli.execution_quality_render import execution_quality_table
from quantdesk.domain.execution_quality import ExecutionQuality

QUALITY = ExecutionQuality(
    strategy_id="twap-syn02@1-abcd1234",
    instrument_id="SYN02.SIM",
    algorithm="twap",
    side="buy",
    total_quantity=1200.0,
    start_ns=1,
    end_ns=2,
    filled_quantity=900.0,
    filled_share=0.75,
    fills=10,
    orders=8,
    average_price=101.25,
    arrival_price=101.5,
    interval_vwap=None,
    vs_arrival_bps=-24.63,
    vs_vwap_bps=None,
    market_volume=50_000.0,
    participation=0.018,
)


def test_the_report_section_shows_the_parent_and_dashes_what_is_unknown() -> None:
    html = execution_quality_section([QUALITY])
    for text in ("twap-syn02@1-abcd1234", "900 / 1,200", "75.0%", "-24.63", "1.80%", "50,000"):
        assert text in html
    assert html.count(">-</td>") == 2  # no VWAP, so no cost against it
    assert execution_quality_section([]) == ""


def test_runs_show_table_has_one_row_per_parent() -> None:
    console = Console(width=250, record=True)
    console.print(execution_quality_table([QUALITY, QUALITY]))
    text = console.export_text()
    assert text.count("twap-syn02@1-abcd1234") == 2
    assert "900/1,200 (75.0%)" in text and "-24.63" in text
