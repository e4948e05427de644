"""The child process that imports plug-ins for ``SubprocessPluginInspector`` (``python -I -m``).

Its one argument is JSON: ``{"paths": [dir, ...], "plugins": [[strategy_path, config_path],
...]}``. The directories go after the installed packages on ``sys.path`` (they add plug-in
packages, they cannot shadow installed ones). What the plug-ins print goes to /dev/null; the
one line on stdout is ``{"findings": [problem or null, ...]}``. With ``"audit": true`` a
strategy must also be a ``QuantdeskStrategy`` whose code places no order past the risk gate
(:mod:`gate_bypass`, every offending call named by file and line). The process ends with
``os._exit`` so a plug-in's threads or exit handlers cannot hold it.
"""

import importlib
import json
import os
import sys
from typing import Any

_MAX_PROBLEM_CHARS = 500


def _problem(path: str, base: type, base_name: str) -> str | None:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:  # a plug-in may raise anything, even SystemExit
        return f"cannot import {module_name}: {type(error).__name__}: {error}"
    try:
        found: Any = getattr(module, attribute)
    except BaseException:  # a module __getattr__ may raise anything
        return f"module {module_name} has no attribute {attribute}"
    try:
        is_subclass = isinstance(found, type) and issubclass(found, base)
    except BaseException:  # a metaclass may break issubclass
        is_subclass = False
    if not is_subclass:
        return f"{path} is not a subclass of {base_name}"
    return None


def _findings(plugins: list[list[str]], strategy: type, config: type) -> list[str | None]:
    findings: list[str | None] = []
    for strategy_path, config_path in plugins:
        problem = _problem(
            strategy_path, strategy, "nautilus_trader.trading.strategy.Strategy"
        ) or _problem(config_path, config, "nautilus_trader.config.StrategyConfig")
        findings.append(None if problem is None else problem[:_MAX_PROBLEM_CHARS])
    return findings


def _audit(plugins: list[list[str]], findings: list[str | None]) -> list[str | None]:
    """The desk's own requirements, for the plug-ins that import as Strategy classes."""
    from quantdesk.adapters.nautilus.gate_bypass import bypasses
    from quantdesk.strategies.base import QuantdeskStrategy

    audited: list[str | None] = []
    for (strategy_path, _), finding in zip(plugins, findings, strict=True):
        if finding is None:
            module_name, _, attribute = strategy_path.partition(":")
            found = getattr(importlib.import_module(module_name), attribute)
            if not issubclass(found, QuantdeskStrategy):
                finding = (
                    f"{strategy_path} is not a subclass of quantdesk.strategies.base."
                    "QuantdeskStrategy (its orders would not pass the risk gate)"
                )
            else:
                calls = bypasses(found, QuantdeskStrategy)
                if calls:
                    finding = "orders must go through self.submit (the risk gate); " + "; ".join(
                        calls
                    )
        audited.append(None if finding is None else finding[:_MAX_PROBLEM_CHARS])
    return audited


def main(argv: list[str]) -> None:
    """Bases first (their failure still reaches stderr), then silence, then the plug-ins."""
    from nautilus_trader.config import StrategyConfig
    from nautilus_trader.trading.strategy import Strategy

    request = json.loads(argv[0])
    sys.path.extend(str(path) for path in request["paths"])
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    findings = _findings(request["plugins"], Strategy, StrategyConfig)
    if request.get("audit"):
        try:
            findings = _audit(request["plugins"], findings)
        except BaseException as error:  # a plug-in's metaclass or source may raise anything
            findings = [f or f"the audit failed: {type(error).__name__}: {error}" for f in findings]
    answer.write(json.dumps({"findings": findings}) + "\n")
    answer.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
