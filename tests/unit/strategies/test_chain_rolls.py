"""What a family sees of a chain (strategies/rolls.py): one instrument, one bar series spliced
from the active contract's bars, rolled at the rule's instant."""

from nautilus_trader.common.component import TestClock
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

from quantdesk.strategies.rolls import ChainBook, ChainRollConfig

HOUR = 3_600_000_000_000
FRONT, NEXT = "ESH4.XCME", "ESM4.XCME"
EXPIRY = {FRONT: 72 * HOUR, NEXT: 240 * HOUR}


def bar_type(instrument_id: str) -> BarType:
    return BarType.from_str(f"{instrument_id}-1-HOUR-LAST-EXTERNAL")


def bar(instrument_id: str, hour: int, volume: int = 1) -> Bar:
    close = Price((5000 if instrument_id == FRONT else 5020) + hour, 2)
    ts = hour * HOUR
    return Bar(bar_type(instrument_id), close, close, close, close, Quantity(volume, 0), ts, ts)


def book(method: str, offset_ns: int = 0) -> tuple[ChainBook, TestClock, list[tuple[str, str]]]:
    chains = ChainBook(
        [ChainRollConfig(contracts=[FRONT, NEXT], method=method, offset_ns=offset_ns)], bar_type
    )
    clock = TestClock()
    rolled: list[tuple[str, str]] = []
    chains.start(
        lambda i: EXPIRY[i.value], clock, lambda old, new: rolled.append((old.value, new.value))
    )
    return chains, clock, rolled


def seen(chains: ChainBook, clock: TestClock, hours: range, volume_of=lambda i, h: 1) -> list:
    """Each hour: both contracts' bars, then the alerts due by then (the engine fires an
    alert after every bar of its instant)."""
    out = []
    for hour in hours:
        for instrument_id in (FRONT, NEXT):
            shown = chains.on_bar(bar(instrument_id, hour, volume_of(instrument_id, hour)))
            if shown is not None:
                out.append((hour, str(shown.bar_type), shown.close.as_double()))
        for handler in clock.advance_time(hour * HOUR):
            handler.handle()
    return out


def test_the_family_sees_one_series_spliced_at_the_roll() -> None:
    chains, clock, rolled = book("days_before_expiry", offset_ns=24 * HOUR)
    assert chains.hidden(NEXT) and not chains.hidden(FRONT)
    logical = InstrumentId.from_str(FRONT)
    assert chains.active(logical).value == FRONT
    shown = seen(chains, clock, range(46, 51))
    logical_type = str(bar_type(FRONT))
    # one bar an hour, always as the logical bar type; the front's up to the roll instant
    # (hour 48: its bar there is still the front's), the next one's after
    assert shown == [
        (46, logical_type, 5046.0),
        (47, logical_type, 5047.0),
        (48, logical_type, 5048.0),
        (49, logical_type, 5069.0),
        (50, logical_type, 5070.0),
    ]
    assert rolled == [(FRONT, NEXT)]
    assert chains.active(logical).value == NEXT
    assert [m.value for m in chains.members(logical)] == [FRONT, NEXT]


def test_the_volume_rule_rolls_at_the_midnight_after_being_out_traded() -> None:
    chains, clock, rolled = book("volume")

    def volume(instrument_id: str, hour: int) -> int:
        return 10 if instrument_id == FRONT or hour < 24 else 20

    seen(chains, clock, range(25), volume)  # midnight after day 0 passed: not out-traded
    assert rolled == []
    seen(chains, clock, range(25, 49), volume)
    assert rolled == [(FRONT, NEXT)]


def test_a_contract_expiring_unrolled_hands_over_flat() -> None:
    chains, clock, rolled = book("volume")  # never out-traded
    shown = seen(chains, clock, range(71, 75))
    assert [close for _, _, close in shown] == [5071.0, 5072.0, 5093.0, 5094.0]
    assert rolled == []  # settled at expiry by the venue, nothing carried
