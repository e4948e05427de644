"""The child process of a smoke backtest (``python -I -m ...smoke_child ARG``).

One definition, a short window, the real ``BacktestService.run`` by registry reference (the
version pending, so nothing is resolved from the database), the result kept nowhere. The
plug-in was audited by the parent in a child of its own before this process was started;
this process imports it, which is why it is a process of its own and killed at the limit.
The one line on stdout is ``{"problem": text or null, "fills": n}``.
"""

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_MAX_PROBLEM_CHARS = 800


class _Discarded:
    """A run store that keeps nothing: a smoke run answers a question, it is not a result."""

    def save(self, result: Any, artifacts: Any, write_report: Any) -> Path:
        return Path(os.devnull)

    def results(self) -> list[Any]:
        return []

    def result(self, run_id: str) -> Any:
        raise LookupError(run_id)

    def artifacts(self, run_id: str) -> Any:
        raise LookupError(run_id)

    def directory(self, run_id: str) -> Path:
        return Path(os.devnull)

    def rows(self, run_id: str, kind: Any, *, offset: int, limit: int) -> Any:
        raise LookupError(run_id)

    def download(self, run_id: str, kind: Any, format: Any) -> Any:
        raise LookupError(run_id)


class _NoReport:
    def write(self, result: Any, artifacts: Any, out: Any) -> None:
        return None


class _AuditedByParent:
    """The parent audited the plug-in (import, base class, gate) before starting this run."""

    def inspect(self, plugins: Sequence[Any]) -> list[Any]:
        from quantdesk.services.ports.plugins import PluginFinding

        return [PluginFinding(plugin, None) for plugin in plugins]


def _run(request: dict[str, Any]) -> dict[str, Any]:
    from quantdesk.adapters.nautilus.backtest import NautilusBacktestRunner
    from quantdesk.adapters.nautilus.catalog import ParquetCatalog
    from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
    from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
    from quantdesk.domain.backtest import BacktestRequest
    from quantdesk.domain.errors import NotFoundError
    from quantdesk.domain.strategies.definition import StrategyDefinition
    from quantdesk.services.backtests import BacktestService
    from quantdesk.services.plugins import PluginGate, PluginPolicy
    from quantdesk.services.ports.plugins import PluginInspector

    def unknown(ref: str) -> Any:
        raise NotFoundError(f"{ref} is not the version being checked")

    catalog = ParquetCatalog(Path(request["catalog"]))
    inspector: PluginInspector = _AuditedByParent()
    service = BacktestService(
        catalog,
        NautilusBacktestRunner(catalog),
        _Discarded(),
        _NoReport(),
        signals=ParquetSignalStore(Path(request["catalog"])),
        plugins=PluginGate(
            PluginPolicy(tuple(request["packages"]), tuple(request["entry_points"])), inspector
        ),
        resolve=unknown,
        ticks=ParquetTickCatalog(Path(request["catalog"])),
    )
    definition = StrategyDefinition.model_validate(request["definition"])
    backtest = BacktestRequest(
        strategies=[definition.ref],
        flat_at_end=True,
        signals="all" if request["signals"] else "none",
        label="smoke",
    )
    plan = service.plan(backtest, pending=[definition])
    start_ns, end_ns = _window(catalog, plan, int(request["bars"]))
    backtest = backtest.model_copy(update={"start_ns": start_ns, "end_ns": end_ns})
    result = service.run_plan(service.plan(backtest, pending=[definition]))  # not indexed
    return {"problem": None, "fills": result.facts.fills}


_ALL = (0, 2**63 - 1)


def _window(catalog: Any, plan: Any, bars: int) -> tuple[int, int]:
    """The last ``bars`` bars after the strategy's warm-up, ending at the data's common end
    (twice that span of time: a gap in the data must not starve the warm-up check)."""
    from quantdesk.adapters.nautilus.strategy_checks import check_strategy
    from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
    from quantdesk.domain.backtest_plan import bar_step_ns
    from quantdesk.domain.market_feeds import TICK_KINDS, is_internal

    strategy = plan.strategies[0]
    found = {i: spec for i in plan.instruments if (spec := catalog.instrument(i)) is not None}
    needs = check_strategy(0, strategy.spec, set(plan.bar_types), found, strategy.ref)
    need = max((n for _, n in needs), default=0)
    spans = [catalog.bar_span(b, *_ALL) for b in plan.bar_types if not is_internal(b)]
    if plan.tick_feeds:  # bars built from ticks: the ticks' span
        ticks = ParquetTickCatalog(catalog.root)
        spans += [ticks.tick_span(TICK_KINDS[m], i, *_ALL) for i, m in plan.tick_feeds.items()]
    first = max(span[1] for span in spans)
    end = min(span[2] for span in spans)
    step = max(bar_step_ns(b) for b in plan.bar_types)
    start = first if step == 0 else max(first, end - 2 * (need + bars) * step)
    return start, end


def main(argv: list[str]) -> None:
    request = json.loads(argv[0])
    sys.path.extend(str(path) for path in request["paths"])
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    started = time.monotonic()
    try:
        outcome = _run(request)
    except BaseException as error:  # a plug-in may raise anything, even SystemExit
        from quantdesk.domain.errors import QuantdeskError

        said = (
            str(error) if isinstance(error, QuantdeskError) else f"{type(error).__name__}: {error}"
        )
        outcome = {"problem": said[:_MAX_PROBLEM_CHARS]}
    outcome["seconds"] = time.monotonic() - started
    answer.write(json.dumps(outcome) + "\n")
    answer.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
