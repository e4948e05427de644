"""Python source as text plus its syntax tree: what the strategy exporter splices.

The exporter keeps a module's own text (comments included), so it works on line spans of
statements rather than on regenerated code; these are the span, name and import helpers.
"""

import ast
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.domain.errors import InvalidInputError

BASE = "quantdesk.strategies.base"


@dataclass
class Imports:
    """Imported names of the module being written, by local name -> (module, original)."""

    names: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    refused: dict[str, InvalidInputError] = field(default_factory=dict)
    """Names the module could not carry: an error only if the written code uses them."""

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.names[alias.asname or alias.name] = (alias.name, None)
        else:
            for alias in node.names:
                self.names[alias.asname or alias.name] = (node.module or "", alias.name)

    def lines(self, used: set[str]) -> list[str]:
        for name in sorted(used & set(self.refused)):
            raise self.refused[name]
        plain: set[str] = set()
        grouped: dict[str, set[str]] = {}
        for local, (module, original) in self.names.items():
            if local not in used:
                continue
            if original is None:
                plain.add(module if local == module else f"{module} as {local}")
            else:
                grouped.setdefault(module, set()).add(
                    original if original == local else f"{original} as {local}"
                )
        stdlib = sorted(m for m in grouped if root(m) in sys.stdlib_module_names)
        third = sorted(m for m in grouped if m not in stdlib and m != BASE)
        out = [f"import {name}" for name in sorted(p for p in plain if is_stdlib(p))]
        out += [f"from {m} import {', '.join(sorted(grouped[m], key=_by_type))}" for m in stdlib]
        out.append("")
        out += [f"import {name}" for name in sorted(p for p in plain if not is_stdlib(p))]
        out += [f"from {m} import {', '.join(sorted(grouped[m], key=_by_type))}" for m in third]
        if BASE in grouped:
            out += ["", f"from {BASE} import {', '.join(sorted(grouped[BASE], key=_by_type))}"]
        return [wrapped(line) for line in out]


def _by_type(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (isort's order by type, as ruff sorts)."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def wrapped(line: str, width: int = 99) -> str:
    """``from m import a, b, c`` over several lines when it is too long for one."""
    if len(line) <= width or " import " not in line:
        return line
    head, names = line.split(" import ", 1)
    inner = "".join(f"    {name},\n" for name in names.split(", "))
    return f"{head} import (\n{inner})"


def root(module: str) -> str:
    return module.split(".", 1)[0]


def is_stdlib(name: str) -> bool:
    return root(name.split(" ", 1)[0]) in sys.stdlib_module_names


@dataclass(frozen=True)
class Source:
    module: str
    text: str
    tree: ast.Module

    @classmethod
    def load(cls, module: str) -> "Source":
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise InvalidInputError(f"the source of module {module} cannot be found")
        text = Path(spec.origin).read_text(encoding="utf-8")
        return cls(module, text, ast.parse(text))

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def span(node: ast.stmt) -> tuple[int, int]:
    """0-based first line (decorators included) and end line (exclusive)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first - 1, node.end_lineno or node.lineno


def used_names(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(string_annotation_names(node.value))
    return names


def string_annotation_names(text: str) -> set[str]:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def literal(value: Any, annotation: str) -> str:
    """A config value as Python source (decimals travel as canonical strings)."""
    if isinstance(value, str) and "Decimal" in annotation:
        return f'Decimal("{value}")'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # double quotes, as the family code
    return repr(value)
