"""From a request of registry references to a :class:`RunPlan`: resolve, pin, translate.

References resolve through the registry once, when the run is prepared: the request then
holds the exact ``id@version`` of each strategy and its definition (``pinned``), so the run is
reproducible whatever the registry holds later. Each definition says what its strategy
reads (instruments, bar spec, signal types); the plan is their union.

Risk constraints: a definition's own ``risk`` binds its strategy in every run. A request may
add constraints for a strategy whose definition sets none (keyed by its reference or id);
for one whose definition already sets some, the request is refused rather than one of the
two silently winning: register a new version with the constraints wanted.
"""

from collections.abc import Callable, Sequence

from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.backtest_checks import refusal, strategy_identity
from quantdesk.domain.backtest_plan import PlannedStrategy, RunPlan
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import feed_bar_type
from quantdesk.domain.risk import RiskConstraints
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.versions import StrategyVersion, parse_ref
from quantdesk.services.translation import nautilus_strategy_id, to_spec

Resolver = Callable[[str], StrategyVersion]
"""``ID``, ``ID@VERSION`` or ``ID@TAG`` to the stored version (the registry's ``resolve``)."""


def pin(request: BacktestRequest, resolve: Resolver) -> BacktestRequest:
    """The request with exact references, their definitions and constraints keyed by them."""
    versions = [resolve(ref) for ref in request.strategies]
    exact = [v.ref for v in versions]
    for index, ref in enumerate(exact):
        if ref in exact[:index]:
            first = exact.index(ref)
            raise InvalidInputError(
                f"strategies {first + 1} ({request.strategies[first]}) and {index + 1} "
                f"({request.strategies[index]}) are both {ref}: one run holds each version once",
                hint="name each version once; to compare settings, register them as versions",
            )
    constraints: dict[str, RiskConstraints] = {}
    for key, value in request.risk.constraints.items():
        index = _owner(key, request.strategies)
        definition = versions[index].definition
        if definition.risk != RiskConstraints():
            raise InvalidInputError(
                f"risk constraints for {key} in the request, but {exact[index]} sets its own",
                hint="a definition's risk binds its strategy in every run: register a new "
                "version with the constraints wanted, or leave them out of the request",
            )
        constraints[exact[index]] = value
    return request.model_copy(
        update={
            "strategies": exact,
            "pinned": [v.definition for v in versions],
            "risk": request.risk.model_copy(update={"constraints": constraints}),
        }
    )


def _owner(key: str, refs: Sequence[str]) -> int:
    if key in refs:
        return list(refs).index(key)
    owners = [index for index, ref in enumerate(refs) if parse_ref(ref)[0] == key]
    if len(owners) > 1:
        raise InvalidInputError(
            f"risk constraints for {key}, which runs in several versions here "
            f"({', '.join(refs[i] for i in owners)})",
            hint="key the constraints by the reference as the request names it",
        )
    if owners:
        return owners[0]
    raise refusal(  # the request's own check refuses this first; kept for a copied request
        ("risk", "constraints", key),
        "constraints_for_unknown_strategy",
        f"risk constraints for {key}, which is not a strategy of this run",
    )


def planned(definition: StrategyDefinition, request: BacktestRequest) -> PlannedStrategy:
    """One pinned definition as the engine runs it, with the request's run options."""
    bar_spec = BarSpec.parse(definition.bar_spec)
    spec = to_spec(
        definition, flat_at_stop=request.flat_at_end, trade_until_ns=request.trade_until_ns
    )
    nautilus_id = strategy_identity(spec.strategy_path, spec.config)  # as the engine names it
    if nautilus_id != nautilus_strategy_id(definition):
        raise InvalidInputError(
            f"{definition.strategy_id}@{definition.version} would run as {nautilus_id}, not "
            f"{nautilus_strategy_id(definition)}: its fills could not be attributed to it",
            hint="a translation fault: please report it with the definition",
        )
    return PlannedStrategy(
        ref=f"{definition.strategy_id}@{definition.version}",
        content_hash=definition.content_hash,
        nautilus_id=nautilus_id,
        family=definition.family.value,
        spec=spec,
        instruments=tuple(definition.instruments),
        bar_types=tuple(
            feed_bar_type(i, bar_spec, definition.market_data) for i in definition.instruments
        ),
        signal_types=tuple(t.value for t in definition.signal_subscriptions),
        market_data=definition.market_data,
    )


def plan_of(request: BacktestRequest) -> RunPlan:
    """The plan of a pinned request (``pin`` first)."""
    if len(request.pinned) != len(request.strategies):
        raise InvalidInputError(
            "the request is not prepared: its strategies are not pinned to versions",
            hint="prepare it through the backtest service",
        )
    strategies = tuple(planned(d, request) for d in request.pinned)
    constraints = {s.nautilus_id: d.risk for s, d in zip(strategies, request.pinned, strict=True)}
    for strategy in strategies:
        extra = request.risk.constraints.get(strategy.ref)
        if extra is not None:
            constraints[strategy.nautilus_id] = extra
    risk = request.risk.model_copy(
        update={"constraints": {k: v for k, v in constraints.items() if v != RiskConstraints()}}
    )
    return RunPlan(request=request, strategies=strategies, risk=risk)
