"""The engine's refusal reasons group by cause, not by the order they name."""

import pytest

from quantdesk.adapters.nautilus.recorder import reason_code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("no market for GBP/USD.SIM", "no market for GBP/USD.SIM"),
        ("NOTIONAL_EXCEEDS_FREE_BALANCE: free=10.00 USD", "NOTIONAL_EXCEEDS_FREE_BALANCE"),
        ("Exceeded MAX_ORDER_SUBMIT_RATE", "Exceeded MAX_ORDER_SUBMIT_RATE"),
        (
            "SHORT SELLING not permitted on a CASH account with position None and order "
            "MarketOrder(SELL 80 SYN01.SIM MARKET GTC, client_order_id=O-1)",
            "SHORT SELLING not permitted on a CASH account with position None and order "
            "MarketOrder",
        ),
        (
            "Contract X not yet active, activation 2024-01-01",
            "Contract X not yet active, activation #-#-#",
        ),
    ],
)
def test_reasons_lose_their_particulars(reason: str, code: str) -> None:
    assert reason_code(reason) == code
