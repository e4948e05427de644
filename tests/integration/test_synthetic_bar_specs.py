"""``data synth`` at several bar specs: the coarser bars are the 1-minute ones aggregated."""

import hashlib
from pathlib import Path

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.market_data import BarSpec
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.console import Cli


def catalog_bytes(home: Path) -> dict[str, str]:
    root = home / "catalog" / "data"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


FIVE = BarSpec.parse("5-MINUTE-LAST")
HOUR = BarSpec.parse("1-HOUR-LAST")


def test_extra_bar_specs_are_written_deterministically_and_idempotently(tmp_path: Path) -> None:
    config = SyntheticMarketConfig(instruments=2, days=1, seed=9, bar_specs=(FIVE, HOUR, FIVE))
    first, second = bootstrap(home=tmp_path / "a"), bootstrap(home=tmp_path / "b")
    summaries = first.synthetic.synthesize(config)
    second.synthetic.synthesize(config)
    assert [(s.bar_type, s.rows_written) for s in summaries] == [
        ("SYN01.SIM-1-MINUTE-LAST-EXTERNAL", 1440),
        ("SYN01.SIM-5-MINUTE-LAST-EXTERNAL", 288),
        ("SYN01.SIM-1-HOUR-LAST-EXTERNAL", 24),
        ("SYN02.SIM-1-MINUTE-LAST-EXTERNAL", 1440),
        ("SYN02.SIM-5-MINUTE-LAST-EXTERNAL", 288),
        ("SYN02.SIM-1-HOUR-LAST-EXTERNAL", 24),
    ]
    assert catalog_bytes(first.home) == catalog_bytes(second.home)
    again = first.synthetic.synthesize(config)
    assert [s.rows_written for s in again] == [0] * 6


def test_adding_a_bar_spec_later_leaves_the_minute_bars_alone(tmp_path: Path) -> None:
    desk = bootstrap(home=tmp_path / "home")
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=2))
    minute = catalog_bytes(desk.home)
    later = desk.synthetic.synthesize(
        SyntheticMarketConfig(instruments=1, days=1, seed=2, bar_specs=(FIVE,))
    )
    assert [(s.rows_written, s.rows_already_present) for s in later] == [(0, 1440), (288, 0)]
    assert minute.items() <= catalog_bytes(desk.home).items()


def test_cli_synth_with_bar_specs(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    output = cli.ok(
        "data", "synth", "--instruments", "1", "--days", "1",
        "--bar-spec", "5-MINUTE-LAST", "--bar-spec", "15-minute-last",
    )  # fmt: skip
    assert "SYN01.SIM-15-MINUTE-LAST-EXTERNAL" in output
    assert "LAST prices only" in cli.refused("data", "synth", "--bar-spec", "5-MINUTE-MID")
    assert "--bar-spec: bar spec 'x'" in cli.refused("data", "synth", "--bar-spec", "x")
