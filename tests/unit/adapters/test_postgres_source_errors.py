"""A source URL's password never reaches an error, even where the driver quotes it back.

libpq names the part of a URL it cannot parse (``invalid percent-encoded token:
"s3cr%zzet"``); when that part is the password, quoting it would show the secret. No
server is needed: the URL is refused before any connection is tried.
"""

import pytest

from quantdesk.adapters.sources.postgres_tables import PostgresTableSource
from quantdesk.domain.errors import SourceReadError
from support.table_sources import bars_mapping

SECRET = "s3cr%zzet"


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://reader:{SECRET}@127.0.0.1:1/workspace",  # unparseable because of it
        "postgresql://reader:s3cr%20et@127.0.0.1:1/workspace?sslmode=bogus",  # parseable
    ],
)
def test_a_refused_url_names_no_password(dsn: str) -> None:
    source = PostgresTableSource(dsn)
    with pytest.raises(SourceReadError) as caught:
        source.problems(bars_mapping())
    message = f"{caught.value} {caught.value.hint or ''}"
    assert "s3cr" not in message
    assert "cannot connect" in message
