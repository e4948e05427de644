"""Code export: a registered family version as a standalone module a developer takes over.

The module is the family's own logic with the version's parameters fixed as its config's
defaults; registered back as a ``custom`` definition (the ``counterpart`` below, written into
the module's header) it trades exactly as the version does.
"""

import re
from typing import Any

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_feeds import MarketData
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.ports.strategy_export import (
    ExportedModule,
    ExportRequest,
    StrategyExporter,
)
from quantdesk.services.translation import RESERVED_KEYS, to_spec

MODULE_PLACEHOLDER = "your_package.your_module"
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)


def counterpart(
    definition: StrategyDefinition, module: str, names: tuple[str, str]
) -> dict[str, Any]:
    """The ``custom`` definition that runs the exported module ``module`` (its strategy and
    config classes ``names``) as ``definition`` runs: same instruments, bar spec,
    subscriptions and risk, and the config the module's defaults already hold."""
    spec = to_spec(definition)
    config = {k: v for k, v in spec.config.items() if k not in RESERVED_KEYS}
    content = definition.content()
    return {
        "strategy_id": f"{definition.strategy_id}-export"[:63],
        "family": StrategyFamily.CUSTOM.value,
        "name": f"{definition.name} (exported)"[:200],
        "description": f"Exported from {definition.ref} ({definition.content_hash[:12]}).",
        "instruments": list(definition.instruments),
        "bar_spec": definition.bar_spec,
        "signal_subscriptions": [t.value for t in definition.signal_subscriptions],
        "risk": content["risk"],
        "parameters": {
            "strategy_path": f"{module}:{names[0]}",
            "config_path": f"{module}:{names[1]}",
            "config": config,
        },
    }


def export_definition(
    definition: StrategyDefinition, exporter: StrategyExporter, module: str | None = None
) -> ExportedModule:
    """``definition`` (a registered family version) as a module importable as ``module``
    (a placeholder when None: the developer picks the package it goes in)."""
    if definition.family is StrategyFamily.CUSTOM:
        raise InvalidInputError(
            f"{definition.ref} is a custom strategy: its code is already the user's "
            f"({definition.parameters.model_dump()['strategy_path']})",
            hint="export a family version (trend_following, mean_reversion, ...)",
        )
    if definition.market_data is not MarketData.BARS:
        raise InvalidInputError(
            f"{definition.ref} runs on {definition.market_data.value}: its exported module "
            "would build its bars from ticks while a custom definition streams bars",
            hint="export a version on bars (market_data: bars)",
        )
    name = MODULE_PLACEHOLDER if module is None else module
    if _MODULE.fullmatch(name) is None:
        raise InvalidInputError(f"module name {name!r} is not a dotted Python module name")
    spec = to_spec(definition)
    names = (
        spec.strategy_path.rsplit(":", 1)[1],
        spec.config_path.rsplit(":", 1)[1],
    )
    request = ExportRequest(
        definition=definition,
        spec=spec,
        module=name,
        counterpart=counterpart(definition, name, names),
    )
    return exporter.export(request)
