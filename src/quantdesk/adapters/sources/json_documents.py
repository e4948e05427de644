"""JSON documents: ``loads_json`` reads them (JSON's own rules: ``1e5`` is a number), and a
scan of the tokens finds each value's line and makes the checks the YAML reader makes.
"""

import contextlib
import json
import re
from dataclasses import dataclass, field

from quantdesk.adapters.sources.document_checks import HINT, DocumentChecks
from quantdesk.domain.documents import DocumentLimitError, DocumentLimits, loads_json
from quantdesk.services.ports.documents import Document, Location

_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+|\s+')


@dataclass
class _Frame:
    path: Location
    is_object: bool
    index: int = 0
    key: str = ""
    expect_key: bool = True
    keys: dict[str, int] = field(default_factory=dict)


class JsonDocument:
    """A JSON document: ``loads_json`` reads it, a scan of its tokens finds each value's line."""

    def __init__(self, text: str, name: str, limits: DocumentLimits) -> None:
        self.text = text
        self.name = name
        self.checks = DocumentChecks(name, limits)

    def read(self) -> Document | None:
        """The document, or None when the text is not JSON (it may be YAML's flow style)."""
        try:
            data = loads_json(self.text, self.checks.limits)
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
        limits = self.checks.limits
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
                self.checks.check_scalar(key, line, plain=False)
                first = top.keys.get(key)
                if first is not None:
                    raise self.checks.duplicate_key(key, line, first)
                top.keys[key] = top.keys.get(key, line)
                top.key = key
                lines[(*top.path, key)] = line
            else:
                nodes += 1
                if nodes > limits.max_nodes:
                    raise self.checks.too_many_nodes(line)
                if top is None:
                    path: Location = ()
                else:
                    path = (*top.path, top.key if top.is_object else top.index)
                if top is None or not top.is_object:
                    lines[path] = line
                if token in "{[":
                    if len(frames) >= limits.max_depth:
                        raise self.checks.too_deep(line)
                    frames.append(_Frame(path, token == "{"))
                elif token[0] == '"':
                    self.checks.check_scalar(json.loads(token), line, plain=False)
                else:
                    self.checks.check_scalar(token, line, plain=True)
        return lines
