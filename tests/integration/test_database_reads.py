"""Reads on SQLite take no write lock: a status poll never waits behind a writer."""

import threading
from pathlib import Path

from sqlalchemy import text

from quantdesk.adapters.storage.database import Database


def test_a_read_does_not_wait_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'desk.db'}", busy_timeout_s=0.05)
    database.ensure_schema()
    database.write(lambda session: session.execute(text("CREATE TABLE t (x INTEGER)")))
    database.write(lambda session: session.execute(text("INSERT INTO t VALUES (1)")))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        def work(session: object) -> None:
            session.execute(text("INSERT INTO t VALUES (2)"))  # type: ignore[attr-defined]
            holding.set()
            release.wait(30)

        database.write(work)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        with database.reading() as session:  # before: "database is locked" after 50 ms
            seen = session.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
        assert seen == [1]  # the last commit: the writer's row is not visible yet
    finally:
        release.set()
        thread.join()
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 2
    database.dispose()
