"""How the CLI reports a failure: message, hint, and an exit code a script can test."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from quantdesk.domain.errors import NothingValidError, QuantdeskError

EXIT_INVALID = 2
EXIT_NOTHING_VALID = 3


@contextmanager
def reported_failures(console: Console) -> Iterator[None]:
    try:
        yield
    except NothingValidError as error:
        _fail(console, error, EXIT_NOTHING_VALID)
    except QuantdeskError as error:
        _fail(console, error, EXIT_INVALID)


def _fail(console: Console, error: QuantdeskError, code: int) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
    if error.hint:
        console.print(f"[yellow]hint:[/] {escape(error.hint)}", highlight=False)
    raise typer.Exit(code)
