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

import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from quantdesk.adapters.sources.document_checks import DocumentChecks, too_large
from quantdesk.adapters.sources.json_documents import JsonDocument
from quantdesk.domain.documents import DEFAULT_LIMITS, DocumentLimits
from quantdesk.domain.errors import InvalidInputError, QuantdeskError, SourceReadError
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


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


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
            raise too_large(name, limits)
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
                raise too_large(name, limits)
        text = text.removeprefix("\ufeff")
        document = JsonDocument(text, name, limits).read()  # valid JSON means what JSON says
        return _read_yaml(text, name, limits) if document is None else document


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    """PyYAML's safe loader with every bound checked while the node graph is composed."""

    def __init__(self, text: str, checks: DocumentChecks) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.checks = checks
        self.limits = checks.limits
        self.depth = 0
        self.nodes = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # never None inside a document
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self.checks.refuse(
                    "too_many_aliases", line, f"more than {self.limits.max_aliases} aliases"
                )
            return super().compose_node(parent, index)
        is_key = isinstance(parent, MappingNode) and index is None  # how Composer calls it
        self.nodes += 0 if is_key and isinstance(event, ScalarEvent) else 1  # values, as JSON
        if self.nodes > self.limits.max_nodes:
            raise self.checks.too_many_nodes(line)
        if not isinstance(event, CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= self.limits.max_depth:
            raise self.checks.too_deep(line)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        event: Any = self.peek_event()
        self.checks.check_scalar(event.value, event.start_mark.line + 1, plain=event.implicit[0])
        return super().compose_scalar_node(anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[object, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue  # a merge's keys may be overridden: that is what merging is for
            line = key.start_mark.line + 1
            # keys that would collide in the dict: 'a' and "a", but also 1, 0x1 and true
            identity = key.value if key.tag == _STR_TAG else self.construct_object(key)
            if not isinstance(identity, Hashable):
                continue  # construction refuses it, with its line
            first = seen.get(identity)
            if first is not None:
                raise self.checks.duplicate_key(key.value, line, first)
            seen[identity] = line
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, QuantdeskError):
            raise
        except Exception as error:  # PyYAML's own slips on odd scalars: a date 2020-02-30,
            # an empty !!timestamp (AttributeError): the user's value, not our bug
            shown = node.value if isinstance(node, ScalarNode) else type(node).__name__
            raise ConstructorError(
                None, None, f"cannot read {shown!r} as {node.tag}: {error}", node.start_mark
            ) from error

    def construct_bounded_int(self, node: ScalarNode) -> int:
        value = SafeConstructor.construct_yaml_int(self, node)
        if len(str(abs(value))) > self.limits.max_number_chars:  # sexagesimal, hex: few chars
            raise self.checks.refuse(
                "number_too_long",
                node.start_mark.line + 1,
                f"the number {node.value} has more than {self.limits.max_number_chars} digits",
            )
        return value

    def construct_bounded_float(self, node: ScalarNode) -> float:
        value = SafeConstructor.construct_yaml_float(self, node)
        if not math.isfinite(value):
            raise self.checks.not_finite(node.value, node.start_mark.line + 1)
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_bounded_int)  # type: ignore[type-var]
_Loader.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:float", _Loader.construct_bounded_float
)


def _read_yaml(text: str, name: str, limits: DocumentLimits) -> Document:
    checks = DocumentChecks(name, limits)
    loader = _Loader(text, checks)
    try:
        root = loader.get_single_node()
        if root is None:
            return Document(name, None, {(): 1})
        _check_expansion(root, checks)
        data = loader.construct_document(root)
        return Document(name, data, _node_lines(loader, root))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = "" if mark is None else f" line {mark.line + 1}"
        problem = ", ".join(part for part in (error.context, error.problem) if part)
        raise InvalidInputError(f"{name}{where}: not valid YAML or JSON: {problem}") from error
    except ReaderError as error:  # libyaml counts bytes
        line = text.encode("utf-8")[: error.position].count(b"\n") + 1
        raise InvalidInputError(
            f"{name} line {line}: not valid YAML or JSON: character #x{error.character:04x}:"
            f" {error.reason}"
        ) from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{name}: not valid YAML or JSON: {error}") from error
    finally:
        loader.dispose()


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):  # a scalar key is no value of its own (as in JSON)
        return [
            part
            for key, value in node.value
            for part in ((value,) if isinstance(key, ScalarNode) else (key, value))
        ]
    return []


def _check_expansion(root: Node, checks: DocumentChecks) -> None:
    """The node count and depth of the data once every alias is expanded, without expanding:
    each collection's (count, height) is computed once, from its children's, over the shared
    graph (a scalar is 1 and 0).
    """
    limits = checks.limits
    done: dict[int, tuple[int, int]] = {}
    open_: set[int] = set()  # the collections on the current path: meeting one is a cycle
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        if children is not None:  # every child is done: this collection's turn
            count, height = 1, 0
            for child in children:
                if isinstance(child, ScalarNode):
                    count += 1
                else:
                    child_count, child_height = done[id(child)]
                    count += child_count
                    height = max(height, child_height)
            line = node.start_mark.line + 1
            if count > limits.max_nodes:
                raise checks.too_many_nodes(line)
            if height + 1 > limits.max_depth:
                raise checks.too_deep(line)
            done[id(node)] = (count, height + 1)
            open_.discard(id(node))
            continue
        if isinstance(node, ScalarNode) or id(node) in done:
            continue
        children = _children(node)
        open_.add(id(node))
        stack.append((node, children))
        for child in children:
            if isinstance(child, ScalarNode) or id(child) in done:
                continue
            if id(child) in open_:
                raise checks.refuse(
                    "too_many_nodes",
                    child.start_mark.line + 1,
                    "an alias repeats a value that contains it: endless",
                )
            stack.append((child, None))


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
                key: object = None
                if isinstance(key_node, ScalarNode):
                    plain_text = key_node.tag == _STR_TAG
                    key = key_node.value if plain_text else loader.construct_object(key_node)
                if isinstance(key, str | int):
                    entries[key] = (key_node.start_mark.line + 1, value)
        for part, (line, child) in entries.items():
            lines[(*path, part)] = line
            stack.append(((*path, part), child))
    return lines
