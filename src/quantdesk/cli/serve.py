"""``quantdesk serve``: the network service (REST + WebSocket) on uvicorn.

The command checks its options, creates the first admin (its one-time password printed
here, once, before any worker starts) and hands over to the composition root's ``serve``,
which runs uvicorn on the ``quantdesk.bootstrap:service_app`` factory: each of ``--workers``
processes builds its own app from the environment (the home travels as QUANTDESK_HOME).
"""

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from quantdesk.cli.context import HOME_VARIABLE
from quantdesk.cli.errors import reported_failures


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1


Serve = Callable[[ServeOptions], None]


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds only this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def add_serve_command(app: typer.Typer, out: Console, err: Console, serve: Serve) -> None:
    @app.command("serve")
    def serve_command(
        ctx: typer.Context,
        host: Annotated[
            str, typer.Option(help="interface to bind; anything but loopback is reachable")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, max=64, help="server processes (uvicorn workers)")
        ] = 1,
    ) -> None:
        """Run the HTTP service: REST under /api/v1, WebSocket /api/v1/ws, docs /api/v1/docs."""
        with reported_failures(err):
            if not is_loopback(host):
                err.print(
                    f"[bold yellow]warning:[/] binding {escape(host)}: the service is "
                    "reachable from other machines; put TLS in front of it (a reverse proxy) "
                    "and restrict the network",
                    highlight=False,
                )
            platform = ctx.obj.platform  # migrations run here once, before the workers
            password = platform.service.auth.ensure_admin()
            if password is not None:  # on stderr, with the warnings: not in piped output
                err.print(
                    "Created the user 'admin' with the one-time password:\n\n"
                    f"    {escape(password)}\n\n"
                    "It is shown only now: log in and change it.",
                    highlight=False,
                )
            os.environ[HOME_VARIABLE] = str(platform.home)  # the workers read it
            out.print(
                f"quantdesk serving on http://{escape(host)}:{port}/api/v1 ({workers} worker(s))"
            )
            serve(ServeOptions(host=host, port=port, workers=workers))
