"""Instrument definitions from YAML, with errors that name the line of the file."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from quantdesk.domain.errors import InvalidInputError, SourceReadError
from quantdesk.domain.instruments import InstrumentSpec


def load_instrument_specs(path: Path) -> list[InstrumentSpec]:
    """A YAML file holding one mapping or a list of mappings (or ``instruments: [...]``)."""
    try:
        text = path.read_text()
        root = yaml.compose(text)
    except OSError as error:
        raise SourceReadError(f"{path}: cannot be read: {error}") from error
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path}: not UTF-8 text ({error.reason})") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path}: not valid YAML: {error}") from error
    if root is None:
        raise InvalidInputError(f"{path}: empty file", hint="see examples/instruments/")
    nodes = _instrument_nodes(root, path)
    if not nodes:
        raise InvalidInputError(f"{path}: defines no instruments", hint="see examples/instruments/")
    specs = []
    for node in nodes:
        try:
            data: Any = yaml.safe_load(yaml.serialize(node))
        except yaml.YAMLError as error:
            raise InvalidInputError(f"{path} line {node.start_mark.line + 1}: {error}") from error
        try:
            specs.append(InstrumentSpec.model_validate(data))
        except ValidationError as error:
            raise InvalidInputError(
                f"{path} line {_line_of(node, error)}: {_first_error(error)}",
                hint="see `quantdesk instruments add --help` and examples/instruments/",
            ) from error
    return specs


def _instrument_nodes(root: yaml.Node, path: Path) -> list[yaml.Node]:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "instruments" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
        return [root]
    if isinstance(root, yaml.SequenceNode):
        return list(root.value)
    raise InvalidInputError(
        f"{path} line {root.start_mark.line + 1}: expected a mapping or a list of mappings"
    )


def _line_of(node: yaml.Node, error: ValidationError) -> int:
    """The line of the offending key when there is one, else where the instrument starts."""
    location = error.errors()[0]["loc"]
    if isinstance(node, yaml.MappingNode) and location:
        for key, value in node.value:
            if key.value == location[0]:
                line: int = value.start_mark.line + 1
                return line
    start: int = node.start_mark.line + 1
    return start


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
