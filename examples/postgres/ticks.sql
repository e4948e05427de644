-- Trade ticks, quote ticks and L2 book deltas as the F2 data workspace keeps them: one row per
-- event, a serial id that orders the rows of one instant (a book event's deltas, trades
-- printed together), prices as numeric. `quantdesk data migrate` reads them through
-- examples/postgres/trades.yaml, quotes.yaml and book.yaml and never writes to them.
-- The book's times are nanoseconds since the epoch (an exchange's own clock), the others
-- SQL times in UTC.
CREATE SCHEMA IF NOT EXISTS market;
CREATE TABLE IF NOT EXISTS market.trades (
    id        bigserial   PRIMARY KEY,
    ts        timestamptz NOT NULL,
    symbol    text        NOT NULL,
    price     numeric     NOT NULL,
    qty       numeric     NOT NULL,
    side      text        NOT NULL,   -- buy | sell (the aggressor)
    trade_id  text        NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_ts_id ON market.trades (ts, id);
CREATE TABLE IF NOT EXISTS market.quotes (
    id        bigserial   PRIMARY KEY,
    ts        timestamptz NOT NULL,
    symbol    text        NOT NULL,
    bid       numeric     NOT NULL,
    ask       numeric     NOT NULL,
    bid_qty   numeric     NOT NULL,
    ask_qty   numeric     NOT NULL
);
CREATE INDEX IF NOT EXISTS quotes_ts_id ON market.quotes (ts, id);
CREATE TABLE IF NOT EXISTS market.book_deltas (
    id        bigserial   PRIMARY KEY,
    ts_ns     bigint      NOT NULL,
    symbol    text        NOT NULL,
    action    text        NOT NULL,   -- add | update | delete | clear
    side      text,                   -- bid | ask (none on a clear)
    price     numeric,
    qty       numeric,
    order_id  bigint,
    seq       bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS book_deltas_ts_id ON market.book_deltas (ts_ns, id);
