"""Strategy definitions from YAML or JSON files, with errors that name the file's line."""

from pathlib import Path

from quantdesk.domain.documents import DocumentLimitError
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import InvalidDefinitionError, parse_definition
from quantdesk.services.ports.documents import DocumentReader

_HINT = "see `quantdesk strategy schema FAMILY` and examples/strategies/"


def load_definition(path: Path, reader: DocumentReader) -> StrategyDefinition:
    """One definition per file, read within the document limits, so lines are known."""
    try:
        document = reader.read_file(path)
    except DocumentLimitError:
        raise
    except InvalidInputError as error:  # not YAML/JSON at all: say where definitions are shown
        raise InvalidInputError(error.message, hint=error.hint or _HINT) from error
    if document.data is None:
        raise InvalidInputError(f"{path}: empty file", hint=_HINT)
    if not isinstance(document.data, dict):
        raise InvalidInputError(
            f"{path} line {document.line_of(())}: expected a mapping of definition fields",
            hint=_HINT,
        )
    try:
        return parse_definition(document.data)
    except InvalidDefinitionError as error:
        lines = [
            f"{path} line {document.line_of(problem.location)}: {problem}"
            for problem in error.problems
        ]
        raise InvalidInputError("\n".join(lines), hint=_HINT) from error
