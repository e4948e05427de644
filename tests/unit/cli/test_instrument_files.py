"""Instrument YAML files: every example loads, and every mistake names the file and the line."""

from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.adapters.sources.documents import BoundedDocumentReader
from quantdesk.cli import instrument_files
from quantdesk.domain.errors import InvalidInputError, SourceReadError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "instruments"

EXPECTED_EXAMPLES = {
    "equities.yaml": ["AAPL.XNAS", "MSFT.XNAS"],
    "fx.yaml": ["EUR/USD.SIM", "GBP/USD.SIM"],
    "crypto.yaml": ["BTC/USDT.BINANCE", "BTCUSDT-PERP.BINANCE", "BTCUSDT-240329.BINANCE"],
    "futures.yaml": ["6EH4.XCME", "6EM4.XCME", "ESH4.XCME", "ESM4.XCME", "NIYH4.XCME"],
    "options.yaml": ["AAPL240419C00170000.OPRA", "AAPL240419P00170000.OPRA", "ESH4C5000.XCME"],
    "shared-data.yaml": ["BTCUSDT-PERP.BINANCE", "GBP/USD.SIM"],
}


def load_instrument_specs(path: Path) -> list[InstrumentSpec]:
    return instrument_files.load_instrument_specs(path, BoundedDocumentReader())


def write(tmp_path: Path, text: str, name: str = "instruments.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_example_file_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED_EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
def test_example_file_loads(name: str) -> None:
    specs = load_instrument_specs(EXAMPLES / name)
    assert [s.instrument_id for s in specs] == EXPECTED_EXAMPLES[name]


def test_example_contracts() -> None:
    futures = {s.instrument_id: s for s in load_instrument_specs(EXAMPLES / "futures.yaml")}
    assert futures["ESH4.XCME"].multiplier == 50
    assert futures["ESH4.XCME"].expiration_ns == 1_710_509_400_000_000_000  # 13:30Z
    assert futures["NIYH4.XCME"].currency == "JPY"
    assert {s.asset_class for s in futures.values()} == {AssetClass.FUTURE}
    options = load_instrument_specs(EXAMPLES / "options.yaml")
    assert {s.asset_class for s in options} == {AssetClass.OPTION}
    assert [s.underlying for s in options] == ["AAPL.XNAS", "AAPL.XNAS", "ESH4.XCME"]


def test_a_contract_term_error_names_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "instruments:\n"
        "  - instrument_id: ESH4.XCME\n"
        "    asset_class: future\n"
        "    underlying: ES\n"
        "    underlying_class: index\n"
        "    currency: USD\n"
        "    tick_size: 0.25\n"
        "    multiplier: 50\n"
        "    expiration_ns: 2024-03-15\n",
    )
    with pytest.raises(InvalidInputError, match=r"line 9: expiration_ns: .*not a date"):
        load_instrument_specs(path)


def test_example_increments() -> None:
    equities = load_instrument_specs(EXAMPLES / "equities.yaml")
    assert {(s.asset_class, s.currency, s.tick_size, s.size_increment) for s in equities} == {
        (AssetClass.EQUITY, "USD", Decimal("0.01"), Decimal(1))
    }
    fx = {s.instrument_id: s for s in load_instrument_specs(EXAMPLES / "fx.yaml")}
    assert fx["EUR/USD.SIM"].base_currency == "EUR"
    assert fx["GBP/USD.SIM"].base_currency == "GBP"
    assert {s.tick_size for s in fx.values()} == {Decimal("0.00001")}
    assert {s.price_precision for s in fx.values()} == {5}
    crypto = {s.instrument_id: s for s in load_instrument_specs(EXAMPLES / "crypto.yaml")}
    perp = crypto["BTCUSDT-PERP.BINANCE"]
    assert perp.asset_class is AssetClass.CRYPTO_PERPETUAL
    assert (perp.base_currency, perp.currency) == ("BTC", "USDT")
    assert (perp.tick_size, perp.size_increment) == (Decimal("0.1"), Decimal("0.001"))
    assert crypto["BTC/USDT.BINANCE"].asset_class is AssetClass.CRYPTO_SPOT


def test_shared_data_increments_fit_the_files() -> None:
    """Prices to 3 decimals (43613.875) and volumes to 7 (289169.9847625) in the BTC file."""
    specs = {s.instrument_id: s for s in load_instrument_specs(EXAMPLES / "shared-data.yaml")}
    perp = specs["BTCUSDT-PERP.BINANCE"]
    assert (perp.price_precision, perp.size_precision) == (3, 7)
    assert specs["GBP/USD.SIM"].price_precision == 5


def test_single_mapping_is_one_instrument(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "instrument_id: ACME.XNAS\nasset_class: equity\ncurrency: USD\ntick_size: 0.01\n",
    )
    [spec] = load_instrument_specs(path)
    assert spec.instrument_id == "ACME.XNAS"
    assert spec.tick_size == Decimal("0.01")


def test_out_of_bounds_value_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# two instruments, the second one broken\n"  # line 1
        "instruments:\n"  # 2
        "  - instrument_id: AAPL.XNAS\n"  # 3
        "    asset_class: equity\n"  # 4
        "    currency: USD\n"  # 5
        "    tick_size: 0.01\n"  # 6
        "  - instrument_id: MSFT.XNAS\n"  # 7
        "    asset_class: equity\n"  # 8
        "    currency: USD\n"  # 9
        "    tick_size: 0\n",  # 10
    )
    with pytest.raises(InvalidInputError) as caught:
        load_instrument_specs(path)
    message = caught.value.message
    assert str(path) in message
    assert "line 10:" in message
    assert "tick_size" in message
    assert "greater than 0" in message
    assert caught.value.hint is not None
    assert "examples/instruments" in caught.value.hint


def test_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "- instrument_id: ACME.XNAS\n"
        "  asset_class: equity\n"
        "  currency: USD\n"
        "  tick_sise: 0.01\n"
        "  tick_size: 0.01\n",
    )
    with pytest.raises(InvalidInputError) as caught:
        load_instrument_specs(path)
    message = caught.value.message
    assert "line 4:" in message
    assert "tick_sise" in message
    assert "not permitted" in message


def test_rule_spanning_fields_points_at_the_instrument(tmp_path: Path) -> None:
    """An FX pair without base currency breaks no single field: the instrument's line."""
    path = write(
        tmp_path,
        "instruments:\n"
        "  - instrument_id: EUR/USD.SIM\n"
        "    asset_class: fx\n"
        "    currency: USD\n"
        "    tick_size: 0.00001\n",
    )
    with pytest.raises(InvalidInputError, match=r"line 2: .*needs base_currency"):
        load_instrument_specs(path)


def test_missing_field_points_at_the_instrument(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\ninstrument_id: ACME.XNAS\nasset_class: equity\ncurrency: USD\n")
    with pytest.raises(InvalidInputError, match=r"line 3: tick_size: Field required"):
        load_instrument_specs(path)


def test_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "instrument_id: [ACME.XNAS\nasset_class: equity\n")
    with pytest.raises(InvalidInputError) as caught:
        load_instrument_specs(path)
    assert caught.value.message.startswith(f"{path} line 2: not valid YAML")


def test_scalar_document_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "just some words\n")
    with pytest.raises(InvalidInputError, match=r"line 1: expected a mapping or a list"):
        load_instrument_specs(path)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n"])
def test_empty_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInputError) as caught:
        load_instrument_specs(path)
    assert caught.value.message == f"{path}: empty file"
    assert caught.value.hint == "see examples/instruments/"


def test_missing_file_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(SourceReadError, match=r"nowhere\.yaml: cannot be read"):
        load_instrument_specs(path)


def test_unsafe_yaml_tags_are_refused_with_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "instrument_id: ACME.XNAS\n"
        'asset_class: !!python/object/apply:os.system ["echo hi"]\n'
        "currency: USD\n",
    )
    with pytest.raises(InvalidInputError, match=r"line 2: .*python/object"):
        load_instrument_specs(path)


def test_non_utf8_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"instrument_id: \xff\n")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        load_instrument_specs(path)


def test_an_empty_instrument_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="defines no instruments"):
        load_instrument_specs(write(tmp_path, "instruments: []\n"))
