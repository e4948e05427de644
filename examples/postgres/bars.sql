-- A bars table as the F2 data workspace keeps it: one row per instrument and minute, the
-- timestamp the bar's close in UTC, prices as numeric. `quantdesk data migrate` reads it
-- through examples/postgres/bars.yaml and never writes to it.
CREATE SCHEMA IF NOT EXISTS market;
CREATE TABLE IF NOT EXISTS market.bars_1m (
    id      bigserial PRIMARY KEY,
    ts      timestamptz NOT NULL,
    symbol  text        NOT NULL,
    o       numeric     NOT NULL,
    h       numeric     NOT NULL,
    l       numeric     NOT NULL,
    c       numeric     NOT NULL,
    v       numeric     NOT NULL
);
CREATE INDEX IF NOT EXISTS bars_1m_ts_id ON market.bars_1m (ts, id);
