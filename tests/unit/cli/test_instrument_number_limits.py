"""``instruments add`` with numbers past the engine's limits: a clear error, nothing stored.

Issue 12 item 8: ``--tick-size 1e30`` (or a YAML instrument with that tick) ended in the
engine's range error instead of a message.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import EXIT_INVALID, create_cli

FLAGS = ["--id", "EUR/USD.SIM", "--asset-class", "fx", "--currency", "USD"]


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    app = create_cli(lambda home: bootstrap(home=home))
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def listed(tmp_path: Path) -> str:
    code, output = run(tmp_path, "instruments", "list")
    assert code == 0, output
    return output


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--tick-size", "1e30", "--tick-size: 1E+30 is above the maximum 9223372036"),
        ("--tick-size", "0.0000000001", "--tick-size: 1E-10 has more than 9 decimal places"),
        ("--size-increment", "1e999999", "--size-increment: 1E+999999 is above the maximum"),
        ("--maker-fee", "1e999999", "--maker-fee: 1E+999999 is above the maximum 0.1"),
        ("--lot-size", "\u00bd", "--lot-size: Input should be a valid decimal"),
        ("--taker-fee", "{}", "--taker-fee: Input should be a valid decimal"),
    ],
)
def test_numbers_past_the_limits_are_refused(
    tmp_path: Path, flag: str, value: str, says: str
) -> None:
    args = ["--base-currency", "EUR", "--tick-size", "0.00001", flag, value]
    code, output = run(tmp_path, "instruments", "add", *FLAGS, *args)
    assert code == EXIT_INVALID, output
    assert says in " ".join(output.split())
    assert "Traceback" not in output
    assert "EUR/USD.SIM" not in listed(tmp_path)


def test_a_yaml_instrument_with_tick_1e30_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "instruments.yaml"
    path.write_text(
        "instruments:\n"
        "  - instrument_id: EUR/USD.SIM\n"
        "    asset_class: fx\n"
        "    currency: USD\n"
        "    base_currency: EUR\n"
        "    tick_size: 1e30\n"
    )
    code, output = run(tmp_path, "instruments", "add", str(path))
    assert code == EXIT_INVALID, output
    assert "above the maximum 9223372036" in " ".join(output.split())
    assert "EUR/USD.SIM" not in listed(tmp_path)


def test_an_instrument_id_no_instrument_can_have_is_refused_before_lookup(tmp_path: Path) -> None:
    # a 300-character id used to become a catalog path and fail as "name too long"
    code, output = run(tmp_path, "instruments", "show", "A" * 296 + ".SIM")
    assert code == EXIT_INVALID, output
    assert "is not of the form SYMBOL.VENUE (at most 100 characters" in " ".join(output.split())
    assert "home" not in output
