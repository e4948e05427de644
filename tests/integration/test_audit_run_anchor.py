"""Run results anchor the registry's audit chain: a backtest records the head it ran under,
and ``verify_audit`` holds the log to it (found outside the database, in the run's result)."""

from pathlib import Path

from sqlalchemy import text

from quantdesk.adapters.storage.database import Database
from quantdesk.bootstrap import bootstrap
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.registry import trend
from support.strategy_runs import ema_specs, raw_plan


def test_a_run_records_the_head_and_truncation_below_it_is_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    request = raw_plan(
        ema_specs(["SYN01.SIM"], "1-MINUTE-LAST", {}),
        instruments=["SYN01.SIM"],
        engine={"log_level": "OFF"},
    )
    before = desk.backtests.run_plan(request)
    assert before.audit_head is None and not (home / "quantdesk.db").exists()

    desk.registry.register(trend(), "alice")
    desk.registry.register(trend(fast_period=3), "alice")
    run = desk.backtests.run_plan(request)
    assert run.audit_head == desk.registry.audit_head()
    assert run.audit_head is not None and run.audit_head.seq == 2
    desk.registry.tag("trend-a", 2, "paper", "bob")  # the log goes on past the anchor
    report = desk.registry.verify_audit()
    assert (report.breaks, report.anchors) == ([], 1)

    database = Database(f"sqlite:///{home / 'quantdesk.db'}")
    with database.engine.begin() as sql:  # drop everything after event 1, head rewritten
        sql.execute(text("DELETE FROM strategy_tags"))
        sql.execute(text("DELETE FROM strategy_versions WHERE version = 2"))
        sql.execute(text("DELETE FROM audit_events WHERE seq > 1"))
        sql.execute(
            text("UPDATE audit_head SET (seq, hash) = (SELECT seq, hash FROM audit_events)")
        )
    database.dispose()
    fresh = bootstrap(home=home)  # another process: anchors come from the stored results
    assert [str(b) for b in fresh.registry.verify_audit().breaks] == [
        f"run {run.run_id}: recorded the log at event 2; it now ends at event 1 "
        "(newest events removed)"
    ]
