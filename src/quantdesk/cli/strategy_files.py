"""Strategy definitions from YAML or JSON files, with errors that name the file's line."""

from pathlib import Path
from typing import Any

import yaml

from quantdesk.domain.errors import InvalidInputError, SourceReadError
from quantdesk.domain.strategy_definitions import (
    InvalidDefinitionError,
    StrategyDefinition,
    parse_definition,
)

_HINT = "see `quantdesk strategy schema FAMILY` and examples/strategies/"


def load_definition(path: Path) -> StrategyDefinition:
    """One definition per file; JSON is read as the YAML subset it is, so lines are known."""
    try:
        text = path.read_text()
        root = yaml.compose(text)
    except OSError as error:
        raise SourceReadError(f"{path}: cannot be read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path}: not UTF-8 text ({error.reason})") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path}: not valid YAML or JSON: {error}", hint=_HINT) from error
    if root is None:
        raise InvalidInputError(f"{path}: empty file", hint=_HINT)
    if not isinstance(root, yaml.MappingNode):
        raise InvalidInputError(
            f"{path} line {root.start_mark.line + 1}: expected a mapping of definition fields",
            hint=_HINT,
        )
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path}: {error}", hint=_HINT) from error
    try:
        return parse_definition(data)
    except InvalidDefinitionError as error:
        lines = [
            f"{path} line {_line_of(root, problem.location)}: {problem}"
            for problem in error.problems
        ]
        raise InvalidInputError("\n".join(lines), hint=_HINT) from error


def _line_of(root: yaml.Node, location: tuple[str | int, ...]) -> int:
    """The line of the deepest node on the path that the file has (the key, for a mapping)."""
    node, line = root, root.start_mark.line + 1
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
