"""``quantdesk strategy export``: a family version as a Python module a developer takes over."""

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from quantdesk.cli.errors import reported_failures
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.strategy_export import MODULE_PLACEHOLDER, export_definition


def add_export_command(strategy: typer.Typer, out: Console, err: Console) -> None:
    @strategy.command("export")
    def export(
        ctx: typer.Context,
        ref: Annotated[str, typer.Argument(help="ID, ID@VERSION or ID@TAG (a family version)")],
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="file to write (default: stdout)", show_default=False),
        ] = None,
        module: Annotated[
            str | None,
            typer.Option(
                help="the module's import name, for the custom definition in its header "
                f"(default: {MODULE_PLACEHOLDER.rsplit('.', 1)[0]}.FILE_STEM)",
                show_default=False,
            ),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="overwrite FILE")] = False,
    ) -> None:
        """Write a family version as a standalone, commented strategy module.

        The family's own code with the version's parameters fixed as its config's defaults;
        its header names the source version and the custom definition that registers it back.
        """
        with reported_failures(err):
            if module is None and out_file is not None:
                package = MODULE_PLACEHOLDER.rsplit(".", 1)[0]
                module = f"{package}.{out_file.stem}" if out_file.stem.isidentifier() else None
            if out_file is not None and out_file.exists() and not force:
                raise InvalidInputError(
                    f"{out_file} exists: an exported module is meant to be edited by hand",
                    hint="choose another --out FILE, or add --force to overwrite it",
                )
            platform = ctx.obj.platform
            stored = platform.registry.resolve(ref)
            exported = export_definition(stored.definition, platform.exporter, module)
            if out_file is None:
                sys.stdout.write(exported.source)
                return
            try:
                out_file.write_text(exported.source, encoding="utf-8")
            except OSError as error:
                raise InvalidInputError(
                    f"cannot write {out_file}: {error.strerror or error}"
                ) from None
            out.print(
                f"{stored.ref}: written to {out_file} (strategy {exported.strategy_path})",
                soft_wrap=True,
                highlight=False,
            )
