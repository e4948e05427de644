"""Static check that a strategy class places no order past the risk gate (issue 13 item 6).

Run in the plug-in child (the class is imported there, never in the desk): the source of the
class and of each base up to ``QuantdeskStrategy`` is parsed and every call of an order
method of NautilusTrader's ``Strategy`` is named with its file and line. ``self.submit`` is
the one door (the gate decides, then the base submits); cancelling is not refused: it only
ever reduces what is at risk (the base's own ``flatten`` cancels).
"""

import ast
import inspect
import textwrap
from typing import Final

BYPASS_METHODS: Final = frozenset(
    {
        "submit_order",
        "submit_order_list",
        "modify_order",
        "close_position",
        "close_all_positions",
    }
)


def bypasses(cls: type, stop: type) -> list[str]:
    """``file:line: calls NAME`` for each call (or ``getattr`` by name) of an order method in
    ``cls`` and its bases below ``stop``; a class whose source cannot be read is named too."""
    found: list[str] = []
    for klass in cls.__mro__:
        if klass is stop or issubclass(stop, klass):
            continue  # the quantdesk base and what it stands on are trusted
        try:
            lines, first = inspect.getsourcelines(klass)
            path = inspect.getsourcefile(klass) or "?"
        except (OSError, TypeError):
            found.append(f"{klass.__module__}.{klass.__qualname__}: its source cannot be read")
            continue
        tree = ast.parse(textwrap.dedent("".join(lines)))
        for node in ast.walk(tree):
            name = _called(node)
            if name is not None:
                line = first + getattr(node, "lineno", 1) - 1
                found.append(f"{path}:{line}: {klass.__qualname__} calls {name}")
    return found


def _called(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in BYPASS_METHODS:
        return node.attr  # self.submit_order(...), Strategy.submit_order, super()...
    if isinstance(node, ast.Constant) and node.value in BYPASS_METHODS:
        return f"{node.value} (by name)"  # getattr(self, "submit_order")
    return None
