"""Writes a family strategy's own source as a standalone module with the parameters fixed.

The family module's text is kept as written (its comments and docstrings are the reading
guide); only these change, each by splicing the original lines:

- imports: the module keeps the standard library, ``nautilus_trader``, ``msgspec`` and
  ``numpy``, and of quantdesk only ``quantdesk.strategies.base`` (the risk gate stays).
  Helpers from other ``quantdesk.strategies`` modules are copied in (only what is used).
  Names the family imports from ``quantdesk.domain`` come from the base's namespace when
  the base has them; the signal value types are taken from the base's ``AISignal``; the
  family's parameter model is dropped with the one call that re-checks the config against
  it (the registry checked these values when the version was registered).
- the config class: each parameter's default becomes the version's value, and the
  instruments, bar spec and signal types become defaults too.

Anything else the family imports is refused by name (the module could not stand alone).
"""

import ast
import importlib.util
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.ports.strategy_export import ExportedModule, ExportRequest

BASE = "quantdesk.strategies.base"
_INLINED_PACKAGE = "quantdesk.strategies."
_THIRD_PARTY = frozenset({"nautilus_trader", "msgspec", "numpy"})
_FAMILY_DATA = {"instrument_ids": "list[str]", "bar_spec": "str", "signal_types": "list[str]"}
_PARAMETER_MODELS = "quantdesk.domain.strategies.families"
_SIGNAL_VALUES = "quantdesk.domain.signals"
_DROPPED_CHECK = "# (parameter check against the registry's model dropped: see the header)"


@dataclass
class _Imports:
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
        stdlib = sorted(m for m in grouped if _root(m) in sys.stdlib_module_names)
        third = sorted(m for m in grouped if m not in stdlib and m != BASE)
        out = [f"import {name}" for name in sorted(p for p in plain if _is_stdlib(p))]
        out += [f"from {m} import {', '.join(sorted(grouped[m]))}" for m in stdlib]
        out.append("")
        out += [f"import {name}" for name in sorted(p for p in plain if not _is_stdlib(p))]
        out += [f"from {m} import {', '.join(sorted(grouped[m]))}" for m in third]
        if BASE in grouped:
            out += ["", f"from {BASE} import {', '.join(sorted(grouped[BASE]))}"]
        return [_wrapped(line) for line in out]


def _wrapped(line: str, width: int = 99) -> str:
    """``from m import a, b, c`` over several lines when it is too long for one."""
    if len(line) <= width or " import " not in line:
        return line
    head, names = line.split(" import ", 1)
    inner = "".join(f"    {name},\n" for name in names.split(", "))
    return f"{head} import (\n{inner})"


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _is_stdlib(name: str) -> bool:
    return _root(name.split(" ", 1)[0]) in sys.stdlib_module_names


@dataclass(frozen=True)
class _Source:
    module: str
    text: str
    tree: ast.Module

    @classmethod
    def load(cls, module: str) -> "_Source":
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise InvalidInputError(f"the source of module {module} cannot be found")
        text = Path(spec.origin).read_text(encoding="utf-8")
        return cls(module, text, ast.parse(text))

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based first line (decorators included) and end line (exclusive)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first - 1, node.end_lineno or node.lineno


def _used_names(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.update(_string_annotation_names(node.value))
    return names


def _string_annotation_names(text: str) -> set[str]:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _literal(value: Any, annotation: str) -> str:
    """A config value as Python source (decimals travel as canonical strings)."""
    if isinstance(value, str) and "Decimal" in annotation:
        return f'Decimal("{value}")'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # double quotes, as the family code
    return repr(value)


class NautilusStrategyExporter:
    """The ``StrategyExporter`` for the family modules in ``quantdesk.strategies``."""

    def export(self, request: ExportRequest) -> ExportedModule:
        module, strategy_class = request.spec.strategy_path.split(":")
        config_class = request.spec.config_path.split(":")[1]
        main = _Source.load(module)
        base_names = self._base_names()
        imports = _Imports()
        dropped: set[str] = set()
        value_types: set[str] = set()
        inlined: list[_Source] = []
        for node in main.tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._route(node, main, imports, base_names, dropped, value_types, inlined)
        body = self._body(main, dropped, config_class, request.spec.config)
        prelude = self._value_prelude(value_types, imports)
        helpers = self._helpers(inlined, body + "\n".join(prelude), imports)
        code = "\n".join([*prelude, *helpers, body])
        used = _used_names(code)
        for name, origin in (("msgspec", ("msgspec", None)), ("Decimal", ("decimal", "Decimal"))):
            if name in used and name not in imports.names:
                imports.names[name] = origin
        docstring = self._docstring(main)
        parts = [
            self._header(request, module),
            docstring,
            "\n".join(imports.lines(used)).strip("\n"),
            code.strip("\n"),
        ]
        source = "\n\n".join(p for p in parts if p) + "\n"
        self._check(source)
        return ExportedModule(
            source=source,
            strategy_path=f"{request.module}:{strategy_class}",
            config_path=f"{request.module}:{config_class}",
        )

    # imports ----------------------------------------------------------------------------------

    def _base_names(self) -> dict[str, tuple[str, str]]:
        """Names the base imports from quantdesk.domain: local name -> (module, name)."""
        base = _Source.load(BASE)
        names: dict[str, tuple[str, str]] = {}
        for node in base.tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quantdesk."):
                for alias in node.names:
                    names[alias.asname or alias.name] = (node.module or "", alias.name)
        return names

    def _route(
        self,
        node: ast.Import | ast.ImportFrom,
        source: _Source,
        imports: _Imports,
        base_names: Mapping[str, tuple[str, str]],
        dropped: set[str],
        value_types: set[str],
        inlined: list[_Source],
    ) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                if self._standalone(alias.name):
                    imports.names[local] = (alias.name, None)
                else:
                    imports.refused[local] = self._refusal(source.module, alias.name, alias.name)
            return
        module = node.module or ""
        if self._standalone(module) or module == BASE:
            imports.add(node)
            return
        if module.startswith(_INLINED_PACKAGE):
            if all(s.module != module for s in inlined):
                helper = _Source.load(module)
                for inner in helper.tree.body:
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        self._route(
                            inner, helper, imports, base_names, dropped, value_types, inlined
                        )
                inlined.append(helper)
            return
        for alias in node.names:
            local = alias.asname or alias.name
            if module == _PARAMETER_MODELS and alias.name.endswith("Parameters"):
                dropped.add(local)
            elif base_names.get(alias.name) == (module, alias.name) and alias.asname is None:
                imports.names[local] = (BASE, alias.name)
            elif module == _SIGNAL_VALUES and alias.name.endswith("Value"):
                value_types.add(local)
            else:
                imports.refused[local] = self._refusal(source.module, alias.name, module)

    def _standalone(self, module: str) -> bool:
        return _root(module) in sys.stdlib_module_names or _root(module) in _THIRD_PARTY

    def _refusal(self, module: str, name: str, origin: str) -> InvalidInputError:
        return InvalidInputError(
            f"family module {module} cannot be exported: it imports {name} from {origin}, "
            "which a standalone module cannot carry (only the standard library, "
            f"nautilus_trader, msgspec, numpy and {BASE})",
            hint="the family module's owner can take the name from the strategy base",
        )

    def _value_prelude(self, value_types: set[str], imports: _Imports) -> list[str]:
        if not value_types:
            return []
        imports.names["get_args"] = ("typing", "get_args")
        imports.names["AISignal"] = (BASE, "AISignal")
        lines = [
            "# The signal value types, as the base's AISignal declares them (this module imports",
            "# nothing of quantdesk but the strategy base).",
            "_SIGNAL_VALUES = {t.__name__: t for t in get_args("
            'AISignal.model_fields["value"].annotation)}',
        ]
        lines += [f'{name} = _SIGNAL_VALUES["{name}"]' for name in sorted(value_types)]
        return lines

    # the family's code --------------------------------------------------------------------

    def _docstring(self, source: _Source) -> str:
        first = source.tree.body[0] if source.tree.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            start, end = _span(first)
            return "\n".join(source.lines[start:end])
        return ""

    def _body(
        self, source: _Source, dropped: set[str], config_class: str, values: Mapping[str, Any]
    ) -> str:
        """The module's statements after its imports, with the splices of the docstring."""
        lines = list(source.lines)
        replaced: dict[int, list[str]] = {}  # first line -> new lines; the span is removed
        removed: set[int] = set()
        after: dict[int, list[str]] = {}  # line -> lines written after it (or its splice)

        def splice(start: int, end: int, new: list[str]) -> None:
            removed.update(range(start, end))
            replaced[start] = new

        body = source.tree.body
        skip_first = bool(body) and isinstance(body[0], ast.Expr)
        for node in body[1:] if skip_first else body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                splice(*_span(node), [])
        if skip_first:
            splice(*_span(body[0]), [])
        for item in ast.walk(source.tree):
            if isinstance(item, ast.Expr) and self._mentions(item, dropped):
                start, end = _span(item)
                indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
                splice(start, end, [indent + _DROPPED_CHECK])
            elif (
                isinstance(item, ast.stmt)
                and not isinstance(item, ast.Expr)
                and self._mentions_directly(item, dropped)
            ):
                raise InvalidInputError(
                    f"family module {source.module} cannot be exported: it uses its "
                    f"parameter model ({', '.join(sorted(dropped))}) beyond a check",
                    hint="the family module's owner can keep the model to one check call",
                )
        config = self._config_node(source, config_class)
        self._fix_defaults(config, source.text, values, splice, after)
        out: list[str] = []
        for number, line in enumerate(lines):
            if number in replaced:
                out.extend(replaced[number])
            if number not in removed:
                out.append(line)
            out.extend(after.get(number, []))
        return "\n".join(out).strip("\n") + "\n"

    def _mentions(self, node: ast.AST, names: set[str]) -> bool:
        return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))

    def _mentions_directly(self, node: ast.stmt, names: set[str]) -> bool:
        """Mentions outside nested statements (those are checked on their own)."""
        children = [
            c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt | ast.excepthandler)
        ]
        return any(self._mentions(c, names) for c in children)

    def _config_node(self, source: _Source, name: str) -> ast.ClassDef:
        for node in source.tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return node
        raise InvalidInputError(f"module {source.module} has no class {name}")

    def _fix_defaults(
        self,
        config: ast.ClassDef,
        text: str,
        values: Mapping[str, Any],
        splice: Any,
        after: dict[int, list[str]],
    ) -> None:
        """Each parameter's default is the version's value; the family data fields follow."""
        lines = text.splitlines()
        declared: set[str] = set()
        indent = "    "
        for node in config.body:
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            name = node.target.id
            if name not in values:
                continue
            declared.add(name)
            start, end = _span(node)
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            annotation = ast.get_source_segment(text, node.annotation) or "Any"
            literal = _literal(values[name], annotation)
            splice(start, end, [f"{indent}{name}: {annotation} = {literal}"])
        extra = [
            f"{indent}# the version's instruments, bar spec and signal types (FamilyConfig fields)"
        ]
        for name, annotation in _FAMILY_DATA.items():
            if name in declared or name not in values:
                continue
            value = values[name]
            if isinstance(value, list) and value:
                default = f"msgspec.field(default_factory=lambda: {json.dumps(value)})"
            else:
                default = _literal(value, annotation)
            extra.append(f"{indent}{name}: {annotation} = {default}")
        after[(config.end_lineno or config.lineno) - 1] = extra

    def _helpers(self, inlined: list[_Source], code: str, imports: _Imports) -> list[str]:
        """The statements of the inlined modules that the code uses (transitively)."""
        needed = _used_names(code)
        chosen: list[tuple[_Source, ast.stmt]] = []
        candidates = [
            (s, n)
            for s in inlined
            for n in s.tree.body
            if not isinstance(n, ast.Import | ast.ImportFrom) and _defined(n)
        ]
        changed = True
        while changed:
            changed = False
            for item in candidates:
                if item not in chosen and _defined(item[1]) & needed:
                    chosen.append(item)
                    start, end = _span(item[1])
                    needed |= _used_names("\n".join(item[0].lines[start:end]))
                    changed = True
        out: list[str] = []
        for source in inlined:
            kept = [n for s, n in chosen if s is source]
            if not kept:
                continue
            out.append(f"# --- copied from {source.module} (what this module uses) ---")
            for node in sorted(kept, key=lambda n: n.lineno):
                start, end = _span(node)
                end = self._with_doc(source, node, end)
                out.extend([*source.lines[start:end], "", ""])
        if "np" in needed and "np" not in imports.names:
            imports.names["np"] = ("numpy", None)
        return out

    def _with_doc(self, source: _Source, node: ast.stmt, end: int) -> int:
        """An assignment's docstring (the string statement right after it) comes along."""
        body = source.tree.body
        index = body.index(node)
        if index + 1 < len(body) and isinstance(node, ast.Assign | ast.AnnAssign):
            after = body[index + 1]
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                return after.end_lineno or end
        return end

    # the module -------------------------------------------------------------------------------

    def _header(self, request: ExportRequest, module: str) -> str:
        definition = request.definition
        counterpart = json.dumps(request.counterpart, indent=2, ensure_ascii=False)
        lines = [
            f"Exported by `quantdesk strategy export {definition.ref}` from {module}.",
            "",
            f"Source definition: {definition.ref} (family {definition.family.value}),",
            f"content sha256 {definition.content_hash}.",
            "",
            "This is the family's own code with that version's parameters fixed as the",
            "config's defaults. It imports nothing of quantdesk but quantdesk.strategies.base,",
            "so every order still goes through the risk gate. The registry checked the",
            "parameters when the version was registered; values you change here are checked",
            "only by what this module itself checks.",
            "",
            "To run it from the registry, put this file in a plug-in package (listed in",
            "QUANTDESK_PLUGIN_PACKAGES, on QUANTDESK_PLUGIN_PATHS) and register it as a",
            "custom strategy, e.g. with `quantdesk strategy add FILE` on this definition",
            f"(replace {request.module} by the module's import name):",
            "",
            *counterpart.splitlines(),
        ]
        return "\n".join(f"# {line}".rstrip() for line in lines)

    def _check(self, source: str) -> None:
        """The module compiles and imports nothing outside what it may."""
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names: Iterable[str] = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if not (self._standalone(name) or name == BASE):
                    raise InvalidInputError(f"the exported module would import {name}")
        compile(tree, "<export>", "exec")
