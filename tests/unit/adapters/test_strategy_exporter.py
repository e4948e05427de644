"""adapters/nautilus/strategy_export: what the exporter keeps, fixes, copies and refuses.

Fake family modules (written to a temporary package) stand for the real ones, so each rule
is seen on its own: parameter defaults fixed, the model check dropped, only used helpers
copied, base names taken from the base, anything else refused by name.
"""

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.nautilus.strategy_export import NautilusStrategyExporter
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.ports.strategy_export import ExportRequest

DEFINITION = StrategyDefinition.model_validate(
    {
        "strategy_id": "fake-a",
        "version": 3,
        "family": "execution",
        "name": "fake",
        "instruments": ["AAA.SIM", "BBB.SIM"],
        "parameters": {"algorithm": "twap", "side": "buy", "total_quantity": "5"},
    }
)

FAMILY = '''\
    """A fake family: its docstring stays."""

    from decimal import Decimal

    from quantdesk.domain.backtest_checks import ParameterValueError
    from quantdesk.domain.strategies.families import ExecutionParameters
    from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters
    {extra_import}


    class FakeConfig(FamilyConfig, frozen=True, kw_only=True):
        size: Decimal
        window: int = 3  # bars
        limit: float | None = None


    class Fake(FamilyStrategy):
        def __init__(self, config: FakeConfig) -> None:
            # the check below goes; this comment stays
            family_parameters(ExecutionParameters, config, "size")
            if config.window < 1:
                raise ParameterValueError("window", "must be positive")
            super().__init__(config)
            {extra_use}
'''

HELPER = '''\
    """Helpers: one used, one not."""

    from pydantic import BaseModel


    def used(x: int) -> int:
        return inner(x) + 1


    def inner(x: int) -> int:
        return x


    LIMIT = 3
    """A documented constant."""


    def unused(model: type[BaseModel]) -> None:
        pass
'''


def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    package = tmp_path / "qd_fake_family"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(textwrap.dedent(family))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("qd_fake_family")]:
        monkeypatch.delitem(sys.modules, name)


def export(config: dict[str, Any]) -> str:
    spec = StrategySpec(
        strategy_path="qd_fake_family.mod:Fake",
        config_path="qd_fake_family.mod:FakeConfig",
        config=config,
    )
    request = ExportRequest(DEFINITION, spec, "pkg.fake_v3", {"family": "custom"})
    return NautilusStrategyExporter().export(request).source


VALUES = {
    "size": "1.25",
    "window": 7,
    "limit": None,
    "instrument_ids": ["AAA.SIM", "BBB.SIM"],
    "bar_spec": "5-MINUTE-LAST",
    "signal_types": [],
}


def test_defaults_are_fixed_and_the_model_check_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_package(tmp_path, monkeypatch, FAMILY.format(extra_import="", extra_use="pass"))
    source = export(VALUES)
    assert '    size: Decimal = Decimal("1.25")\n' in source
    assert "    window: int = 7\n" in source and "    limit: float | None = None\n" in source
    assert 'msgspec.field(default_factory=lambda: ["AAA.SIM", "BBB.SIM"])' in source
    assert '    bar_spec: str = "5-MINUTE-LAST"\n' in source
    assert "    signal_types: list[str] = []\n" in source
    assert '"""A fake family: its docstring stays."""' in source
    assert "# the check below goes; this comment stays" in source
    assert "ExecutionParameters" not in source and "family_parameters" not in source
    assert (
        "from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, ParameterValueError"
        in source
    )
    assert "quantdesk.domain" not in source
    assert "fake-a@3" in source and DEFINITION.content_hash in source
    namespace: dict[str, Any] = {}
    exec(compile(source, "fake", "exec"), namespace)
    config = namespace["FakeConfig"]()
    assert (config.size, config.window, config.instrument_ids) == (
        __import__("decimal").Decimal("1.25"),
        7,
        ["AAA.SIM", "BBB.SIM"],
    )


def test_only_the_helpers_used_are_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    family = FAMILY.format(
        extra_import="from quantdesk.strategies.qd_fake_helper import LIMIT, used",
        extra_use="self.x = used(LIMIT)",
    )
    fake_package(tmp_path, monkeypatch, family)
    helpers = tmp_path / "quantdesk" / "strategies"
    import quantdesk.strategies

    monkeypatch.setattr(
        quantdesk.strategies, "__path__", [*quantdesk.strategies.__path__, str(helpers)]
    )
    helpers.mkdir(parents=True)
    (helpers / "qd_fake_helper.py").write_text(textwrap.dedent(HELPER))
    source = export(VALUES)
    assert "# --- copied from quantdesk.strategies.qd_fake_helper" in source
    assert "def used(" in source and "def inner(" in source
    assert '"""A documented constant."""' in source
    assert "def unused(" not in source and "pydantic" not in source


def test_a_name_that_cannot_be_carried_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = FAMILY.format(
        extra_import="from quantdesk.domain.numbers import QUANTITY_MAX",
        extra_use="self.cap = QUANTITY_MAX",
    )
    fake_package(tmp_path, monkeypatch, family)
    with pytest.raises(
        InvalidInputError, match=r"imports QUANTITY_MAX from quantdesk\.domain\.numbers"
    ):
        export(VALUES)


def test_an_unused_import_that_cannot_be_carried_is_just_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = FAMILY.format(extra_import="import pandas", extra_use="pass")
    fake_package(tmp_path, monkeypatch, family)
    assert "pandas" not in export(VALUES)


def test_a_model_used_beyond_its_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = FAMILY.format(extra_import="", extra_use="self.p = ExecutionParameters")
    fake_package(tmp_path, monkeypatch, family)
    with pytest.raises(InvalidInputError, match="beyond a check"):
        export(VALUES)
