from decimal import Decimal

import pytest
from pydantic import ValidationError

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import BarIngestOptions, BarSpec, IngestSummary, bar_type_id
from quantdesk.domain.time import ns_to_iso


def test_bar_spec_parses_the_engine_notation() -> None:
    spec = BarSpec.parse("5-minute-last")
    assert (spec.step, spec.aggregation, spec.price_type) == (5, "MINUTE", "LAST")
    assert spec.interval_ns == 5 * 60 * 10**9
    assert str(spec) == "5-MINUTE-LAST"
    assert BarSpec.parse("100-TICK-LAST").interval_ns is None


@pytest.mark.parametrize(
    "text", ["1-MINUTES-LAST", "MINUTE-LAST", "0-MINUTE-LAST", "1-MINUTE-OPEN"]
)
def test_bar_spec_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        BarSpec.parse(text)


def test_bar_type_id_is_external() -> None:
    assert bar_type_id("EUR/USD.SIM", BarSpec.parse("1-MINUTE-LAST")) == (
        "EUR/USD.SIM-1-MINUTE-LAST-EXTERNAL"
    )
    with pytest.raises(ValueError, match=r"SYMBOL\.VENUE"):
        bar_type_id("EURUSD", BarSpec.parse("1-MINUTE-LAST"))


def test_instrument_precisions_follow_increments() -> None:
    spec = InstrumentSpec(
        instrument_id="BTCUSDT-PERP.BINANCE",
        asset_class=AssetClass.CRYPTO_PERPETUAL,
        currency="USDT",
        base_currency="BTC",
        tick_size=Decimal("0.10"),
        size_increment=Decimal("0.001"),
    )
    assert (spec.price_precision, spec.size_precision) == (1, 3)
    assert (spec.symbol, spec.venue) == ("BTCUSDT-PERP", "BINANCE")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"base_currency": "EUR"}, "no base_currency"),
        ({"size_increment": Decimal("0.5")}, "whole shares"),
        ({"tick_size": Decimal(0)}, "greater than 0"),
        ({"instrument_id": "ACME"}, "SYMBOL.VENUE"),
        ({"is_inverse": True}, "crypto perpetuals and futures only"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_instrument_rules_name_the_problem(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "instrument_id": "ACME.XNAS",
        "asset_class": "equity",
        "currency": "USD",
        "tick_size": Decimal("0.01"),
    }
    with pytest.raises(ValidationError, match=message):
        InstrumentSpec.model_validate(fields | changes)


def test_fx_needs_a_base_currency() -> None:
    with pytest.raises(ValidationError, match="needs base_currency"):
        InstrumentSpec(
            instrument_id="EUR/USD.SIM", asset_class="fx", currency="USD", tick_size=Decimal("1e-5")
        )


def test_column_mapping_knows_its_fields() -> None:
    options = BarIngestOptions(columns={"timestamp": "time"})
    assert options.column_for("timestamp") == "time"
    assert options.column_for("open") == "open"
    with pytest.raises(ValidationError, match="unknown field"):
        BarIngestOptions(columns={"price": "p"})


def test_ingest_summary_counts_must_add_up() -> None:
    base = dict(
        ingest_id="x",
        source="s",
        instrument_id="A.B",
        bar_type="A.B-1-MINUTE-LAST-EXTERNAL",
        rows_read=10,
        rows_written=6,
        rows_already_present=2,
        rows_rejected=2,
        rejected_by_reason={"out_of_order": 2},
        rows_rounded=0,
        first_ts=None,
        last_ts=None,
        files_added=[],
        files_replaced=[],
        rejects_path=None,
        lineage_recorded=True,
    )
    IngestSummary.model_validate(base)
    with pytest.raises(ValidationError, match="do not add up"):
        IngestSummary.model_validate(base | {"rows_written": 7})


def test_ns_to_iso_keeps_nanoseconds() -> None:
    assert ns_to_iso(1_704_067_200_000_000_001) == "2024-01-01T00:00:00.000000001Z"
