"""YAML and JSON documents read within ``DocumentLimits``: nothing unbounded runs before a check.

PyYAML alone is not safe on hostile input: a "billion laughs" document is small because its
aliases share nodes, but whatever walks the data afterwards (pydantic, canonical JSON) expands
them; deep nesting ends in ``RecursionError``; a 5,000-digit integer raises; duplicate keys let
the last one win. So the reader composes the node graph itself, event by event, checking as it
goes: size before parsing; nesting depth and node count as each node starts;
every alias counted; every scalar's length, and a number-like one (pydantic reads the string
``"1e999999"`` as a number too) by the digits it stands for; duplicate keys, with both lines.
Before anything is constructed, the *expanded* size and depth are computed over the shared
graph (memoised, nothing expanded), so alias bombs fail fast. JSON is read by ``loads_json``
(JSON's own rules: ``1e5`` is a number) and its lines found by a scan of its tokens.
"""

import contextlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    DocumentLimitError,
    DocumentLimits,
    loads_json,
)
from quantdesk.domain.errors import InvalidInputError, SourceReadError
from quantdesk.services.ports.documents import Document, Location

try:  # libyaml parses ~10x faster; composition and every check stay ours either way
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _PyParser.__init__(self)


HINT = "quantdesk reads documents within its input limits (README: Input limits)"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_DECIMAL = re.compile(
    r"[-+]?(?=\.?[0-9])(?P<int>[0-9][0-9_]*)?(?:\.(?P<frac>[0-9_]*))?(?:[eE](?P<exp>[-+]?[0-9]+))?"
)
_OTHER_NUMBER = re.compile(
    r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oObB]?[0-9_]+|[0-9][0-9_]*(?::[0-9_]+)+(?:\.[0-9_]*)?)"
)
_NOT_FINITE = re.compile(r"[-+]?\.?(?:inf|infinity|nan)", re.IGNORECASE)
_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+|\s+')


class BoundedDocumentReader:
    """``DocumentReader`` for YAML (1.1, PyYAML's safe subset) and JSON, within ``limits``."""

    def __init__(self, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits

    def read_file(self, path: Path) -> Document:
        try:
            with path.open("rb") as handle:  # one byte more than allowed is enough to refuse
                raw = handle.read(self.limits.max_bytes + 1)
        except OSError as error:
            raise SourceReadError(f"{path}: cannot be read: {error.strerror or error}") from error
        return self.read_text(raw, str(path))

    def read_text(self, text: str | bytes, name: str) -> Document:
        limits = self.limits
        if len(text) > limits.max_bytes:
            raise _too_large(name, limits)
        if isinstance(text, bytes):
            raw = text
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                line = raw.count(b"\n", 0, error.start) + 1
                raise InvalidInputError(
                    f"{name} line {line}: not UTF-8 text ({error.reason})"
                ) from error
        else:
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise InvalidInputError(f"{name}: not valid text ({error.reason})") from error
            if len(raw) > limits.max_bytes:
                raise _too_large(name, limits)
        text = text.removeprefix("\ufeff")
        if text.lstrip(" \t\r\n")[:1] in ("{", "["):
            document = _Json(text, name, limits).read()
            if document is not None:
                return document
        return _read_yaml(text, name, limits)


def _too_large(name: str, limits: DocumentLimits) -> DocumentLimitError:
    return DocumentLimitError(
        f"{name}: larger than {limits.max_bytes:,} bytes", reason="too_large", hint=HINT
    )


class _Scalars:
    """The checks on one scalar's text, shared by the YAML composer and the JSON scan."""

    def __init__(self, name: str, limits: DocumentLimits) -> None:
        self.name = name
        self.limits = limits

    def refuse(self, reason: str, line: int, what: str) -> DocumentLimitError:
        return DocumentLimitError(
            f"{self.name} line {line}: {what}", reason=reason, line=line, hint=HINT
        )

    def check(self, text: str, line: int, *, plain: bool) -> None:
        limits = self.limits
        if len(text) > limits.max_string_chars:
            raise self.refuse(
                "string_too_long",
                line,
                f"a text of {len(text):,} characters, more than {limits.max_string_chars:,}",
            )
        candidate = text.strip()
        decimal = _DECIMAL.fullmatch(candidate)
        if decimal is None and _OTHER_NUMBER.fullmatch(candidate) is None:
            if plain and _NOT_FINITE.fullmatch(candidate):
                raise self.not_finite(candidate, line)
            return
        if len(candidate) > limits.max_number_chars or (
            decimal is not None and _written_digits(decimal) > limits.max_number_chars
        ):
            shown = candidate if len(candidate) <= 24 else candidate[:20] + "..."
            raise self.refuse(
                "number_too_long",
                line,
                f"the number {shown} has more than {limits.max_number_chars} digits",
            )

    def not_finite(self, text: str, line: int) -> DocumentLimitError:
        return self.refuse("number_too_long", line, f"{text} is not a finite number")


def _written_digits(match: re.Match[str]) -> int:
    """How many digits the number takes written out in full (``1e6`` is 1000000: 7)."""
    whole = (match["int"] or "").replace("_", "")
    fraction = (match["frac"] or "").replace("_", "")
    exponent = match["exp"]
    if exponent is None:
        return len(whole) + len(fraction)
    shift = int(exponent) - len(fraction)  # the exponent is short: the whole text is bounded
    digits = len((whole + fraction).lstrip("0")) or 1
    return digits + shift if shift >= 0 else max(digits, -shift) + 1


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    """PyYAML's safe loader with every bound checked while the node graph is composed."""

    def __init__(self, text: str, scalars: _Scalars) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.scalars = scalars
        self.limits = scalars.limits
        self.depth = 0
        self.nodes = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # never None inside a document
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self.scalars.refuse(
                    "too_many_aliases", line, f"more than {self.limits.max_aliases} aliases"
                )
            return super().compose_node(parent, index)
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise _too_many_nodes(self.scalars, line)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= self.limits.max_depth:
            raise _too_deep(self.scalars, line)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        event: Any = self.peek_event()
        self.scalars.check(event.value, event.start_mark.line + 1, plain=event.implicit[0])
        return super().compose_scalar_node(anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue  # a merge's keys may be overridden: that is what merging is for
            line = key.start_mark.line + 1
            first = seen.get((key.tag, key.value))
            if first is not None:
                raise self.scalars.refuse(
                    "duplicate_key", line, f"key {key.value!r} repeats the key on line {first}"
                )
            seen[(key.tag, key.value)] = line
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as error:  # e.g. a date 2020-02-30
            raise ConstructorError(
                None, None, f"cannot read {node.value!r} as {node.tag}: {error}", node.start_mark
            ) from error

    def construct_bounded_int(self, node: ScalarNode) -> int:
        value = SafeConstructor.construct_yaml_int(self, node)
        if len(str(abs(value))) > self.limits.max_number_chars:  # sexagesimal, hex: few chars
            raise self.scalars.refuse(
                "number_too_long",
                node.start_mark.line + 1,
                f"the number {node.value} has more than {self.limits.max_number_chars} digits",
            )
        return value

    def construct_bounded_float(self, node: ScalarNode) -> float:
        value = SafeConstructor.construct_yaml_float(self, node)
        if not math.isfinite(value):
            raise self.scalars.not_finite(node.value, node.start_mark.line + 1)
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_bounded_int)  # type: ignore[type-var]
_Loader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:float", _Loader.construct_bounded_float
)


def _too_many_nodes(scalars: _Scalars, line: int) -> DocumentLimitError:
    return scalars.refuse(
        "too_many_nodes",
        line,
        f"more than {scalars.limits.max_nodes:,} values (an alias counts as all it repeats)",
    )


def _too_deep(scalars: _Scalars, line: int) -> DocumentLimitError:
    return scalars.refuse(
        "nesting_too_deep", line, f"nested more than {scalars.limits.max_depth} levels deep"
    )


def _read_yaml(text: str, name: str, limits: DocumentLimits) -> Document:
    scalars = _Scalars(name, limits)
    loader = _Loader(text, scalars)
    try:
        root = loader.get_single_node()
        if root is None:
            return Document(name, None, {(): 1})
        _check_expansion(root, scalars)
        data = loader.construct_document(root)
        return Document(name, data, _node_lines(loader, root))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = "" if mark is None else f" line {mark.line + 1}"
        problem = ", ".join(part for part in (error.context, error.problem) if part)
        raise InvalidInputError(f"{name}{where}: not valid YAML or JSON: {problem}") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{name}: not valid YAML or JSON: {error}") from error
    finally:
        loader.dispose()


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node, scalars: _Scalars) -> None:
    """The node count and depth of the data once every alias is expanded, without expanding:
    each node's (count, height) is computed once, from its children's, over the shared graph.
    """
    limits = scalars.limits
    done: dict[int, tuple[int, int]] = {}
    open_: set[int] = set()  # the nodes on the current path: meeting one again is a cycle
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        line = node.start_mark.line + 1
        children = _children(node)
        if children_done:
            count = 1 + sum(done[id(child)][0] for child in children)
            height = 0
            if isinstance(node, SequenceNode | MappingNode):
                height = 1 + max((done[id(child)][1] for child in children), default=0)
            if count > limits.max_nodes:
                raise _too_many_nodes(scalars, line)
            if height > limits.max_depth:
                raise _too_deep(scalars, line)
            done[id(node)] = (count, height)
            open_.discard(id(node))
            continue
        if id(node) in done:
            continue
        open_.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_:
                raise scalars.refuse(
                    "too_many_nodes", line, "an alias repeats a value that contains it: endless"
                )
            if id(child) not in done:
                stack.append((child, False))


def _node_lines(loader: _Loader, root: Node) -> dict[Location, int]:
    """The line of every location, as pydantic names them (keys and indexes)."""
    lines: dict[Location, int] = {(): root.start_mark.line + 1}
    stack: list[tuple[Location, Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        entries: dict[str | int, tuple[int, Node]] = {}
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                entries[index] = (item.start_mark.line + 1, item)
        elif isinstance(node, MappingNode):
            for key_node, value in node.value:  # merged entries first: the explicit ones win
                key = (
                    loader.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
                )
                if isinstance(key, str | int):
                    entries[key] = (key_node.start_mark.line + 1, value)
        for part, (line, child) in entries.items():
            lines[(*path, part)] = line
            stack.append(((*path, part), child))
    return lines


@dataclass
class _Frame:
    path: Location
    is_object: bool
    index: int = 0
    key: str = ""
    expect_key: bool = True
    keys: dict[str, int] = field(default_factory=dict)


class _Json:
    """A JSON document: ``loads_json`` reads it, a scan of its tokens finds each value's line."""

    def __init__(self, text: str, name: str, limits: DocumentLimits) -> None:
        self.text = text
        self.name = name
        self.scalars = _Scalars(name, limits)

    def read(self) -> Document | None:
        """The document, or None when the text is not JSON (it may be YAML's flow style)."""
        try:
            data = loads_json(self.text, self.scalars.limits)
        except DocumentLimitError as error:
            if error.reason == "not_json":
                return None
            with contextlib.suppress(ValueError, IndexError):
                self._scan()  # the same problem again, with its line (both, for a duplicate)
            raise DocumentLimitError(
                f"{self.name}: {error.message}",
                reason=error.reason,
                line=error.line,
                hint=error.hint or HINT,
            ) from error
        return Document(self.name, data, self._scan())

    def _scan(self) -> dict[Location, int]:
        """Each value's line; the scalar, depth and node checks the YAML reader makes too."""
        limits = self.scalars.limits
        lines: dict[Location, int] = {}
        frames: list[_Frame] = []
        line, nodes = 1, 0
        for match in _JSON_TOKEN.finditer(self.text):
            token = match.group()
            top = frames[-1] if frames else None
            if token[0] in " \t\r\n":
                line += token.count("\n")
            elif token == ",":
                if top is not None and top.is_object:
                    top.expect_key = True
                elif top is not None:
                    top.index += 1
            elif token == ":":
                if top is not None:
                    top.expect_key = False
            elif token in "}]":
                frames.pop()
            elif top is not None and top.is_object and top.expect_key:
                key = json.loads(token)
                self.scalars.check(key, line, plain=False)
                first = top.keys.get(key)
                if first is not None:
                    raise self.scalars.refuse(
                        "duplicate_key", line, f"key {key!r} repeats the key on line {first}"
                    )
                top.keys[key] = top.keys.get(key, line)
                top.key = key
                lines[(*top.path, key)] = line
            else:
                nodes += 1
                if nodes > limits.max_nodes:
                    raise _too_many_nodes(self.scalars, line)
                if top is None:
                    path: Location = ()
                else:
                    path = (*top.path, top.key if top.is_object else top.index)
                if top is None or not top.is_object:
                    lines[path] = line
                if token in "{[":
                    if len(frames) >= limits.max_depth:
                        raise _too_deep(self.scalars, line)
                    frames.append(_Frame(path, token == "{"))
                elif token[0] == '"':
                    self.scalars.check(json.loads(token), line, plain=False)
                else:
                    self.scalars.check(token, line, plain=True)
        return lines
