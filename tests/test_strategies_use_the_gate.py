"""Property 34 by construction: no family strategy calls ``submit_order`` itself."""

import re
from pathlib import Path

STRATEGIES = Path(__file__).resolve().parents[1] / "src" / "quantdesk" / "strategies"


def test_only_the_base_class_submits_orders() -> None:
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(STRATEGIES.glob("*.py"))
        if path.name != "base.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\.submit_order(_list)?\(|close_all_positions\(|close_position\(", line)
    ]
    assert offenders == [], "orders must go through QuantdeskStrategy.submit (the risk gate)"
    base = (STRATEGIES / "base.py").read_text()
    assert base.count("self.submit_order(") == 1  # the one door, after the gate
