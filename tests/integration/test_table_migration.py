"""A bars table migrates into a real catalog through the migration service, on the real
PostgreSQL server: valid rows land field by field, bad ones are rejected with a reason, a
second run takes only new rows, late rows inside the migrated range are re-read, and a
changed mapping under the same name is refused."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.domain.errors import ConflictError
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.migration import MigrationState
from quantdesk.services.migrations import MigrationService
from support.postgres_bars import (
    BAR_TYPE,
    START,
    bars_table,
    good,
    insert,
    mapping,
    migration_service,
    ns,
)

pytestmark = pytest.mark.services


@pytest.fixture
def dsn() -> Iterator[str]:
    with bars_table() as url:
        yield url


@pytest.fixture
def service(tmp_path: Path) -> MigrationService:
    return migration_service(tmp_path)


def closes(service: MigrationService) -> dict[int, float]:
    bars = service.catalog.read_bars(BAR_TYPE, 0, 2**62)
    return dict(zip(bars.ts_ns.tolist(), bars.close.tolist(), strict=True))


def test_valid_rows_land_bad_ones_are_rejected_and_reruns_take_only_new_rows(
    dsn: str, service: MigrationService
) -> None:
    insert(dsn, [good(m, 10 + m / 100) for m in range(20)])
    insert(dsn, [(None, 1, 1, 1, 1, 1), good(3), (START + timedelta(minutes=30), 10, 9, 10, 10, 5)])
    first = service.migrate(mapping(), dsn)
    assert first.state is MigrationState.COMPLETED
    assert first.rows_read == 23 and first.rows_written == 20 and first.rows_rejected == 3
    assert closes(service) == {ns(m): 10 + m / 100 for m in range(20)}
    reasons = sorted(r.reason for r in service.rejections(first.migration_id))
    assert reasons == sorted(
        [
            RejectReason.TIMESTAMP_UNPARSEABLE,
            RejectReason.DUPLICATE_TIMESTAMP,
            RejectReason.OHLC_INCONSISTENT,
        ]
    )
    chunks = service.store.chunks(first.migration_id)
    assert all(c.source_sha256 == c.catalog_sha256 for c in chunks)
    lineage = [r for r in service.catalog.lineage() if r.migration is not None]
    assert lineage and all("password" not in r.source for r in lineage)

    insert(dsn, [good(40), good(41)])
    second = service.migrate(mapping(), dsn)
    assert second.rows_written == 2 and second.late_days == []
    assert set(closes(service)) == {ns(m) for m in [*range(20), 40, 41]}

    insert(dsn, [good(25)])  # late: before the watermark (minute 41)
    third = service.migrate(mapping(), dsn)
    assert third.late_days and third.rows_written == 1 and ns(25) in closes(service)
    assert service.migrate(mapping(), dsn).rows_written == 0


def test_a_changed_mapping_under_the_same_name_is_refused(
    dsn: str, service: MigrationService
) -> None:
    insert(dsn, [good(0)])
    service.migrate(mapping(), dsn)
    changed = mapping(filters=[{"column": "id", "op": ">", "value": 0}])
    with pytest.raises(ConflictError) as refused:
        service.migrate(changed, dsn)
    assert refused.value.code == "mapping_changed"
    assert service.migrate(changed, dsn, restart=True).rows_present == 1


def test_float_noise_in_the_source_migrates_as_the_decimal_and_its_digest_agrees(
    dsn: str, service: MigrationService
) -> None:
    # 10.120000000000001 is on the 0.01 grid within float noise (valid, as a file's
    # rendering of 10.12 is); the catalog stores 10.12: the chunk's digests must agree
    insert(dsn, [good(0, Decimal("10.120000000000001")), good(1)])  # type: ignore[arg-type]
    run = service.migrate(mapping(), dsn)
    assert run.state is MigrationState.COMPLETED and run.rows_written == 2
    assert closes(service) == {ns(0): 10.12, ns(1): 10.5}
    assert service.verify(mapping(), dsn).differences == []
