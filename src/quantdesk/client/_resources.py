"""The routes as methods, once for each client: every method is the route's ``Call`` (from
``_api``) run by the client's ``call``, with the route's own signature and docstring."""

import inspect
import typing
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from quantdesk.client import (
    _api_access,
    _api_desk,
    _api_migrations,
    _api_optimisation,
    _api_research,
)
from quantdesk.client._transport import Call

P = ParamSpec("P")
T = TypeVar("T")


class _SyncCaller(Protocol):
    def call(self, call: Call[T]) -> T: ...


class _AsyncCaller(Protocol):
    async def call(self, call: Call[T]) -> T: ...


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[_SyncCaller, P], T]:
    def method(self: _SyncCaller, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.call(build(*args, **kwargs))

    _describe(method, build)
    return method


def _describe(method: Callable[..., Any], build: Callable[..., Any]) -> None:
    """The route's name, docstring and signature (``help()``, IDEs) on the method."""
    method.__name__ = method.__qualname__ = build.__name__
    method.__doc__ = build.__doc__
    signature = inspect.signature(build)
    answer = typing.get_args(signature.return_annotation)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[_SELF, *signature.parameters.values()],
        return_annotation=answer[0] if answer else signature.return_annotation,
    )


_SELF = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)


def _async(
    build: Callable[P, Call[T]],
) -> Callable[Concatenate[_AsyncCaller, P], Coroutine[Any, Any, T]]:
    async def method(self: _AsyncCaller, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.call(build(*args, **kwargs))

    _describe(method, build)
    return method


class SyncResources:
    """The routes as blocking methods (see ``_api`` for each one's route)."""

    me = _sync(_api_access.me)
    users = _sync(_api_access.users)
    add_user = _sync(_api_access.add_user)
    set_user_role = _sync(_api_access.set_user_role)
    disable_user = _sync(_api_access.disable_user)
    enable_user = _sync(_api_access.enable_user)
    reset_user_password = _sync(_api_access.reset_user_password)
    api_keys = _sync(_api_access.api_keys)
    create_api_key = _sync(_api_access.create_api_key)
    revoke_api_key = _sync(_api_access.revoke_api_key)
    strategies = _sync(_api_research.strategies)
    strategy_families = _sync(_api_research.strategy_families)
    strategy = _sync(_api_research.strategy)
    register_strategy = _sync(_api_research.register_strategy)
    update_strategy = _sync(_api_research.update_strategy)
    strategy_history = _sync(_api_research.strategy_history)
    strategy_diff = _sync(_api_research.strategy_diff)
    tag_strategy = _sync(_api_research.tag_strategy)
    deprecate_strategy = _sync(_api_research.deprecate_strategy)
    validate_strategy = _sync(_api_research.validate_strategy)
    run_validation = _sync(_api_research.run_validation)
    strategy_validations = _sync(_api_research.strategy_validations)
    promotion_status = _sync(_api_research.promotion_status)
    promotion_override = _sync(_api_research.promotion_override)
    validation = _sync(_api_research.validation)
    validation_report = _sync(_api_research.validation_report)
    validation_policies = _sync(_api_research.validation_policies)
    validation_policy = _sync(_api_research.validation_policy)
    set_validation_policy = _sync(_api_research.set_validation_policy)
    optimise = _sync(_api_optimisation.optimise)
    studies = _sync(_api_optimisation.studies)
    study = _sync(_api_optimisation.study)
    study_report = _sync(_api_optimisation.study_report)
    migration_sources = _sync(_api_migrations.migration_sources)
    migrate = _sync(_api_migrations.migrate)
    verify_migration = _sync(_api_migrations.verify_migration)
    migrations = _sync(_api_migrations.migrations)
    migration = _sync(_api_migrations.migration)
    migration_rejects = _sync(_api_migrations.migration_rejects)
    export_strategy = _sync(_api_research.export_strategy)
    submit_backtest = _sync(_api_research.submit_backtest)
    runs = _sync(_api_research.runs)
    run = _sync(_api_research.run)
    cancel_run = _sync(_api_research.cancel_run)
    run_result = _sync(_api_research.run_result)
    run_fills = _sync(_api_research.run_fills)
    run_positions = _sync(_api_research.run_positions)
    run_equity = _sync(_api_research.run_equity)
    download_run = _sync(_api_research.download_run)
    run_report = _sync(_api_research.run_report)
    compare_runs = _sync(_api_research.compare_runs)
    jobs = _sync(_api_research.jobs)
    job = _sync(_api_research.job)
    cancel_job = _sync(_api_research.cancel_job)
    ingest_signal = _sync(_api_desk.ingest_signal)
    ingest_signals = _sync(_api_desk.ingest_signals)
    signals = _sync(_api_desk.signals)
    signal_stats = _sync(_api_desk.signal_stats)
    signal = _sync(_api_desk.signal)
    dead_letters = _sync(_api_desk.dead_letters)
    replay_dead_letter = _sync(_api_desk.replay_dead_letter)
    risk_limits = _sync(_api_desk.risk_limits)
    set_risk_limits = _sync(_api_desk.set_risk_limits)
    risk_limits_history = _sync(_api_desk.risk_limits_history)
    kill_switches = _sync(_api_desk.kill_switches)
    throw_kill_switch = _sync(_api_desk.throw_kill_switch)
    release_kill_switch = _sync(_api_desk.release_kill_switch)
    risk_events = _sync(_api_desk.risk_events)
    instruments = _sync(_api_desk.instruments)
    instrument = _sync(_api_desk.instrument)
    catalog = _sync(_api_desk.catalog)
    lineage = _sync(_api_desk.lineage)
    upload_bars = _sync(_api_desk.upload_bars)
    upload_signals = _sync(_api_desk.upload_signals)
    ingest_summary = _sync(_api_desk.ingest_summary)
    ingest_rejects = _sync(_api_desk.ingest_rejects)
    feature_flags = _sync(_api_desk.feature_flags)
    feature_flag = _sync(_api_desk.feature_flag)
    set_feature_flag = _sync(_api_desk.set_feature_flag)
    feature_flag_history = _sync(_api_desk.feature_flag_history)
    revert_feature_flag = _sync(_api_desk.revert_feature_flag)
    evaluate_feature_flag = _sync(_api_desk.evaluate_feature_flag)
    audit_events = _sync(_api_desk.audit_events)
    verify_audit = _sync(_api_desk.verify_audit)
    health = _sync(_api_access.health)
    ready = _sync(_api_access.ready)
    metrics = _sync(_api_access.metrics)


class AsyncResources:
    """The routes as coroutine methods (see ``_api`` for each one's route)."""

    me = _async(_api_access.me)
    users = _async(_api_access.users)
    add_user = _async(_api_access.add_user)
    set_user_role = _async(_api_access.set_user_role)
    disable_user = _async(_api_access.disable_user)
    enable_user = _async(_api_access.enable_user)
    reset_user_password = _async(_api_access.reset_user_password)
    api_keys = _async(_api_access.api_keys)
    create_api_key = _async(_api_access.create_api_key)
    revoke_api_key = _async(_api_access.revoke_api_key)
    strategies = _async(_api_research.strategies)
    strategy_families = _async(_api_research.strategy_families)
    strategy = _async(_api_research.strategy)
    register_strategy = _async(_api_research.register_strategy)
    update_strategy = _async(_api_research.update_strategy)
    strategy_history = _async(_api_research.strategy_history)
    strategy_diff = _async(_api_research.strategy_diff)
    tag_strategy = _async(_api_research.tag_strategy)
    deprecate_strategy = _async(_api_research.deprecate_strategy)
    validate_strategy = _async(_api_research.validate_strategy)
    run_validation = _async(_api_research.run_validation)
    strategy_validations = _async(_api_research.strategy_validations)
    promotion_status = _async(_api_research.promotion_status)
    promotion_override = _async(_api_research.promotion_override)
    validation = _async(_api_research.validation)
    validation_report = _async(_api_research.validation_report)
    validation_policies = _async(_api_research.validation_policies)
    validation_policy = _async(_api_research.validation_policy)
    set_validation_policy = _async(_api_research.set_validation_policy)
    optimise = _async(_api_optimisation.optimise)
    studies = _async(_api_optimisation.studies)
    study = _async(_api_optimisation.study)
    study_report = _async(_api_optimisation.study_report)
    migration_sources = _async(_api_migrations.migration_sources)
    migrate = _async(_api_migrations.migrate)
    verify_migration = _async(_api_migrations.verify_migration)
    migrations = _async(_api_migrations.migrations)
    migration = _async(_api_migrations.migration)
    migration_rejects = _async(_api_migrations.migration_rejects)
    export_strategy = _async(_api_research.export_strategy)
    submit_backtest = _async(_api_research.submit_backtest)
    runs = _async(_api_research.runs)
    run = _async(_api_research.run)
    cancel_run = _async(_api_research.cancel_run)
    run_result = _async(_api_research.run_result)
    run_fills = _async(_api_research.run_fills)
    run_positions = _async(_api_research.run_positions)
    run_equity = _async(_api_research.run_equity)
    download_run = _async(_api_research.download_run)
    run_report = _async(_api_research.run_report)
    compare_runs = _async(_api_research.compare_runs)
    jobs = _async(_api_research.jobs)
    job = _async(_api_research.job)
    cancel_job = _async(_api_research.cancel_job)
    ingest_signal = _async(_api_desk.ingest_signal)
    ingest_signals = _async(_api_desk.ingest_signals)
    signals = _async(_api_desk.signals)
    signal_stats = _async(_api_desk.signal_stats)
    signal = _async(_api_desk.signal)
    dead_letters = _async(_api_desk.dead_letters)
    replay_dead_letter = _async(_api_desk.replay_dead_letter)
    risk_limits = _async(_api_desk.risk_limits)
    set_risk_limits = _async(_api_desk.set_risk_limits)
    risk_limits_history = _async(_api_desk.risk_limits_history)
    kill_switches = _async(_api_desk.kill_switches)
    throw_kill_switch = _async(_api_desk.throw_kill_switch)
    release_kill_switch = _async(_api_desk.release_kill_switch)
    risk_events = _async(_api_desk.risk_events)
    instruments = _async(_api_desk.instruments)
    instrument = _async(_api_desk.instrument)
    catalog = _async(_api_desk.catalog)
    lineage = _async(_api_desk.lineage)
    upload_bars = _async(_api_desk.upload_bars)
    upload_signals = _async(_api_desk.upload_signals)
    ingest_summary = _async(_api_desk.ingest_summary)
    ingest_rejects = _async(_api_desk.ingest_rejects)
    feature_flags = _async(_api_desk.feature_flags)
    feature_flag = _async(_api_desk.feature_flag)
    set_feature_flag = _async(_api_desk.set_feature_flag)
    feature_flag_history = _async(_api_desk.feature_flag_history)
    revert_feature_flag = _async(_api_desk.revert_feature_flag)
    evaluate_feature_flag = _async(_api_desk.evaluate_feature_flag)
    audit_events = _async(_api_desk.audit_events)
    verify_audit = _async(_api_desk.verify_audit)
    health = _async(_api_access.health)
    ready = _async(_api_access.ready)
    metrics = _async(_api_access.metrics)
