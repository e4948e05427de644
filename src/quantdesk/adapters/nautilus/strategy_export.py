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
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from quantdesk.adapters.nautilus.export_source import (
    BASE,
    Imports,
    Source,
    defined,
    literal,
    root,
    span,
    used_names,
)
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.ports.strategy_export import ExportedModule, ExportRequest

_INLINED_PACKAGE = "quantdesk.strategies."
_WIDTH = 99
_THIRD_PARTY = frozenset({"nautilus_trader", "msgspec", "numpy"})
_FAMILY_DATA = {"instrument_ids": "list[str]", "bar_spec": "str", "signal_types": "list[str]"}
_PARAMETER_MODELS = "quantdesk.domain.strategies.families"
_SIGNAL_VALUES = "quantdesk.domain.signals"
_DROPPED_CHECK = "# (parameter check against the registry's model dropped: see the header)"


def _lines_after_imports(code: str) -> int:
    """Newlines after the imports: two blank lines before a class or function (comments
    attached to it included), one before anything else (isort's and ruff's default)."""
    lines = code.splitlines()
    index = 0
    while index < len(lines) and lines[index].startswith("#"):
        index += 1
    first = lines[index] if index < len(lines) else ""
    starts_definition = first.startswith(("class ", "def ", "async def ", "@"))
    return 3 if starts_definition else 2


class NautilusStrategyExporter:
    """The ``StrategyExporter`` for the family modules in ``quantdesk.strategies``."""

    def export(self, request: ExportRequest) -> ExportedModule:
        module, strategy_class = request.spec.strategy_path.split(":")
        config_class = request.spec.config_path.split(":")[1]
        main = Source.load(module)
        base_names = self._base_names()
        imports = Imports()
        dropped: set[str] = set()
        value_types: set[str] = set()
        inlined: list[Source] = []
        for node in main.tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._route(node, main, imports, base_names, dropped, value_types, inlined)
        body = self._body(main, dropped, config_class, request.spec.config)
        prelude = self._value_prelude(value_types, imports)
        helpers = self._helpers(inlined, body + "\n".join(prelude), imports)
        code = "\n".join([*prelude, *helpers, body])
        used = used_names(code)
        for name, origin in (("msgspec", ("msgspec", None)), ("Decimal", ("decimal", "Decimal"))):
            if name in used and name not in imports.names:
                imports.names[name] = origin
        docstring = self._docstring(main)
        head = [self._header(request, module), docstring, "\n".join(imports.lines(used))]
        # one blank line between header, docstring and imports, then as isort spaces them
        source = "\n\n".join(p.strip("\n") for p in head if p)
        source += "\n" * _lines_after_imports(code.strip("\n")) + code.strip("\n") + "\n"
        self._check(source)
        return ExportedModule(
            source=source,
            strategy_path=f"{request.module}:{strategy_class}",
            config_path=f"{request.module}:{config_class}",
        )

    # imports ----------------------------------------------------------------------------------

    def _base_names(self) -> dict[str, tuple[str, str]]:
        """Names the base imports from quantdesk.domain: local name -> (module, name)."""
        base = Source.load(BASE)
        names: dict[str, tuple[str, str]] = {}
        for node in base.tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quantdesk."):
                for alias in node.names:
                    names[alias.asname or alias.name] = (node.module or "", alias.name)
        return names

    def _route(
        self,
        node: ast.Import | ast.ImportFrom,
        source: Source,
        imports: Imports,
        base_names: Mapping[str, tuple[str, str]],
        dropped: set[str],
        value_types: set[str],
        inlined: list[Source],
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
                helper = Source.load(module)
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
        return root(module) in sys.stdlib_module_names or root(module) in _THIRD_PARTY

    def _refusal(self, module: str, name: str, origin: str) -> InvalidInputError:
        return InvalidInputError(
            f"family module {module} cannot be exported: it imports {name} from {origin}, "
            "which a standalone module cannot carry (only the standard library, "
            f"nautilus_trader, msgspec, numpy and {BASE})",
            hint="the family module's owner can take the name from the strategy base",
        )

    def _value_prelude(self, value_types: set[str], imports: Imports) -> list[str]:
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

    def _docstring(self, source: Source) -> str:
        first = source.tree.body[0] if source.tree.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            start, end = span(first)
            return "\n".join(source.lines[start:end])
        return ""

    def _body(
        self, source: Source, dropped: set[str], config_class: str, values: Mapping[str, Any]
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
                splice(*span(node), [])
        if skip_first:
            splice(*span(body[0]), [])
        for item in ast.walk(source.tree):
            if isinstance(item, ast.Expr) and self._mentions(item, dropped):
                start, end = span(item)
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

    def _config_node(self, source: Source, name: str) -> ast.ClassDef:
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
            start, end = span(node)
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            annotation = ast.get_source_segment(text, node.annotation) or "Any"
            written = literal(values[name], annotation)
            splice(start, end, [f"{indent}{name}: {annotation} = {written}"])
        extra = [
            f"{indent}# the version's instruments, bar spec and signal types (FamilyConfig fields)"
        ]
        for name, annotation in _FAMILY_DATA.items():
            if name in declared or name not in values:
                continue
            value = values[name]
            if not (isinstance(value, list) and value):
                extra.append(f"{indent}{name}: {annotation} = {literal(value, annotation)}")
                continue
            line = f"{indent}{name}: {annotation} = msgspec.field(default_factory=lambda: "
            line += f"{json.dumps(value, ensure_ascii=False)})"
            if len(line) <= _WIDTH:
                extra.append(line)
                continue
            extra.append(f"{indent}{name}: {annotation} = msgspec.field(")
            extra.append(f"{indent}    default_factory=lambda: [")
            extra += [f"{indent}        {json.dumps(v, ensure_ascii=False)}," for v in value]
            extra += [f"{indent}    ]", f"{indent})"]
        after[(config.end_lineno or config.lineno) - 1] = extra

    def _helpers(self, inlined: list[Source], code: str, imports: Imports) -> list[str]:
        """The statements of the inlined modules that the code uses (transitively)."""
        needed = used_names(code)
        chosen: list[tuple[Source, ast.stmt]] = []
        candidates = [
            (s, n)
            for s in inlined
            for n in s.tree.body
            if not isinstance(n, ast.Import | ast.ImportFrom) and defined(n)
        ]
        changed = True
        while changed:
            changed = False
            for item in candidates:
                if item not in chosen and defined(item[1]) & needed:
                    chosen.append(item)
                    start, end = span(item[1])
                    needed |= used_names("\n".join(item[0].lines[start:end]))
                    changed = True
        out: list[str] = []
        for source in inlined:
            kept = [n for s, n in chosen if s is source]
            if not kept:
                continue
            out += ["", f"# --- copied from {source.module} (what this module uses) ---"]
            for node in sorted(kept, key=lambda n: n.lineno):
                start, end = span(node)
                end = self._with_doc(source, node, end)
                out.extend([*source.lines[start:end], "", ""])
        if "np" in needed and "np" not in imports.names:
            imports.names["np"] = ("numpy", None)
        return out

    def _with_doc(self, source: Source, node: ast.stmt, end: int) -> int:
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
            f"Exported by `quantdesk strategy export {definition.ref}`",
            f"from the family module {module}.",
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
